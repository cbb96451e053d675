"""Parsers registered with RAG-Anything: the offline parser (``"mmrag"``), offline Docling
(``"docling-offline"``), OCR, and parser selection."""

from __future__ import annotations

from llama_index_mmrag.parsing.docling import DOCLING_OFFLINE_PARSER_NAME, DoclingOfflineParser, normalize_content_list
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.parser import OFFLINE_PARSER_NAME, OfflineParser
from llama_index_mmrag.parsing.select import ParserChoice, choose_parser

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
