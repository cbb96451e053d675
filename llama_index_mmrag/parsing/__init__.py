"""Parsers registered with RAG-Anything: the offline parser (``"mmrag"``), offline Docling
(``"docling-offline"``), OCR, and parser selection.

The names below load on first use (PEP 562): importing one module of this package (``parsing.errors``,
``parsing.pdf.page`` in a parser worker) does not import RAG-Anything, Docling or the OCR models.

Example:
    >>> from llama_index_mmrag.parsing import ParseError          # RAG-Anything is not imported for this
    >>> from llama_index_mmrag.parsing import OFFLINE_PARSER_NAME  # this one registers the parsers
    >>> OFFLINE_PARSER_NAME
    'mmrag'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.parsing.docling import (
        DOCLING_OFFLINE_PARSER_NAME,
        DoclingOfflineParser,
        normalize_content_list,
    )
    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.parsing.parser import OFFLINE_PARSER_NAME, OfflineParser
    from llama_index_mmrag.parsing.select import ParserChoice, choose_parser

_EXPORTS = {
    "DOCLING_OFFLINE_PARSER_NAME": "llama_index_mmrag.parsing.docling",
    "DoclingOfflineParser": "llama_index_mmrag.parsing.docling",
    "normalize_content_list": "llama_index_mmrag.parsing.docling",
    "ParseError": "llama_index_mmrag.parsing.errors",
    "OFFLINE_PARSER_NAME": "llama_index_mmrag.parsing.parser",
    "OfflineParser": "llama_index_mmrag.parsing.parser",
    "ParserChoice": "llama_index_mmrag.parsing.select",
    "choose_parser": "llama_index_mmrag.parsing.select",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "DOCLING_OFFLINE_PARSER_NAME",
    "OFFLINE_PARSER_NAME",
    "DoclingOfflineParser",
    "OfflineParser",
    "ParseError",
    "ParserChoice",
    "choose_parser",
    "normalize_content_list",
]
