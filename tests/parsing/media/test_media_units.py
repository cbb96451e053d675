"""The pieces of a recording's parse, each over the family of inputs it meets: transcript formats, cue grouping,
keyframe choice, time provenance and ids, and files that are not recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llama_index_mmrag.modalities.audio import Cue, group_cues
from llama_index_mmrag.modalities.video import KeyframePicker, KeyframePolicy
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.media import parse_media_file
from llama_index_mmrag.parsing.media.decode import subtitle_cues
from llama_index_mmrag.parsing.media.transcripts import find_transcript, read_transcript
from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
from llama_index_mmrag.graph.stored_chunks import graph_chunk
from llama_index_mmrag.schema.identity import (
    format_timestamp,
    graph_content,
    make_chunk_id,
    parse_provenance,
    parse_time_span,
)
from tests.support.media import STANDUP_CUES, make_silent_wav, make_talk_mp4, srt_text

VTT = """WEBVTT

NOTE written by hand

1
00:00:05.000 --> 00:00:09.000 align:start
<v Ana>The budget for the spring quarter <b>stays</b> flat.</v>

00:01:05.000 --> 00:01:10.500
We will hire two platform engineers in April.
"""


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("standup.srt", srt_text(STANDUP_CUES)),
        ("standup.vtt", VTT),
        ("standup.en.srt", "\ufeff" + srt_text(STANDUP_CUES).replace("\n", "\r\n")),  # BOM, CRLF, language tag
        ("standup.txt", "[00:05] The budget for the spring quarter stays flat.\n1:05 - We will hire two platform\nengineers in April.\n"),
    ],
)
def test_every_transcript_format_beside_a_recording_gives_its_cues_in_seconds(tmp_path: Path, name: str, content: str) -> None:
    recording = make_silent_wav(tmp_path / "standup.wav", 75.0)
    (tmp_path / name).write_bytes(content.encode("utf-8"))
    transcript = find_transcript(recording)
    assert transcript == tmp_path / name
    cues = read_transcript(transcript, 75.0)
    assert [(c.start_s, " ".join(c.text.split())) for c in cues] == [(c.start_s, c.text) for c in STANDUP_CUES]
    if not name.endswith(".txt"):
        assert [c.end_s for c in cues] == [c.end_s for c in STANDUP_CUES]


def test_a_transcript_without_times_spans_the_whole_recording_and_a_broken_one_names_itself(tmp_path: Path) -> None:
    notes = tmp_path / "memo.txt"
    notes.write_text("First point.\n\nSecond point.\n")
    assert read_transcript(notes, 42.0) == [Cue(0.0, 42.0, "First point."), Cue(0.0, 42.0, "Second point.")]
    broken = tmp_path / "memo.srt"
    broken.write_text("this is not\na subtitle file\n")
    make_silent_wav(tmp_path / "memo.wav", 2.0)
    with pytest.raises(ParseError) as caught:
        parse_media_file(tmp_path / "memo.wav", tmp_path / "out")
    assert caught.value.path == broken and "not a valid SubRip file" in caught.value.reason


def test_cues_group_into_passages_that_never_exceed_a_minute_unless_one_cue_does() -> None:
    cues = [Cue(t, t + 4, f"cue {t}") for t in range(0, 300, 5)] + [Cue(400, 480, "one long cue")]
    passages = group_cues(cues)
    assert [p.text for p in passages][-1] == "one long cue"
    assert all(30 <= p.end_s - p.start_s <= 60 for p in passages[:-2])
    assert " ".join(p.text for p in passages[:-1]) == " ".join(c.text for c in cues[:-1])  # nothing lost, in order
    assert group_cues([Cue(3, 5, "  "), Cue(1, 2, "b"), Cue(0, 1, "a")]) == [Cue(0, 2, "a b")]


def test_keyframes_follow_scene_changes_but_never_more_than_the_cap_per_minute() -> None:
    rng = np.random.default_rng(0)
    picker = KeyframePicker(KeyframePolicy(max_per_minute=6))
    picked = [t for t in range(120) if picker.offer(float(t), rng.random((36, 64)))]  # a new scene every second
    assert picked == list(range(0, 120, 10))
    still = KeyframePicker(KeyframePolicy())
    frame = rng.random((36, 64))
    noisy = [still.offer(float(t), np.clip(frame + rng.normal(0, 0.01, frame.shape), 0, 1)) for t in range(60)]
    assert noisy.count(True) == 1  # compression-like noise is no scene change


def test_a_recordings_provenance_names_its_time_and_one_phrase_said_twice_stays_two_chunks() -> None:
    common = {"modality": "text", "doc": "talk.mp4", "doc_id": "h", "parser": "mmrag"}
    blocks = [
        ContentBlock.from_content_item({"type": "text", "text": "Thank you.", "start_s": 5.0, "end_s": 9.0}, index=0, **{k: v for k, v in common.items() if k != "modality"}),
        ContentBlock.from_content_item({"type": "text", "text": "Thank you.", "start_s": 3725.0, "end_s": 3729.0, "page_idx": 0}, index=1, **{k: v for k, v in common.items() if k != "modality"}),
    ]
    nodes = blocks_to_nodes(blocks)
    assert len({n.node_id for n in nodes}) == 2
    assert [(n.metadata["page"], n.metadata["start_s"]) for n in nodes] == [(None, 5.0), (None, 3725.0)]
    for node in nodes:  # the graph's chunk of a recording's node has the node's id (fusion dedupes exactly)
        assert make_chunk_id(graph_chunk(node.node_id, node.get_content(), node.metadata).content) == node.node_id
    content = graph_content("Thank you.", "talk, part 2.mp4", None, "text", start_s=3725.0, end_s=3729.0)
    assert content.splitlines()[0] == "[talk, part 2.mp4, 1:02:05-1:02:09, text]"
    assert parse_provenance(content) == ("talk, part 2.mp4", None, "text", "Thank you.")
    assert parse_time_span(content) == (3725, 3729)
    assert [format_timestamp(s) for s in (0, 59.9, 60, 3599, 3600)] == ["0:00", "0:59", "1:00", "59:59", "1:00:00"]


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 10, b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64])
def test_a_file_named_like_a_recording_that_is_none_is_refused_naming_it(tmp_path: Path, content: bytes) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(content)
    with pytest.raises(ParseError) as caught:
        parse_media_file(clip, tmp_path / "out")
    assert caught.value.path == clip and "re-encode it" in caught.value.reason


def test_a_video_without_speech_keeps_its_keyframes_and_says_what_would_add_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.media import Slide

    clip = tmp_path / "demo.mkv"
    make_talk_mp4(clip, slides=(Slide(0.0, "Only Slide", "No words"),), cues=(), duration_s=3.0, subtitles=False)
    assert subtitle_cues(clip) == []
    items = parse_media_file(clip, tmp_path / "out")
    assert [(i["type"], i["start_s"], i["end_s"]) for i in items] == [("image", 0.0, 3.0)]
    assert "demo.srt" in caplog.text and "only its keyframes are searchable" in caplog.text
