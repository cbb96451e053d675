"""Decoding a recording with PyAV: its duration, frames sampled at a low rate, and its subtitle tracks.

PyAV's wheel ships FFmpeg's libraries, so every format FFmpeg reads (MP4, MKV, WebM, MOV, WAV, MP3, ...)
decodes with nothing else installed.

Example:
    >>> from llama_index_mmrag.parsing.media.decode import strip_ass
    >>> strip_ass(r"{\\i1}Hello{\\i0}\\Nworld")
    'Hello\\nworld'
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index_mmrag.modalities.audio import Cue
from llama_index_mmrag.parsing.errors import ParseError

_ASS_TAGS = re.compile(r"\{[^}]*\}")
MAX_FRAME_SIDE = 1280
"""A keyframe is kept at most this many pixels on its long side (what OCR reads at most anyway)."""


@dataclass(frozen=True)
class MediaInfo:
    """What a recording holds.

    Args:
        duration_s: Its length in seconds (0.0 where the container does not say).
        video: Whether it has a video stream (a cover picture in an audio file does not count).
        audio: Whether it has an audio stream.
        subtitles: How many subtitle streams it has.

    Example:
        >>> import wave
        >>> with wave.open("beep.wav", "wb") as out:
        ...     out.setnchannels(1); out.setsampwidth(2); out.setframerate(8000); out.writeframes(bytes(2 * 8000 * 3))
        >>> probe("beep.wav")
        MediaInfo(duration_s=3.0, video=False, audio=True, subtitles=0)
    """

    duration_s: float
    video: bool
    audio: bool
    subtitles: int


def _why(exc: Exception) -> str:
    """What FFmpeg says went wrong, without its error number and the path (the error names the file already)."""
    return str(getattr(exc, "strerror", None) or exc)


@contextmanager
def open_media(path: str | Path) -> Iterator[Any]:
    """Open a recording with PyAV, turning a file FFmpeg cannot read into a :class:`ParseError`.

    Args:
        path: The file.
    """
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise ParseError(path, f"the recording cannot be decoded ({_why(exc)}); re-encode it (e.g. to MP4 or WAV)") from exc
    try:
        yield container
    except av.error.FFmpegError as exc:
        raise ParseError(path, f"the recording is damaged ({_why(exc)}); re-encode it (e.g. to MP4 or WAV)") from exc
    finally:
        container.close()


def _real_video(stream: Any) -> bool:
    disposition = getattr(stream, "disposition", None)
    attached = getattr(type(disposition), "attached_pic", None) if disposition is not None else None
    return not (attached is not None and disposition & attached)


def probe(path: str | Path) -> MediaInfo:
    """The streams and length of a recording.

    Args:
        path: The file.

    Raises:
        ParseError: When FFmpeg cannot read it.
    """
    with open_media(path) as container:
        duration = container.duration / 1_000_000 if container.duration else 0.0
        if not duration:
            duration = max(
                (float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base), default=0.0
            )
        return MediaInfo(
            duration_s=float(duration),
            video=any(_real_video(s) for s in container.streams.video),
            audio=bool(container.streams.audio),
            subtitles=len(container.streams.subtitles),
        )


def sample_frames(path: str | Path, fps: float) -> Iterator[tuple[float, Any]]:
    """Decode the first video stream and yield ``(time_s, frame)`` about ``fps`` times per second of video.

    Every frame is decoded (codecs need them), but only the sampled ones are handed out, as PyAV
    ``VideoFrame`` objects (convert with ``frame.reformat(...)`` / ``frame.to_image()``).

    Args:
        path: The file.
        fps: Samples per second.
    """
    step = 1.0 / fps
    with open_media(path) as container:
        stream = next((s for s in container.streams.video if _real_video(s)), None)
        if stream is None:
            return
        stream.thread_type = "AUTO"
        next_s = 0.0
        for frame in container.decode(stream):
            time_s = frame.time
            if time_s is None or time_s + 1e-6 < next_s:
                continue
            yield float(time_s), frame
            next_s = time_s + step


def frame_image(frame: Any) -> Any:
    """A decoded frame as an RGB PIL image, at most :data:`MAX_FRAME_SIDE` pixels on its long side.

    Args:
        frame: A PyAV ``VideoFrame``.
    """
    width, height = frame.width, frame.height
    scale = min(1.0, MAX_FRAME_SIDE / max(width, height, 1))
    if scale < 1.0:
        frame = frame.reformat(width=max(2, round(width * scale)), height=max(2, round(height * scale)))
    return frame.to_image()


def strip_ass(text: str) -> str:
    """Plain text of an ASS subtitle line: override tags (``{\\i1}``) dropped, ``\\N`` / ``\\n`` as newlines.

    Args:
        text: The dialogue text.
    """
    return _ASS_TAGS.sub("", text).replace("\\N", "\n").replace("\\n", "\n").replace("\\h", " ").strip()


def _dialogue(subtitle: Any) -> str:
    dialogue = getattr(subtitle, "dialogue", None)
    if dialogue:
        return strip_ass(bytes(dialogue).decode("utf-8", "replace"))
    text = getattr(subtitle, "text", None)
    if text:
        return bytes(text).decode("utf-8", "replace").strip()
    return ""


def subtitle_cues(path: str | Path) -> list[Cue]:
    """The cues of the first subtitle track with text inside a recording (SRT, WebVTT, ASS, mov_text; picture
    subtitles such as DVD and Blu-ray ones hold no text and are skipped; further tracks are other languages).

    Args:
        path: The file.

    Raises:
        ParseError: When FFmpeg cannot read it.
    """
    with open_media(path) as container:
        for stream in container.streams.subtitles:  # the first track with text (others: other languages)
            cues: list[Cue] = []
            container.seek(0)
            for packet in container.demux(stream):
                if packet.pts is None or packet.time_base is None or not packet.size:
                    continue
                start = float(packet.pts * packet.time_base)
                end = start + float((packet.duration or 0) * packet.time_base)
                cues.extend(Cue(start, end, text) for text in map(_dialogue, packet.decode()) if text)
            if cues:
                return cues
    return []
