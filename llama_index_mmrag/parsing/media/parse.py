r"""A recording as a RAG-Anything content list: keyframes (image items with the text OCR reads in them) and
passages of what is said (text items), each with its time span (``start_s``, ``end_s``) and no page.

What is said comes from, in this order: a transcript beside the file (:mod:`.transcripts`), the first
subtitle track with text inside it, or speech recognition with DashScope where ``DASHSCOPE_API_KEY`` is set
(:mod:`.asr`; no speech recognizer that runs offline ships its model inside a package). An audio file with
none is refused with what to provide; a video without them keeps
its keyframes (a warning says what would add its speech).

Example:
    >>> import wave
    >>> with wave.open("standup.wav", "wb") as out:                       # 75 s of silence
    ...     out.setnchannels(1); out.setsampwidth(2); out.setframerate(8000); out.writeframes(bytes(2 * 8000 * 75))
    >>> _ = Path("standup.srt").write_text("1\n00:00:05,000 --> 00:00:09,000\nThe budget stays flat.\n\n"
    ...                                    "2\n00:01:05,000 --> 00:01:10,500\nWe hire two engineers.\n")
    >>> [(item["type"], item["start_s"], item["end_s"]) for item in parse_media_file("standup.wav")]
    [('text', 5.0, 9.0), ('text', 65.0, 70.5)]
"""

from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from llama_index_mmrag.modalities.audio import Cue, group_cues
from llama_index_mmrag.modalities.video import THUMBNAIL_SIZE, KeyframePicker, KeyframePolicy
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.media import asr
from llama_index_mmrag.parsing.media.decode import MediaInfo, frame_image, probe, sample_frames, subtitle_cues
from llama_index_mmrag.parsing.media.transcripts import find_transcript, read_transcript
from llama_index_mmrag.schema import clean_text
from llama_index_mmrag.schema.identity import format_timestamp

logger = logging.getLogger(__name__)


KEYFRAME_PREFIX_BYTES = 80
"""A keyframe's file name starts with at most this many bytes of its video's name (a name of 255 bytes in
multi-byte characters would otherwise make a keyframe name longer than a file system allows)."""


def file_name_prefix(stem: str, limit: int = KEYFRAME_PREFIX_BYTES) -> str:
    """The start of a file name, at most ``limit`` bytes of UTF-8, cut between characters; bytes of a name that
    is not UTF-8 are dropped (the prefix lands in stored paths, which must be UTF-8).

    Args:
        stem: A file name without its suffix.
        limit: The most bytes kept.

    Example:
        >>> file_name_prefix("déjà vu", 4), file_name_prefix("talk"), file_name_prefix("caf\\udce9")
        ('déj', 'talk', 'caf')
    """
    raw = stem.encode("utf-8", "surrogateescape")[:limit]
    return raw.decode("utf-8", "ignore") or "keyframe"


def keyframe_items(path: Path, output_dir: Path, duration_s: float, policy: KeyframePolicy | None = None) -> list[dict[str, Any]]:
    """The keyframes of a video as image items: saved as PNG under ``output_dir/keyframes``, read by OCR.

    Args:
        path: The video.
        output_dir: Where the keyframe pictures go (the store's parsed folder of the document).
        duration_s: The video's length (the last keyframe's end).
        policy: How keyframes are chosen (:class:`~llama_index_mmrag.modalities.video.KeyframePolicy`).
    """
    import numpy as np

    from llama_index_mmrag.parsing.ocr import ocr_text

    picker = KeyframePicker(policy)
    folder = output_dir / "keyframes"
    folder.mkdir(parents=True, exist_ok=True)
    items: list[dict[str, Any]] = []
    prefix = file_name_prefix(path.stem)
    last_s = 0.0
    for time_s, frame in sample_frames(path, picker.policy.sample_fps):
        last_s = time_s
        width, height = THUMBNAIL_SIZE
        thumbnail = frame.reformat(width=width, height=height, format="gray").to_ndarray()
        if not picker.offer(time_s, np.asarray(thumbnail)):
            continue
        image = frame_image(frame)
        target = folder / f"{prefix}_{len(items):04d}_{int(time_s)}s.png"
        image.save(target)
        items.append({
            "type": "image",
            "img_path": str(target.resolve()),
            "image_caption": [],
            "image_footnote": [],
            "bbox": [0.0, 0.0, float(image.width), float(image.height)],
            "ocr_text": ocr_text(image),
            "start_s": round(time_s, 3),
        })
    ends = [item["start_s"] for item in items[1:]] + [round(max(duration_s, last_s), 3)]
    for item, end in zip(items, ends):
        item["end_s"] = end
    return items


def sane_cues(cues: list[Cue]) -> list[Cue]:
    """Cues whose times a passage can carry: none before the start, none ending before it starts (a cue written
    backwards ends where it starts), none at a time that is not a number; their text free of control characters.

    Args:
        cues: Cues from a transcript, a subtitle track or speech recognition.

    Example:
        >>> sane_cues([Cue(9.0, 5.0, "backwards"), Cue(-1.0, 2.0, "early"), Cue(float("nan"), 1.0, "lost")])
        [Cue(start_s=9.0, end_s=9.0, text='backwards'), Cue(start_s=0.0, end_s=2.0, text='early')]
    """
    sane = []
    for cue in cues:
        if not (math.isfinite(cue.start_s) and math.isfinite(cue.end_s)):
            continue
        start = max(0.0, float(cue.start_s))
        sane.append(Cue(start, max(start, float(cue.end_s)), clean_text(cue.text)))
    return sane


def speech_cues(path: Path, info: MediaInfo) -> tuple[list[Cue], str]:
    """What is said in a recording, and where it was read from (``""`` when nowhere).

    A transcript beside the file that holds no cue with text is passed over (with a warning naming it) for the
    next source.

    Args:
        path: The recording.
        info: Its :func:`~.decode.probe`.
    """
    transcript = find_transcript(path)
    if transcript is not None:
        cues = sane_cues(read_transcript(transcript, info.duration_s))
        if any(c.text.strip() for c in cues):
            return cues, transcript.name
        logger.warning("%s: its transcript %s holds no cue with text; it is passed over", path.name, transcript.name)
    if info.subtitles:
        cues = sane_cues(subtitle_cues(path))
        if cues:
            return cues, "its subtitle track"
    if info.audio and asr.configured():
        return sane_cues(asr.transcribe(path)), "DashScope speech recognition"
    return [], ""


def _what_to_provide(path: Path) -> str:
    transcript = find_transcript(path)
    if transcript is not None:
        return (
            f"its transcript {transcript.name} holds no cue with text: write what is said into it (or set "
            "DASHSCOPE_API_KEY to transcribe the recording with DashScope's speech recognition), and ingest it again"
        )
    return (
        f"put a transcript beside it ({path.stem}.srt, {path.stem}.vtt or {path.stem}.txt), or set "
        "DASHSCOPE_API_KEY to transcribe it with DashScope's speech recognition, and ingest it again"
    )


def parse_media_file(path: str | Path, output_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Parse an audio or video file into content items in time order (see the module's docstring).

    Args:
        path: The recording.
        output_dir: Where keyframe pictures are written (a temporary folder when ``None``).

    Raises:
        ParseError: When the file cannot be decoded, holds no audio or video, or is an audio file with no
            transcript, no subtitles and no speech recognition (the message says what to provide).
    """
    path = Path(path).resolve()
    info = probe(path)
    if not info.video and not info.audio:
        raise ParseError(path, "the file holds no audio or video stream; check that it is a recording")
    out = Path(output_dir) if output_dir is not None else Path(tempfile.mkdtemp(prefix="mmrag-media-"))
    items = keyframe_items(path, out, info.duration_s) if info.video else []
    cues, source = speech_cues(path, info)
    if not cues:
        if not info.video:
            raise ParseError(path, f"nothing to read in this recording: {_what_to_provide(path)}")
        logger.warning(
            "%s: only its keyframes are searchable (no transcript, subtitles or speech recognition); to add what "
            "is said, %s", path.name, _what_to_provide(path),
        )
    else:
        logger.info("%s: speech from %s, %d cues", path.name, source, len(cues))
    for passage in group_cues(cues):
        items.append(
            {"type": "text", "text": passage.text, "text_level": 0, "start_s": round(passage.start_s, 3), "end_s": round(passage.end_s, 3)}
        )
    items.sort(key=lambda item: (item["start_s"], item["type"] != "image"))
    logger.debug("%s: %d items up to %s", path.name, len(items), format_timestamp(info.duration_s))
    return items
