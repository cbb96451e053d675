"""Choosing the parser that can run for a file (``parser="auto"``), and saying why.

Example:
    >>> from llama_index_mmrag.parsing.select import choose_parser
    >>> choose_parser("notes.txt", "auto")[0]
    'mmrag'
"""

from __future__ import annotations

import logging
from pathlib import Path

from raganything.parser import get_parser, get_supported_parsers

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.parser import IMAGE_SUFFIXES, OFFLINE_PARSER_NAME, OfflineParser

logger = logging.getLogger(__name__)

DOCLING_SUFFIXES = {".docx", ".pptx", ".xlsx", ".html", ".htm", ".xhtml", ".md", ".markdown"}


def _docling_ready() -> bool:
    return get_parser("docling").check_installation()


def choose_parser(path: str | Path, requested: str = "auto") -> tuple[str, str]:
    """Return ``(parser_name, reason)`` for a file.

    ``auto`` picks the best parser that can run here: the offline parser for PDFs, images and
    plain text (MinerU's and Docling's PDF paths need models from a hub), Docling for Office files,
    HTML and Markdown.

    Args:
        path: The file to parse.
        requested: ``"auto"`` or the name of any parser in RAG-Anything's registry.

    Raises:
        ParseError: If no parser can read the file, or the requested one is unknown.
    """
    suffix = Path(path).suffix.lower()
    if requested != "auto":
        if requested not in get_supported_parsers():
            raise ParseError(path, f"unknown parser {requested!r}; choose one of: auto, {', '.join(get_supported_parsers())}")
        return requested, f"parser={requested!r} was requested"
    if suffix in DOCLING_SUFFIXES:
        if _docling_ready():
            return "docling", f"{suffix} files are read by Docling (no model download needed for this format)"
        raise ParseError(path, f"{suffix} files need Docling; install docling-slim with its format extras")
    if suffix in OfflineParser.SUPPORTED_SUFFIXES:
        kind = "images" if suffix in IMAGE_SUFFIXES else f"{suffix} files"
        return OFFLINE_PARSER_NAME, f"{kind} are read by the offline parser (no model from a hub is reachable here)"
    supported = sorted(OfflineParser.SUPPORTED_SUFFIXES | DOCLING_SUFFIXES)
    raise ParseError(path, f"unsupported file type {suffix or '(no extension)'}; supported: {', '.join(supported)}")
