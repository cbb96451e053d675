"""Choosing the parser that can run for a file (``parser="auto"``), and saying why.

``auto`` never reaches for a model hub. It decides from what is on this machine, without any network call:

* **PDFs**: MinerU, then Docling, *only* when the tool is installed in a version RAG-Anything can drive *and*
  its layout models are already on disk (checked by looking at the model folders and caches, see
  :mod:`llama_index_mmrag.parsing.availability`); otherwise the offline parser ``"mmrag"``
  (pypdfium2 + pdfplumber + RapidOCR, no hub).
* **DOCX, PPTX, XLSX, HTML, Markdown**: Docling (docling-slim, no model needed for these formats), through
  the ``"docling-offline"`` parser (see :mod:`llama_index_mmrag.parsing.docling`).
* **Images**: the offline parser (RapidOCR, weights inside its wheel). **Plain text**: the offline parser.

A parser named explicitly is checked the same way, so that a forced ``"mineru"`` or a Docling PDF run fails
at once with the reason instead of trying to download models.

Example:
    >>> from llama_index_mmrag.parsing.select import choose_parser
    >>> choose_parser("notes.txt", "auto").name
    'mmrag'
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

from raganything.parser import get_parser, get_supported_parsers

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.modalities.audio import TRANSCRIPT_SUFFIXES
from llama_index_mmrag.parsing.availability import (
    Availability,
    docling_format_status,
    docling_pdf_status,
    mineru_status,
)
from llama_index_mmrag.parsing.docling import DOCLING_OFFLINE_PARSER_NAME
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.formats import (
    HTML_SUFFIXES,
    LEGACY_OFFICE_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MEDIA_SUFFIXES,
    OFFICE_SUFFIXES,
    PDF_SUFFIXES,
    TEXT_SUFFIXES,
    VIDEO_SUFFIXES,
)
from llama_index_mmrag.parsing.parser import MODALITY_SUFFIXES, OFFLINE_PARSER_NAME

logger = logging.getLogger(__name__)

DOCLING_SUFFIXES = OFFICE_SUFFIXES | HTML_SUFFIXES | MARKDOWN_SUFFIXES
"""Formats ``auto`` gives to Docling."""

SUPPORTED_SUFFIXES = frozenset(DOCLING_SUFFIXES | TEXT_SUFFIXES | MODALITY_SUFFIXES | PDF_SUFFIXES | MEDIA_SUFFIXES)
"""Every extension ``auto`` has a parser for."""

class ParserChoice(NamedTuple):
    """The parser chosen for a file and the reason, as logged by the reader.

    Args:
        name: A name in RAG-Anything's parser registry.
        reason: Why this parser was chosen.

    Example:
        >>> choice = choose_parser("milvus_faq.txt")
        >>> choice.name, choice.reason
        ('mmrag', '.txt: plain text, split into paragraphs')
    """

    name: str
    reason: str


# --- the choice ----------------------------------------------------------------------------------------------


def _unsupported(path: str | Path, suffix: str) -> ParseError:
    if suffix in LEGACY_OFFICE_SUFFIXES:
        return ParseError(
            path,
            f"{suffix} is a legacy binary Office format that no offline parser reads; "
            f"save it as {LEGACY_OFFICE_SUFFIXES[suffix]} and parse that file",
        )
    if suffix in TRANSCRIPT_SUFFIXES:
        return ParseError(
            path,
            f"a {suffix} transcript is read with its recording, not on its own: put the recording beside it under "
            f"the same name ({Path(path).stem}.mp4, {Path(path).stem}.wav ...) and ingest the recording",
        )
    return ParseError(
        path,
        f"unsupported file type {suffix or '(no extension)'}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
    )


def _check_requested(path: str | Path, requested: str, suffix: str) -> None:
    """Refuse, with the reason, a named parser that cannot run here (instead of letting it hit a hub)."""
    status: Availability | None = None
    if requested == "mineru" and suffix not in TEXT_SUFFIXES:
        status = mineru_status()
    elif requested in ("docling", DOCLING_OFFLINE_PARSER_NAME) and suffix not in TEXT_SUFFIXES:
        status = docling_format_status(suffix)
    elif requested == "paddleocr" and not get_parser("paddleocr").check_installation():
        status = Availability(False, "PaddleOCR is not installed (`pip install paddleocr`)")
    if status is not None and not status.ready:
        raise ParseError(path, f"parser {requested!r} cannot run here: {status.reason}; use parser='auto'")


def choose_parser(path: str | Path, requested: str = "auto") -> ParserChoice:
    """Return the parser for a file and the reason.

    Args:
        path: The file to parse.
        requested: ``"auto"`` or the name of any parser in RAG-Anything's registry (``mineru``, ``docling``,
            ``paddleocr``, ``mmrag``, ``docling-offline``, or one you registered).

    Returns:
        ``(name, reason)``; ``name`` is a RAG-Anything registry name.

    Raises:
        ParseError: If no parser here can read the file, the requested parser is unknown, or it cannot run
            here offline.
    """
    suffix = Path(path).suffix.lower()
    requested = (requested or "auto").strip().lower()
    if requested != "auto":
        if requested not in get_supported_parsers():
            raise ParseError(
                path, f"unknown parser {requested!r}; choose one of: auto, {', '.join(get_supported_parsers())}"
            )
        _check_requested(path, requested, suffix)
        return ParserChoice(requested, f"parser={requested!r} was requested")

    if suffix in PDF_SUFFIXES:
        mineru = mineru_status()
        if mineru.ready:
            return ParserChoice("mineru", f"PDF: {mineru.reason}")
        docling = docling_pdf_status()
        if docling.ready:
            return ParserChoice(
                DOCLING_OFFLINE_PARSER_NAME, f"PDF: {docling.reason}; MinerU not usable: {mineru.reason}"
            )
        return ParserChoice(
            OFFLINE_PARSER_NAME,
            f"PDF: offline parser (no model from a hub); MinerU not usable: {mineru.reason}; "
            f"Docling PDF not usable: {docling.reason}",
        )
    if suffix in DOCLING_SUFFIXES:
        status = docling_format_status(suffix)
        if not status.ready:
            raise ParseError(path, f"{suffix} files are read by Docling, which cannot run here: {status.reason}")
        return ParserChoice(DOCLING_OFFLINE_PARSER_NAME, f"{suffix}: {status.reason}")
    modality = MODALITIES.by_suffix(suffix)
    if modality is not None and modality.name == "image":
        return ParserChoice(
            OFFLINE_PARSER_NAME, "image: read directly with offline OCR (RapidOCR, weights in its wheel)"
        )
    if modality is not None:
        return ParserChoice(OFFLINE_PARSER_NAME, f"{modality.name}: one {modality.label} per file, offline parser")
    if suffix in TEXT_SUFFIXES:
        return ParserChoice(OFFLINE_PARSER_NAME, f"{suffix}: plain text, split into paragraphs")
    if suffix in MEDIA_SUFFIXES:
        what = "keyframes read with offline OCR, subtitles and transcripts" if suffix in VIDEO_SUFFIXES else "its transcript"
        return ParserChoice(OFFLINE_PARSER_NAME, f"{suffix}: a recording decoded with PyAV: {what}, time-stamped")
    raise _unsupported(path, suffix)
