"""Transcripts as people save them: in every encoding and line end, with timings written backwards, out of
order, overlapping or without cue numbers, with tags, entities and control characters, or with nothing in them.
Each is read into passages whose times a citation can carry, or refused naming the transcript and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.inputs import expand_paths
from llama_index_mmrag.parsing.media import parse_media_file
from llama_index_mmrag.schema import clean_text
from tests.support.deadline import deadline
from tests.support.media import STANDUP_CUES, make_silent_wav, srt_text


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(30):
        yield

SRT = srt_text(STANDUP_CUES).replace("budget", "café budget")
VTT = "WEBVTT\n\n" + SRT.replace(",", ".")
TXT = "[0:05] The café budget for the spring quarter stays flat.\n[1:05] We will hire two platform engineers in April.\n"
ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with BOM": lambda text: text.encode("utf-8-sig"),
    "utf-16 with BOM": lambda text: text.encode("utf-16"),
    "utf-16-le without BOM": lambda text: text.encode("utf-16-le"),
    "utf-16-be without BOM": lambda text: text.encode("utf-16-be"),
    "latin-1": lambda text: text.encode("latin-1"),
    "cp1252": lambda text: text.encode("cp1252"),
    "CRLF": lambda text: text.replace("\n", "\r\n").encode("utf-8"),
    "CR only": lambda text: text.replace("\n", "\r").encode("utf-8"),
}


def _parse(folder: Path, transcript_name: str, content: bytes, duration_s: float = 75.0) -> list[dict]:
    recording = make_silent_wav(folder / "standup.wav", duration_s)
    (folder / transcript_name).write_bytes(content)
    return parse_media_file(recording, folder / "out")


def _assert_citable(items: list[dict], duration_s: float = 75.0) -> None:
    """Every passage has a time span inside the recording's reach, and text free of control characters."""
    assert items
    for item in items:
        assert 0.0 <= item["start_s"] <= item["end_s"], item
        assert item["text"] == clean_text(item["text"]) and item["text"].strip(), item


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("suffix", "text"), [(".srt", SRT), (".vtt", VTT), (".txt", TXT)])
def test_a_transcript_in_any_encoding_or_line_end_is_read(tmp_path: Path, encoding: str, suffix: str, text: str) -> None:
    items = _parse(tmp_path, f"standup{suffix}", ENCODINGS[encoding](text))
    assert [item["start_s"] for item in items] == [5.0, 65.0]
    assert "café budget" in items[0]["text"] and "platform engineers" in items[1]["text"]
    _assert_citable(items)


CUE = "1\n{start} --> {end}\n{text}\n\n"
MALFORMED = {
    "written backwards": (".srt", CUE.format(start="00:00:09,000", end="00:00:05,000", text="Backwards.")),
    "out of order": (".srt", CUE.format(start="00:01:05,000", end="00:01:09,000", text="Later.")
                     + CUE.format(start="00:00:05,000", end="00:00:09,000", text="Earlier.")),
    "overlapping": (".srt", CUE.format(start="00:00:05,000", end="00:00:50,000", text="Long.")
                    + CUE.format(start="00:00:10,000", end="00:00:12,000", text="Inside.")),
    "no cue numbers": (".srt", "00:00:05,000 --> 00:00:09,000\nNo number.\n\n00:00:10,000 --> 00:00:12,000\nNone.\n"),
    "a broken cue among good ones": (".srt", CUE.format(start="00:00:05,000", end="garbage", text="Lost.")
                                     + CUE.format(start="00:00:10,000", end="00:00:12,000", text="Kept.")),
    "a negative time among good ones": (".srt", CUE.format(start="-00:00:01,000", end="00:00:05,000", text="Lost.")
                                        + CUE.format(start="00:00:10,000", end="00:00:12,000", text="Kept.")),
    "hours past 99": (".srt", CUE.format(start="999:00:05,000", end="999:00:09,000", text="Far away.")),
    "ASS tags and entities": (".srt", CUE.format(start="00:00:05,000", end="00:00:09,000", text="{\\an8}<i>Tom &amp; Ann</i>")),
    "control characters": (".srt", CUE.format(start="00:00:05,000", end="00:00:09,000", text="Bell\x07 and\x1b[31m escape")),
    "NUL in a text transcript": (".txt", "[0:05] Budget\x00 is flat.\n"),
    "text lines out of order": (".txt", "[1:05] Later.\n[0:05] Earlier.\n"),
    "text times past the end": (".txt", "[99:59:59] After the end.\n"),
    "WebVTT with a style block and voices": (".vtt", "WEBVTT\n\nSTYLE\n::cue { color: red }\n\n"
                                            "00:05.000 --> 00:09.000 line:0\n<v Ana>Short <b>stamps</b>.</v>\n"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_timings_and_text_give_passages_a_citation_can_carry(tmp_path: Path, case: str) -> None:
    suffix, text = MALFORMED[case]
    items = _parse(tmp_path, f"standup{suffix}", text.encode("utf-8"))
    _assert_citable(items)
    said = " ".join(item["text"] for item in items)
    assert "Lost" not in said and "{" not in said and "&amp;" not in said and "<" not in said


def test_text_lines_out_of_order_each_last_until_the_next_time_said(tmp_path: Path) -> None:
    suffix, text = MALFORMED["text lines out of order"]
    items = _parse(tmp_path, f"standup{suffix}", text.encode())
    assert [(i["start_s"], i["end_s"], i["text"]) for i in items] == [(5.0, 65.0, "Earlier."), (65.0, 75.0, "Later.")]


EMPTY = {
    "an empty SubRip file": ("standup.srt", b""),
    "an empty WebVTT file": ("standup.vtt", b""),
    "a WebVTT header and nothing else": ("standup.vtt", b"WEBVTT\n\n"),
    "blank lines": ("standup.txt", b"  \r\n\r\n\t\n"),
    "cues without text": ("standup.srt", b"1\n00:00:05,000 --> 00:00:09,000\n\n2\n00:00:10,000 --> 00:00:12,000\n\n"),
}


@pytest.mark.parametrize("case", EMPTY)
def test_a_transcript_with_nothing_said_is_named_in_the_refusal(tmp_path: Path, case: str) -> None:
    name, content = EMPTY[case]
    with pytest.raises(ParseError) as caught:
        _parse(tmp_path, name, content)
    assert caught.value.path.name == "standup.wav"
    assert f"its transcript {name} holds no cue with text" in caught.value.reason


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("standup.srt", bytes(range(256)) * 8, "not text in any encoding"),
        ("standup.srt", b"this is not\na subtitle file\n", "not a valid SubRip file"),
        ("standup.vtt", b"NOT A WEBVTT HEADER\n\n00:05.000 --> 00:09.000\nHi\n", "not a valid WebVTT file"),
    ],
)
def test_a_transcript_that_cannot_be_read_is_named_with_what_to_do(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    with pytest.raises(ParseError) as caught:
        _parse(tmp_path, name, content)
    assert caught.value.path.name == name and words in caught.value.reason
    assert "save it as UTF-8" in caught.value.reason or "remove it" in caught.value.reason


def test_a_folders_transcripts_are_read_with_their_recordings_not_listed_as_documents(tmp_path: Path) -> None:
    for name in ("talk.mp4", "talk.en.srt", "talk.fr.vtt", "talk.txt", "standup.wav", "standup.vtt", "notes.txt",
                 "orphan.srt", "talk.mp4.srt", "standup.txt.bak"):
        (tmp_path / name).write_bytes(b"x")
    listed = sorted(p.name for p in expand_paths(tmp_path))
    assert listed == ["notes.txt", "orphan.srt", "standup.txt.bak", "standup.wav", "talk.mp4"]
    assert [p.name for p in expand_paths(tmp_path / "talk.txt")] == ["talk.txt"]  # named on its own: a document
