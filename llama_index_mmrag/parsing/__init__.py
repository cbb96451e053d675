"""Parsers registered with RAG-Anything: the offline parser (``"mmrag"``), OCR, and parser selection."""

from __future__ import annotations

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.parser import OFFLINE_PARSER_NAME, OfflineParser
from llama_index_mmrag.parsing.select import choose_parser

__all__ = ["OFFLINE_PARSER_NAME", "OfflineParser", "ParseError", "choose_parser"]
