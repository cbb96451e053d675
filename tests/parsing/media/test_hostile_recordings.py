"""Recordings that are not what their name says, damaged ones, and ones with absurd frame sizes, frame rates and
timestamps: each is parsed into items with times a citation can carry, or refused naming the file and what to
do, in FFmpeg's words without its error number."""

from __future__ import annotations

import fractions
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.media import parse_media_file
from tests.readers.documents import make_png
from tests.support.deadline import deadline
from tests.support.media import STANDUP_CUES, Slide, make_silent_wav, make_talk_mp4, srt_text


@pytest.fixture(autouse=True)
def _no_hang() -> Iterator[None]:
    with deadline(30):
        yield


def _video(path: Path, *, size: tuple[int, int] = (64, 48), rate: fractions.Fraction | int = 2, frames: int = 4,
           pts_step: int | None = None) -> Path:
    """A tiny H.264 video of flat frames that change shade every frame (``pts_step``: ticks of 1/1000 s apart)."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), index * 60 % 256, np.uint8), format="rgb24")
            if pts_step is not None:
                frame.pts, frame.time_base = index * pts_step, fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def _talk_bytes(folder: Path) -> bytes:
    clip = folder / "whole.mp4"
    make_talk_mp4(clip, slides=(Slide(0.0, "Harbour", "Cranes"),), cues=(), duration_s=2.0, subtitles=False)
    return clip.read_bytes()


NOT_RECORDINGS: dict[str, Callable[[Path], bytes]] = {
    "truncated.mp4": lambda folder: _talk_bytes(folder)[:600],
    "zeros.mp4": lambda folder: bytes(100_000),
    "random.mp3": lambda folder: os.urandom(50_000),
    "text.wav": lambda folder: b"Not a recording at all.\n" * 50,
    "page.mkv": lambda folder: b"<html><body>A web page.</body></html>",
    "paper.mp4": lambda folder: b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
}


@pytest.mark.parametrize("name", NOT_RECORDINGS)
def test_a_file_that_is_no_recording_is_refused_naming_it_in_ffmpegs_words(tmp_path: Path, name: str) -> None:
    clip = tmp_path / name
    clip.write_bytes(NOT_RECORDINGS[name](tmp_path))
    with pytest.raises(ParseError) as caught:
        parse_media_file(clip, tmp_path / "out")
    assert caught.value.path == clip and "re-encode it" in caught.value.reason
    assert "Errno" not in caught.value.reason and str(clip) not in caught.value.reason


def _renamed(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    source.unlink()
    return target


def _wav_named_mp4(folder: Path) -> Path:
    clip = _renamed(make_silent_wav(folder / "memo.tmp", 2.0), folder / "memo.mp4")
    (folder / "memo.srt").write_text(srt_text(STANDUP_CUES))
    return clip


def _silent_header_with_transcript(folder: Path) -> Path:
    clip = make_silent_wav(folder / "void.wav", 0.0)
    (folder / "void.srt").write_text(srt_text(STANDUP_CUES))
    return clip


def _mp4_named_wav(folder: Path) -> Path:
    (folder / "clip.wav").write_bytes(_talk_bytes(folder))
    return folder / "clip.wav"


PLAYABLE: dict[str, Callable[[Path], Path]] = {
    "a WAV named .mp4": _wav_named_mp4,
    "an MP4 named .wav": _mp4_named_wav,
    "a PNG named .mp4": lambda folder: _renamed(make_png(folder / "still.png", ("HARBOUR",)), folder / "still.mp4"),
    "8192 pixels wide": lambda folder: _video(folder / "wide.mkv", size=(8192, 16)),
    "8192 pixels tall": lambda folder: _video(folder / "tall.mkv", size=(16, 8192)),
    "2 by 2 pixels": lambda folder: _video(folder / "tiny.mkv", size=(2, 2)),
    "1000 frames a second": lambda folder: _video(folder / "fast.mkv", rate=1000, frames=5),
    "a frame every 100 s": lambda folder: _video(folder / "slow.mkv", rate=fractions.Fraction(1, 100), frames=3),
    "frames years apart": lambda folder: _video(folder / "far.mkv", frames=3, pts_step=10**11),
    "one frame": lambda folder: _video(folder / "one.mp4", frames=1),
    "a header and no samples, with a transcript": _silent_header_with_transcript,
}


@pytest.mark.parametrize("case", PLAYABLE)
def test_an_odd_but_playable_recording_gives_items_a_citation_can_carry(tmp_path: Path, case: str) -> None:
    clip = PLAYABLE[case](tmp_path)
    items = parse_media_file(clip, tmp_path / "out")
    assert items
    for item in items:
        assert 0.0 <= item["start_s"] <= item["end_s"] < 10**10, item
        if item["type"] == "image":
            picture = Path(item["img_path"])
            assert picture.is_file() and picture.is_relative_to((tmp_path / "out").resolve())
            assert max(item["bbox"][2:]) <= 1280  # kept at most 1280 pixels on its long side
