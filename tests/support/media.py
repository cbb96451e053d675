"""Recordings for tests, made with PyAV (which encodes as well as decodes): a short MP4 whose frames show slide
text that changes twice, with a subtitle track inside it, and a silent WAV with a transcript beside it.

Example:
    >>> facts = make_talk_mp4(tmp_dir / "talk.mp4")
    >>> [slide.start_s for slide in facts.slides]
    [0.0, 12.0, 24.0]
"""

from __future__ import annotations

import fractions
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from llama_index_mmrag.modalities.audio import Cue


@dataclass(frozen=True)
class Slide:
    """A slide shown from ``start_s`` on: its title and body line."""

    start_s: float
    title: str
    body: str


@dataclass(frozen=True)
class Talk:
    """What a generated talk holds: its slides, its subtitle cues and its length."""

    slides: tuple[Slide, ...]
    cues: tuple[Cue, ...]
    duration_s: float


TALK_SLIDES = (
    Slide(0.0, "Quarterly Review", "Agenda and goals"),
    Slide(12.0, "Harbour Cranes", "Dwell time down a third"),
    Slide(24.0, "Rail Spur Traffic", "One fifth of all boxes"),
)
TALK_CUES = (
    Cue(1.0, 4.0, "Welcome to the quarterly review of the harbour."),
    Cue(13.0, 17.5, "The new cranes cut the average dwell time of a container."),
    Cue(25.0, 29.0, "The rail spur now carries a fifth of the boxes leaving the terminal."),
)
STANDUP_CUES = (
    Cue(5.0, 9.0, "The budget for the spring quarter stays flat."),
    Cue(65.0, 70.5, "We will hire two platform engineers in April."),
)
"""The transcript of :func:`make_standup_wav`: two passages, one at 0:05 and one at 1:05."""

_ASS_HEADER = (
    "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n[V4+ Styles]\n"
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
    "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
    "MarginR, MarginV, Encoding\nStyle: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,"
    "10,10,10,0\n\n[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _slide(slide: Slide, size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, size[0], 70], fill="#1f3b73")
    draw.text((24, 16), slide.title, fill="white", font=_font(34))
    draw.text((24, 130), slide.body, fill="black", font=_font(30))
    return image


def make_talk_mp4(
    path: str | Path,
    *,
    slides: tuple[Slide, ...] = TALK_SLIDES,
    cues: tuple[Cue, ...] = TALK_CUES,
    duration_s: float = 32.0,
    fps: int = 2,
    size: tuple[int, int] = (640, 360),
    subtitles: bool = True,
) -> Talk:
    """Write an H.264 MP4 showing ``slides`` in turn, with ``cues`` as a mov_text subtitle track.

    Args:
        path: Where to write it.
        slides: The slides, by start time.
        cues: The subtitle cues.
        duration_s: Its length.
        fps: Frames per second (low: the slides are still).
        size: Width and height.
        subtitles: Whether to mux the subtitle track.
    """
    import av

    images = [(s.start_s, _slide(s, size)) for s in slides]
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        track = None
        if subtitles:
            track = container.add_stream("mov_text")
            track.codec_context.subtitle_header = _ASS_HEADER.encode()
        for index in range(int(duration_s * fps)):
            time_s = index / fps
            image = [img for start, img in images if start <= time_s][-1]
            for packet in video.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if track is not None:
            millis = fractions.Fraction(1, 1000)
            for cue in cues:
                data = cue.text.encode()
                packet = av.Packet(struct.pack(">H", len(data)) + data)
                packet.stream, packet.time_base = track, millis
                packet.pts = packet.dts = round(cue.start_s * 1000)
                packet.duration = round((cue.end_s - cue.start_s) * 1000)
                container.mux(packet)
    return Talk(slides, cues, duration_s)


def srt_text(cues: tuple[Cue, ...]) -> str:
    """``cues`` as a SubRip file."""

    def stamp(seconds: float) -> str:
        millis = round(seconds * 1000)
        return f"{millis // 3_600_000:02d}:{millis // 60_000 % 60:02d}:{millis // 1000 % 60:02d},{millis % 1000:03d}"

    return "".join(f"{i}\n{stamp(c.start_s)} --> {stamp(c.end_s)}\n{c.text}\n\n" for i, c in enumerate(cues, 1))


def make_silent_wav(path: str | Path, duration_s: float, rate: int = 8000) -> Path:
    """Write a silent mono 16-bit WAV of ``duration_s`` seconds."""
    path = Path(path)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * int(duration_s * rate))
    return path


def make_standup_wav(path: str | Path, *, transcript: str | None = ".srt") -> Talk:
    """Write a 75 s silent WAV and, unless ``transcript`` is ``None``, its :data:`STANDUP_CUES` beside it as a
    ``.srt`` (or ``.vtt``) file."""
    path = make_silent_wav(path, 75.0)
    if transcript == ".srt":
        path.with_suffix(".srt").write_text(srt_text(STANDUP_CUES), encoding="utf-8")
    elif transcript == ".vtt":
        vtt = srt_text(STANDUP_CUES).replace(",", ".")
        path.with_suffix(".vtt").write_text("WEBVTT\n\n" + vtt, encoding="utf-8")
    return Talk((), STANDUP_CUES, 75.0)
