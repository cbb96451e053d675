"""Transcripts beside a recording: ``talk.srt``, ``talk.vtt`` or ``talk.txt`` (also ``talk.en.srt`` ...) for
``talk.mp4``, read into time-stamped cues.

SubRip and WebVTT are read by ``webvtt-py`` (cue settings, voice and style tags, notes and BOMs handled). A
``.txt`` transcript may start lines with a time (``[12:31]``, ``12:31``, ``0:12:31.5 -``): each such line starts a
cue that lasts until the next one; lines without a time continue the cue above. A ``.txt`` with no time at all
is one cue per paragraph, each spanning the whole recording (where it is said is not known).

Example:
    >>> from pathlib import Path
    >>> _ = Path("standup.txt").write_text("[0:05] Budget is flat.\\n[1:05] We hire two engineers.\\n")
    >>> read_transcript(Path("standup.txt"), duration_s=90.0)
    [Cue(start_s=5.0, end_s=65.0, text='Budget is flat.'), Cue(start_s=65.0, end_s=90.0, text='We hire two engineers.')]
"""

from __future__ import annotations

import re
from pathlib import Path

from llama_index_mmrag.modalities.audio import TRANSCRIPT_SUFFIXES, Cue
from llama_index_mmrag.parsing.errors import ParseError

_TXT_TIME = re.compile(r"^\s*\[?((?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d+)?)\]?\s*(?:[-\u2013\u2014:|]\s*)?(.*)$")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def clock_seconds(stamp: str) -> float:
    """Seconds of a clock time: ``"01:02:05.500"``, ``"1:05"``, ``"00:00:01,000"`` (SubRip's comma).

    Args:
        stamp: ``[h:]m:s[.fraction]``.

    Example:
        >>> clock_seconds("01:02:05.500"), clock_seconds("1:05")
        (3725.5, 65.0)
    """
    total = 0.0
    for part in stamp.strip().replace(",", ".").split(":"):
        total = total * 60 + float(part)
    return total


def find_transcript(recording: Path) -> Path | None:
    """The transcript beside a recording: ``<stem>.srt``, ``.vtt``, ``.txt`` (in that order), else the first of
    ``<stem>.<anything>.srt`` / ``.vtt`` (``talk.en.srt``) by name.

    Args:
        recording: The audio or video file.
    """
    folder, stem = recording.parent, recording.stem
    for suffix in TRANSCRIPT_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    for suffix in TRANSCRIPT_SUFFIXES[:2]:
        tagged = sorted(p for p in folder.glob(f"{glob_escape(stem)}.*{suffix}") if p.is_file())
        if tagged:
            return tagged[0]
    return None


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped, so a file name with ``[`` or ``*`` matches only itself.

    Args:
        text: A file name part.
    """
    return re.sub(r"([*?\[])", r"[\1]", text)


def _read_subtitles(path: Path) -> list[Cue]:
    import webvtt
    from webvtt.errors import MalformedFileError

    kind = "WebVTT" if path.suffix.lower() == ".vtt" else "SubRip"
    try:
        captions = webvtt.read(str(path)) if kind == "WebVTT" else webvtt.from_srt(str(path))
        cues = [Cue(clock_seconds(c.start), clock_seconds(c.end), c.text) for c in captions]
    except (MalformedFileError, UnicodeDecodeError, ValueError) as exc:
        raise ParseError(path, f"not a valid {kind} file ({exc}); fix it, or remove it to ingest the recording without it") from exc
    return [c for c in cues if c.text.strip()]


def _read_text(path: Path, duration_s: float) -> list[Cue]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(path, "the transcript is not UTF-8 text; save it as UTF-8") from exc
    starts: list[tuple[float, list[str]]] = []
    for line in text.splitlines():
        match = _TXT_TIME.match(line)
        if match:
            starts.append((clock_seconds(match.group(1)), [match.group(2)]))
        elif line.strip():
            if not starts:
                starts.append((0.0, []))
            starts[-1][1].append(line)
    if not any(_TXT_TIME.match(line) for line in text.splitlines()):  # no time at all: paragraphs, whole span
        return [Cue(0.0, duration_s, p.strip()) for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    cues = []
    for i, (start, lines) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else max(duration_s, start)
        cues.append(Cue(start, end, " ".join(" ".join(lines).split())))
    return [c for c in cues if c.text]


def read_transcript(path: Path, duration_s: float) -> list[Cue]:
    """The cues of a transcript file (``.srt``, ``.vtt`` or ``.txt``).

    Args:
        path: The transcript.
        duration_s: The recording's length (the end of a ``.txt`` transcript's last cue).

    Raises:
        ParseError: Naming the transcript, when it cannot be read.
    """
    if path.suffix.lower() in (".srt", ".vtt"):
        return _read_subtitles(path)
    return _read_text(path, duration_s)
