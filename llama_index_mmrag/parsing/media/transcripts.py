"""Transcripts beside a recording: ``talk.srt``, ``talk.vtt`` or ``talk.txt`` (also ``talk.en.srt`` ...) for
``talk.mp4``, read into time-stamped cues.

A transcript may be saved in any encoding (UTF-8, UTF-16, Latin-1 ...) and line end. SubRip and WebVTT are
read by ``webvtt-py`` (cue settings, voice and style tags, notes handled; cue numbers may be left out). A
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

import hashlib
import html
import io
import re
from collections.abc import Iterable
from pathlib import Path

from llama_index_mmrag.modalities.audio import TRANSCRIPT_SUFFIXES, Cue
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.formats import MEDIA_SUFFIXES
from llama_index_mmrag.parsing.media.decode import strip_ass
from llama_index_mmrag.schema import clean_text, file_content_hash

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


def transcript_of(path: Path) -> Path | None:
    """The transcript read with ``path`` when it is a recording (:func:`find_transcript`), else ``None``.

    Args:
        path: Any file.
    """
    return find_transcript(path) if path.suffix.lower() in MEDIA_SUFFIXES else None


def document_hash(path: Path) -> str:
    """A document's ``doc_id``: the SHA-256 of its file's bytes, and for a recording with a transcript beside it,
    of both (a transcript edited or added later changes the document, so ``ingest`` and ``sync`` read it again).

    Args:
        path: The file.

    Raises:
        OSError: If the file cannot be read.

    Example:
        >>> from llama_index_mmrag.schema import file_content_hash
        >>> _ = Path("memo.wav").write_bytes(b"RIFF...")
        >>> document_hash(Path("memo.wav")) == file_content_hash("memo.wav")
        True
        >>> _ = Path("memo.srt").write_text("1\\n00:00:01,000 --> 00:00:02,000\\nHello.\\n")
        >>> document_hash(Path("memo.wav")) == file_content_hash("memo.wav")
        False
    """
    digest = file_content_hash(path)
    transcript = transcript_of(path)
    if transcript is None:
        return digest
    try:
        said = file_content_hash(transcript)
    except OSError:
        return digest  # gone meanwhile, or unreadable: the parse reports it
    return hashlib.sha256(f"{digest}\n{said}".encode()).hexdigest()


def transcripts_among(files: Iterable[Path]) -> set[Path]:
    """The files among ``files`` that are the transcript of a recording among them (``talk.srt``, ``talk.vtt``,
    ``talk.txt``, ``talk.en.srt`` beside ``talk.mp4``): read with their recording, not documents of their own.

    Args:
        files: Files, such as a folder's.

    Example:
        >>> names = ["talk.mp4", "talk.en.srt", "talk.txt", "notes.txt", "orphan.srt"]
        >>> sorted(p.name for p in transcripts_among(Path("f") / n for n in names))
        ['talk.en.srt', 'talk.txt']
    """
    files = list(files)
    recordings = {(p.parent, p.stem) for p in files if p.suffix.lower() in MEDIA_SUFFIXES}
    found: set[Path] = set()
    for path in files:
        suffix = path.suffix.lower()
        if suffix not in TRANSCRIPT_SUFFIXES:
            continue
        stem = path.stem
        tagged = suffix != ".txt" and any((path.parent, stem[:i]) in recordings for i, c in enumerate(stem) if c == ".")
        if (path.parent, stem) in recordings or tagged:
            found.add(path)
    return found


def glob_escape(text: str) -> str:
    """``text`` with glob wildcards escaped, so a file name with ``[`` or ``*`` matches only itself.

    Args:
        text: A file name part.
    """
    return re.sub(r"([*?\[])", r"[\1]", text)


_SRT_TIMING = re.compile(r"^\s*-?\d+:\d{1,2}:\d{1,2}[,.]\d+\s*-->")


def decode_transcript(path: Path) -> str:
    """A transcript's text, in whatever encoding it was saved (UTF-8 with or without a BOM, UTF-16, Latin-1 ...),
    with ``\\n`` line ends and no control character but tabs and newlines.

    Args:
        path: The transcript.

    Raises:
        ParseError: Naming the transcript, when it cannot be read or is not text in any encoding.
    """
    from charset_normalizer import from_bytes

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ParseError(path, f"the transcript cannot be read ({exc.strerror or exc}); check its permissions") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = from_bytes(raw).best()
        if best is None:
            raise ParseError(
                path, "the transcript is not text in any encoding we recognise; save it as UTF-8 text, or remove it"
            ) from None
        text = str(best)
    return clean_text(text.replace("\r\n", "\n").replace("\r", "\n"))


def _numbered_srt(text: str) -> str:
    """SubRip text whose cues all have an index line (some writers leave them out; the reader needs them)."""
    blocks = _PARAGRAPH_BREAK.split(text.strip())
    return "\n\n".join(f"0\n{block}" if _SRT_TIMING.match(block) else block for block in blocks) + "\n"


def _caption_text(text: str) -> str:
    """A caption's plain text: ASS override tags (``{\\an8}``) dropped, HTML entities (``&amp;``) read."""
    return html.unescape(strip_ass(text))


def _read_subtitles(path: Path) -> list[Cue]:
    import webvtt
    from webvtt.errors import MalformedFileError

    kind = "WebVTT" if path.suffix.lower() == ".vtt" else "SubRip"
    text = decode_transcript(path)
    if not text.strip():
        return []
    if kind == "SubRip":
        text = _numbered_srt(text)
    try:
        captions = webvtt.from_buffer(io.StringIO(text), format="vtt" if kind == "WebVTT" else "srt")
        cues = [Cue(clock_seconds(c.start), clock_seconds(c.end), _caption_text(c.text)) for c in captions]
    except (MalformedFileError, ValueError) as exc:
        raise ParseError(path, f"not a valid {kind} file ({exc}); fix it, or remove it to ingest the recording without it") from exc
    return [c for c in cues if c.text.strip()]


def _read_text(path: Path, duration_s: float) -> list[Cue]:
    text = decode_transcript(path)
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
    starts.sort(key=lambda start: start[0])  # lines out of time order: each lasts until the next time said
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
