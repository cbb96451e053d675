"""The offline parser, registered with RAG-Anything's parser registry as ``"mmrag"``.

It needs no model from a hub: PDFs go through pypdfium2 + pdfplumber (+ RapidOCR for scans),
images through RapidOCR, plain text is split into paragraphs, and Office files, web pages and Markdown are
handed to the offline Docling parser (:class:`~llama_index_mmrag.parsing.docling.DoclingOfflineParser`), so
``RAGAnything(config=RAGAnythingConfig(parser="mmrag"))`` reads every format offline. It returns RAG-Anything
content lists, so one content list feeds both ``RAGAnything.insert_content_list`` and LlamaIndex nodes.

Example:
    >>> from raganything.parser import get_parser
    >>> import llama_index_mmrag.parsing.parser  # registers "mmrag"
    >>> items = get_parser("mmrag").parse_document("milvus_faq.txt", output_dir="./out")
    >>> [item["type"] for item in items][:3]
    ['text', 'text', 'text']
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from raganything.parser import Parser, register_parser

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.parsing.docling import DoclingOfflineParser
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.formats import (
    HTML_SUFFIXES,
    MARKDOWN_SUFFIXES,
    MEDIA_SUFFIXES,
    OFFICE_SUFFIXES,
    PDF_SUFFIXES,
    TEXT_SUFFIXES,
)
from llama_index_mmrag.parsing.image import parse_image_file

OFFLINE_PARSER_NAME = "mmrag"
MODALITY_SUFFIXES = frozenset(s for name in MODALITIES for s in MODALITIES.get(name).suffixes)
"""Suffixes of files that are one item of a registered modality (images: ``.png`` ...)."""
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        best = from_bytes(raw).best()
        if best is None:
            raise ParseError(path, "the file is not text in any encoding we recognise; convert it to UTF-8") from None
        return str(best)


def parse_text_file(path: str | Path) -> list[dict[str, Any]]:
    """Split a plain-text file into paragraph blocks (page 0); Markdown-style ``#`` lines become headings.

    Args:
        path: The text file.
    """
    path = Path(path)
    items: list[dict[str, Any]] = []
    for paragraph in _PARAGRAPH_BREAK.split(_read_text(path)):
        text = paragraph.strip()
        if not text:
            continue
        level = len(text) - len(text.lstrip("#")) if text.startswith("#") and "\n" not in text else 0
        items.append({"type": "text", "text": text.lstrip("#").strip() if level else text, "text_level": level, "page_idx": 0})
    return items


class OfflineParser(Parser):
    """RAG-Anything parser that runs fully offline (registered as ``"mmrag"``).

    Example:
        >>> items = OfflineParser().parse_document("milvus_faq.txt", output_dir="./out")
        >>> {(item["type"], item["page_idx"]) for item in items}
        {('text', 0)}
    """

    SUPPORTED_SUFFIXES = (
        TEXT_SUFFIXES | PDF_SUFFIXES | OFFICE_SUFFIXES | HTML_SUFFIXES | MARKDOWN_SUFFIXES | MODALITY_SUFFIXES
        | MEDIA_SUFFIXES
    )
    HTML_FORMATS = set(HTML_SUFFIXES)  # RAG-Anything's batch parser discovers HTML files by this attribute

    def check_installation(self) -> bool:
        """Always true: every dependency is a hard dependency of this package."""
        return True

    def parse_pdf(
        self, pdf_path: str | Path, output_dir: str | None = None, method: str = "auto", lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parse a PDF with pypdfium2 + pdfplumber, OCR for pages without a text layer.

        Raises:
            ParseError: With the file and the reason, if the PDF is empty, not a PDF, truncated, damaged or
                password-protected.
        """
        from llama_index_mmrag.parsing.pdf.parse import parse_pdf

        out = Path(output_dir or Path(pdf_path).parent / "parsed")
        return parse_pdf(pdf_path, out, ocr=method != "txt", workers=kwargs.get("workers"))

    def parse_image(
        self, image_path: str | Path, output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Return the image as one image block with its OCR text."""
        return parse_image_file(image_path)

    def parse_modality_file(self, modality: str, path: str | Path, output_dir: str | None = None) -> list[dict[str, Any]]:
        """Parse a file that is one item of a modality (its suffix is the modality's, see
        :meth:`~llama_index_mmrag.modalities.ModalityRegistry.by_suffix`): the parser hookup of such a modality.

        Args:
            modality: The modality's name.
            path: The file.
            output_dir: Where extracted files go.

        Raises:
            ParseError: For a modality with file suffixes but no hookup here.
        """
        if modality == "image":
            return self.parse_image(path, output_dir=output_dir)
        raise ParseError(path, f"no offline parser hookup reads {modality} files; add one in parse_modality_file")

    def parse_media(self, media_path: str | Path, output_dir: str | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        """Parse an audio or video file: keyframes with OCR and time-stamped passages of what is said
        (:func:`~llama_index_mmrag.parsing.media.parse_media_file`)."""
        from llama_index_mmrag.parsing.media import parse_media_file

        return parse_media_file(media_path, output_dir=output_dir)

    def parse_office_doc(
        self, doc_path: str | Path, output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parse a DOCX, PPTX or XLSX file with the offline Docling parser (no model needed for these formats)."""
        return DoclingOfflineParser().parse_document(doc_path, output_dir=output_dir, lang=lang, **kwargs)

    def parse_html(
        self, html_path: str | Path, output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parse an HTML page with the offline Docling parser (local images only, nothing fetched)."""
        return DoclingOfflineParser().parse_document(html_path, output_dir=output_dir, lang=lang, **kwargs)

    def parse_document(
        self, file_path: str | Path, method: str = "auto", output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parse any supported file by its extension.

        Raises:
            ParseError: If the extension is not supported or the file cannot be read.
        """
        path = Path(file_path)
        suffix = path.suffix.lower()
        if suffix in PDF_SUFFIXES:
            return self.parse_pdf(path, output_dir=output_dir, method=method, **kwargs)
        modality = MODALITIES.by_suffix(suffix)
        if modality is not None:
            return self.parse_modality_file(modality.name, path, output_dir=output_dir)
        if suffix in MEDIA_SUFFIXES:
            return self.parse_media(path, output_dir=output_dir)
        if suffix in TEXT_SUFFIXES:
            return parse_text_file(path)
        if suffix in OFFICE_SUFFIXES | HTML_SUFFIXES | MARKDOWN_SUFFIXES:
            return DoclingOfflineParser().parse_document(path, output_dir=output_dir, lang=lang, **kwargs)
        raise ParseError(
            path, f"the offline parser does not read {suffix or 'files without an extension'}; "
            f"supported: {', '.join(sorted(self.SUPPORTED_SUFFIXES))}"
        )


register_parser(OFFLINE_PARSER_NAME, OfflineParser)
