"""The file formats the package reads, by suffix: the one list the input checks, parser selection and the
parsers share. Files that are one item of a modality (images) take their suffixes from the modality registry
(:meth:`llama_index_mmrag.modalities.ModalityRegistry.by_suffix`).

Example:
    >>> ".pdf" in PDF_SUFFIXES, TEXT_LIKE_SUFFIXES[".md"], LEGACY_OFFICE_SUFFIXES[".doc"]
    (True, 'Markdown text', '.docx')
"""

from __future__ import annotations

from llama_index_mmrag.modalities.audio import AUDIO_SUFFIXES as _AUDIO_SUFFIXES
from llama_index_mmrag.modalities.video import VIDEO_SUFFIXES as _VIDEO_SUFFIXES

PDF_SUFFIXES = frozenset({".pdf"})
"""Read as PDF (the offline PDF parser, or MinerU / Docling where they can run)."""
OFFICE_SUFFIXES = frozenset({".docx", ".pptx", ".xlsx"})
"""Office Open XML packages (Docling, offline)."""
LEGACY_OFFICE_SUFFIXES = {".doc": ".docx", ".ppt": ".pptx", ".xls": ".xlsx"}
"""Binary Office formats no offline parser reads, with the format to save them as."""
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
"""Web pages (Docling, offline; local images only)."""
MARKDOWN_SUFFIXES = frozenset({".md", ".markdown"})
"""Markdown (Docling, offline)."""
TEXT_SUFFIXES = frozenset({".txt", ".text", ".log", ".rst", ".csv", ".tsv"})
"""Plain text, split into paragraphs."""
AUDIO_SUFFIXES = _AUDIO_SUFFIXES
"""Audio recordings (PyAV): a transcript beside the file becomes time-stamped passages."""
VIDEO_SUFFIXES = _VIDEO_SUFFIXES
"""Video recordings (PyAV): keyframes with OCR, subtitle tracks and transcripts, all time-stamped."""
MEDIA_SUFFIXES = AUDIO_SUFFIXES | VIDEO_SUFFIXES
"""Audio and video files (:mod:`llama_index_mmrag.parsing.media`)."""
TEXT_LIKE_SUFFIXES: dict[str, str] = {
    **dict.fromkeys(sorted(HTML_SUFFIXES), "a web page (HTML)"),
    **dict.fromkeys(sorted(MARKDOWN_SUFFIXES), "Markdown text"),
    **dict.fromkeys(sorted(TEXT_SUFFIXES), "text"),
}
"""Suffixes of text formats, with what their content should be (for an input check's reason)."""
