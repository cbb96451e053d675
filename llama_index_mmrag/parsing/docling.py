"""Docling for Office files, web pages and Markdown, offline, with content lists in our shape.

RAG-Anything's ``DoclingParser`` runs Docling's ``DocumentConverter`` and turns the exported document into a
content list, but that list is not what the rest of this package (or RAG-Anything's own modal processors)
expect: tables come back as Docling's cell dicts, captions as ``""`` strings and also a second time as text,
headings lose their level, Markdown inline formatting is split into one text item per span, HTML images are
never loaded, page furniture (an HTML ``<title>``, page headers) is mixed into the body, and ``.md`` files do not
go through Docling at all (RAG-Anything reads them with its own line splitter).

This module registers ``"docling-offline"``, a subclass of RAG-Anything's ``DoclingParser`` (so it still runs
through RAG-Anything's parser registry and its parse methods), that changes four things:

* **Converter**: HTML and Markdown images are loaded from local files next to the document, never from the
  network (``enable_remote_fetch=False``); the PDF options stay exactly as RAG-Anything sets them.
* **Size and artifacts**: web pages and Markdown files over the limits in :mod:`llama_index_mmrag.limits` are
  refused before parsing, with the reason (:func:`check_markup_size`), and RAG-Anything's JSON and Markdown
  copies of each converted document, which nothing reads, are not written (on big pages they cost as much as
  the conversion).
* **Markdown** goes through Docling too (RAG-Anything routes ``.md`` to its text splitter, which leaves tables
  as raw ``| a | b |`` text and uses other image keys).
* **Conversion** of the Docling document to a content list (:func:`content_list_from_docling`): tables as
  markdown with a header row, caption and footnote lists attached to their table or image (and not repeated as
  text), ``page_idx`` as 0-based ints (0 for formats without pages), images written to files with absolute
  ``img_path`` and their OCR text, headings with ``text_level``, equations with ``latex``, ``bbox`` in points
  with a top-left origin where the format has page geometry (PDF, PPTX).

:func:`normalize_content_list` brings any parser's content list (RAG-Anything's built-in ``"docling"``,
MinerU, PaddleOCR, a custom one) to the same shape; the reader runs it on every parse.

Everything here works without a network and without model weights: docling-slim's DOCX, PPTX, XLSX, HTML and
Markdown backends are rule-based. Docling's PDF pipeline needs layout models from a hub, see
:func:`llama_index_mmrag.parsing.availability.docling_pdf_status`.

Example:
    >>> from raganything.parser import get_parser
    >>> import llama_index_mmrag.parsing.docling  # registers "docling-offline"
    >>> items = get_parser("docling-offline").parse_document("report.docx", output_dir="./out")  # doctest: +SKIP
    >>> [item["type"] for item in items]                                                          # doctest: +SKIP
    ['text', 'text', 'table', 'image']
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from raganything.parser import DoclingParser, register_parser

from llama_index_mmrag.parsing import availability
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.formats import HTML_SUFFIXES, MARKDOWN_SUFFIXES, OFFICE_SUFFIXES
from llama_index_mmrag.parsing.xlsx_formulas import warn_uncached_formulas

logger = logging.getLogger(__name__)

DOCLING_OFFLINE_PARSER_NAME = "docling-offline"

_EMU_PER_POINT = 12700.0  # PPTX geometry is in English Metric Units
_MIN_OCR_SIDE = 24  # pixels: icons and bullets carry no text worth recognising
_IMAGE_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/gif": ".gif",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
    "image/webp": ".webp",
}
_TEXT_LABELS_SKIPPED = {"page_header", "page_footer"}
_CONVERSION_PREFIX = re.compile(r"^Conversion failed for: .*? with status: \w+\. Errors: ")
_DOCUMENT_HASH = re.compile(r" with hash [0-9a-f]{16,}")


# --- tables -------------------------------------------------------------------------------------------------


def _cell_text(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def grid_to_markdown(rows: Sequence[Sequence[str]], header_rows: int = 1) -> str:
    """Render table rows as a markdown table.

    The first ``header_rows`` rows are merged, column by column, into the markdown header row (a two-level
    header ``2023`` over ``Q1`` becomes ``2023 Q1``). A table without a marked header uses its first row.

    Args:
        rows: Cell texts, row by row (short rows are padded).
        header_rows: How many leading rows are column headers (at least 1 is used).

    Example:
        >>> print(grid_to_markdown([["Region", "Q1"], ["North", "10"]]))
        | Region | Q1 |
        | --- | --- |
        | North | 10 |
    """
    rows = [list(row) for row in rows if any(str(cell).strip() for cell in row)]
    if not rows:
        return ""
    width = max(len(row) for row in rows)
    cells = [[_cell_text(cell) for cell in row] + [""] * (width - len(row)) for row in rows]
    header_rows = min(max(header_rows, 1), len(cells) - 1) if len(cells) > 1 else 1
    header: list[str] = []
    for col in range(width):
        parts: list[str] = []
        for row in cells[:header_rows]:
            if row[col] and (not parts or parts[-1] != row[col]):
                parts.append(row[col])
        header.append(" ".join(parts))
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(["---"] * width) + " |"]
    lines.extend("| " + " | ".join(row) + " |" for row in cells[header_rows:])
    return "\n".join(lines)


def _grid_from_cells(data: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Rebuild Docling's ``grid`` from ``table_cells`` (exports that omit the grid)."""
    cells = data.get("table_cells") or []
    n_rows = int(data.get("num_rows") or max((c.get("end_row_offset_idx", 0) for c in cells), default=0))
    n_cols = int(data.get("num_cols") or max((c.get("end_col_offset_idx", 0) for c in cells), default=0))
    grid: list[list[dict[str, Any]]] = [[{"text": ""} for _ in range(n_cols)] for _ in range(n_rows)]
    for cell in cells:
        for r in range(cell.get("start_row_offset_idx", 0), min(cell.get("end_row_offset_idx", 0), n_rows)):
            for c in range(cell.get("start_col_offset_idx", 0), min(cell.get("end_col_offset_idx", 0), n_cols)):
                grid[r][c] = cell
    return grid


def docling_table_markdown(data: dict[str, Any]) -> str:
    """Turn Docling's table data (``{"table_cells", "num_rows", "num_cols", "grid"}``) into markdown.

    Leading rows with column-header cells become the markdown header. A cell spanning several columns is
    repeated across them in header rows (so merged headers compose) and written once in body rows.

    Args:
        data: The ``data`` of a Docling table item, as exported by ``DoclingDocument.export_to_dict()``.

    Example:
        >>> cell = lambda t, r, c, h=False: {"text": t, "column_header": h, "start_row_offset_idx": r,
        ...     "end_row_offset_idx": r + 1, "start_col_offset_idx": c, "end_col_offset_idx": c + 1}
        >>> data = {"num_rows": 2, "num_cols": 2, "table_cells": [cell("Name", 0, 0, True),
        ...     cell("Role", 0, 1, True), cell("Proxy", 1, 0), cell("entry", 1, 1)]}
        >>> print(docling_table_markdown(data))
        | Name | Role |
        | --- | --- |
        | Proxy | entry |
    """
    grid = data.get("grid") or _grid_from_cells(data)
    header_rows = 0
    for row in grid:
        if row and any(cell.get("column_header") for cell in row):
            header_rows += 1
        else:
            break
    rows: list[list[str]] = []
    for r, row in enumerate(grid):
        texts = []
        for c, cell in enumerate(row):
            continued = cell.get("start_col_offset_idx", c) != c
            texts.append("" if continued and r >= header_rows else str(cell.get("text") or ""))
        rows.append(texts)
    return grid_to_markdown(rows, header_rows or 1)


def table_body_markdown(body: Any) -> str:
    """Any parser's ``table_body`` as text: Docling dicts and row lists become markdown, strings stay.

    Args:
        body: A markdown or HTML string (MinerU, our PDF parser), Docling's table data dict, or rows of cells.
    """
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        return docling_table_markdown(body)
    if isinstance(body, (list, tuple)):
        rows = [[str(c) for c in row] if isinstance(row, (list, tuple)) else [str(row)] for row in body]
        return grid_to_markdown(rows)
    return str(body)


# --- Docling document -> content list ----------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:
    """Captions and footnotes as a list of non-empty strings (parsers give ``""``, a string or a list)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    if isinstance(value, Iterable):
        return [str(v).strip() for v in value if v is not None and str(v).strip()]
    return [str(value)]


def _as_page(value: Any) -> int:
    try:
        page = int(value)
    except (TypeError, ValueError):
        return 0
    return max(page, 0)


class _DoclingDocumentReader:
    """Walks an exported Docling document in reading order and emits content-list items."""

    def __init__(self, doc: dict[str, Any], image_dir: Path, ocr: bool) -> None:
        self.doc = doc
        self.image_dir = image_dir
        self.ocr = ocr
        suffix = Path(str((doc.get("origin") or {}).get("filename") or "")).suffix.lower()
        # PPTX geometry is in EMU; XLSX "pages" are sheets whose boxes are cell ranges, not geometry.
        self.scale = 1.0 / _EMU_PER_POINT if suffix == ".pptx" else 1.0
        self.geometric = suffix != ".xlsx"
        self.items: list[dict[str, Any]] = []
        self.has_title = any(
            t.get("label") == "title" and t.get("content_layer", "body") == "body" for t in doc.get("texts") or []
        )
        self.attached = self._attached_refs()

    def _resolve(self, ref: Any) -> tuple[str, int, dict[str, Any]] | None:
        try:
            _, kind, index = str(ref["$ref"]).split("/")
            return kind, int(index), self.doc[kind][int(index)]
        except (KeyError, TypeError, ValueError, IndexError):
            logger.warning("%s: unresolvable Docling reference %r", self.doc.get("name"), ref)
            return None

    def _attached_refs(self) -> set[str]:
        """Caption/footnote texts that belong to a table or a picture we keep (not repeated as text)."""
        refs: set[str] = set()
        owners = list(self.doc.get("tables") or []) + [p for p in self.doc.get("pictures") or [] if self._image_uri(p)]
        for owner in owners:
            for ref in list(owner.get("captions") or []) + list(owner.get("footnotes") or []):
                if isinstance(ref, dict) and "$ref" in ref:
                    refs.add(ref["$ref"])
        return refs

    def _ref_texts(self, refs: Any) -> list[str]:
        texts = []
        for ref in refs or []:
            resolved = self._resolve(ref)
            if resolved is not None:
                text = str(resolved[2].get("text") or resolved[2].get("orig") or "").strip()
                if text:
                    texts.append(text)
        return texts

    def _where(self, item: dict[str, Any]) -> dict[str, Any]:
        """``page_idx`` (0-based; 0 for formats without pages) and ``bbox`` (points, top-left origin)."""
        for prov in item.get("prov") or []:
            page_no = prov.get("page_no")
            if not isinstance(page_no, int) or page_no < 1:
                continue
            where: dict[str, Any] = {"page_idx": page_no - 1}
            box = prov.get("bbox")
            if self.geometric and isinstance(box, dict) and {"l", "t", "r", "b"} <= box.keys():
                left, top, right, bottom = (float(box[k]) for k in ("l", "t", "r", "b"))
                if str(box.get("coord_origin", "TOPLEFT")).upper().endswith("BOTTOMLEFT"):
                    page = (self.doc.get("pages") or {}).get(str(page_no)) or {}
                    height = float((page.get("size") or {}).get("height", 0))
                    top, bottom = height - top, height - bottom
                x0, x1 = sorted((left * self.scale, right * self.scale))
                y0, y1 = sorted((top * self.scale, bottom * self.scale))
                if x1 > x0 and y1 > y0:
                    where["bbox"] = [round(v, 2) for v in (x0, y0, x1, y1)]
            return where
        return {"page_idx": 0}

    def run(self) -> list[dict[str, Any]]:
        self._walk((self.doc.get("body") or {}).get("children") or [])
        return self.items

    def _walk(self, children: Sequence[Any]) -> None:
        for ref in children:
            resolved = self._resolve(ref)
            if resolved is None:
                continue
            kind, index, item = resolved
            if item.get("content_layer", "body") != "body":
                continue  # furniture: page headers/footers, an HTML <title>
            if kind == "groups":
                if item.get("label") == "inline":
                    self._inline(item)
                else:
                    self._walk(item.get("children") or [])
            elif kind == "texts":
                if ref.get("$ref") not in self.attached:
                    self._text(item)
                self._walk(item.get("children") or [])
            elif kind == "tables":
                self._table(item)  # cell contents are in the table body: children are not walked
            elif kind == "pictures":
                self._picture(item, index)
            # key_value_items / form_items: no content-list type; their texts are not in the body tree

    def _inline(self, group: dict[str, Any]) -> None:
        """One text item for a paragraph Docling split into formatted spans (Markdown ``Some *bold* text``)."""
        parts: list[str] = []
        first: dict[str, Any] | None = None

        def collect(children: Sequence[Any]) -> None:
            nonlocal first
            for ref in children:
                resolved = self._resolve(ref)
                if resolved is None:
                    continue
                kind, _, item = resolved
                if kind == "texts" and str(item.get("text") or "").strip():
                    parts.append(str(item["text"]).strip())
                    first = first or item
                collect(item.get("children") or [])

        collect(group.get("children") or [])
        if parts and first is not None:
            self.items.append({"type": "text", "text": " ".join(parts), "text_level": 0, **self._where(first)})

    def _text(self, item: dict[str, Any]) -> None:
        label = item.get("label")
        text = str(item.get("text") or item.get("orig") or "").strip()
        if not text or label in _TEXT_LABELS_SKIPPED:
            return
        if label == "formula":
            original = str(item.get("orig") or text).strip()
            self.items.append(
                {"type": "equation", "latex": text, "text": original, "text_format": "latex", **self._where(item)}
            )
            return
        level = 0
        if label == "title":
            level = 1
        elif label == "section_header":
            level = min(int(item.get("level") or 1) + (1 if self.has_title else 0), 6)
        elif label == "list_item" and item.get("marker"):
            text = f"{item['marker']} {text}"
        self.items.append({"type": "text", "text": text, "text_level": level, **self._where(item)})

    def _table(self, item: dict[str, Any]) -> None:
        body = docling_table_markdown(item.get("data") or {})
        captions, footnotes = self._ref_texts(item.get("captions")), self._ref_texts(item.get("footnotes"))
        if not body and not captions:
            return
        data = item.get("data") or {}
        self.items.append(
            {
                "type": "table",
                "table_body": body,
                "table_caption": captions,
                "table_footnote": footnotes,
                "n_rows": int(data.get("num_rows") or 0),
                "n_cols": int(data.get("num_cols") or 0),
                **self._where(item),
            }
        )

    @staticmethod
    def _image_uri(item: dict[str, Any]) -> str:
        return str((item.get("image") or {}).get("uri") or "")

    def _picture(self, item: dict[str, Any], index: int) -> None:
        uri = self._image_uri(item)
        if not uri.startswith("data:"):
            # No pixels: an <img> whose file is missing or remote (never fetched) or a linked picture. Its
            # caption or alt text was kept as a text item by the walk; there is nothing else to index.
            logger.info(
                "%s: picture %d has no image data (missing or remote file); its caption stays as text",
                self.doc.get("name"),
                index,
            )
            return
        header, _, payload = uri.partition(",")
        mimetype = header[5:].split(";", 1)[0].lower() or str((item.get("image") or {}).get("mimetype") or "")
        try:
            data = base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"picture {index} carries undecodable image data ({exc})") from exc
        self.image_dir.mkdir(parents=True, exist_ok=True)
        path = (self.image_dir / f"image_{index}{_IMAGE_EXTENSIONS.get(mimetype, '.png')}").resolve()
        path.write_bytes(data)
        self.items.append(
            {
                "type": "image",
                "img_path": str(path),
                "image_caption": self._ref_texts(item.get("captions")),
                "image_footnote": self._ref_texts(item.get("footnotes")),
                "ocr_text": _ocr(path) if self.ocr else "",
                **self._where(item),
            }
        )


def _ocr(path: Path) -> str:
    from PIL import Image

    from llama_index_mmrag.parsing.ocr import ocr_text

    with Image.open(path) as img:
        if min(img.size) < _MIN_OCR_SIDE:
            return ""
    return ocr_text(path)


def content_list_from_docling(doc: dict[str, Any], image_dir: str | Path, *, ocr: bool = True) -> list[dict[str, Any]]:
    """Turn an exported Docling document into a content list in reading order.

    Args:
        doc: ``DoclingDocument.export_to_dict()``.
        image_dir: Folder the pictures are written to (created when needed).
        ocr: Recognise the text in pictures (``ocr_text``) so diagrams are searchable without a VLM.

    Returns:
        ``text`` (``text``, ``text_level``), ``table`` (markdown ``table_body``, ``table_caption``,
        ``table_footnote``, ``n_rows``, ``n_cols``), ``image`` (absolute ``img_path``, ``image_caption``,
        ``image_footnote``, ``ocr_text``) and ``equation`` (``latex``, ``text``) items, each with an int
        ``page_idx`` and, where the format has page geometry, ``bbox``.
    """
    return _DoclingDocumentReader(doc, Path(image_dir), ocr).run()


# --- any parser's content list -> ours -------------------------------------------------------------------


def normalize_content_list(
    items: Iterable[dict[str, Any]], *, base_dirs: Sequence[str | Path] = ()
) -> list[dict[str, Any]]:
    """Bring a content list from any RAG-Anything parser to the shape this package uses.

    Tables get a markdown (or, from MinerU, HTML) ``table_body``; captions and footnotes become lists under
    RAG-Anything's documented keys (``img_caption`` becomes ``image_caption``); ``page_idx`` becomes a
    non-negative int; equations get ``latex``; relative image paths are resolved against ``base_dirs``; empty
    text items are dropped. Unknown item types pass through unchanged.

    Args:
        items: The parser's content list.
        base_dirs: Folders to resolve relative ``img_path`` values against (the output folder, the source's).

    Example:
        >>> item = {"type": "table", "table_body": [["a", "b"], ["1", "2"]], "table_caption": "T"}
        >>> table = normalize_content_list([item])[0]
        >>> table["table_body"].splitlines()[0], table["table_caption"], table["page_idx"]
        ('| a | b |', ['T'], 0)
    """
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        new = dict(item)
        new["page_idx"] = _as_page(item.get("page_idx"))
        kind = item.get("type")
        if kind == "text":
            new["text"] = str(item.get("text") or "")
            if not new["text"].strip():
                continue
            new["text_level"] = int(item.get("text_level") or 0)
        elif kind == "table":
            new["table_body"] = table_body_markdown(item.get("table_body"))
            new["table_caption"] = _as_list(item.get("table_caption"))
            new["table_footnote"] = _as_list(item.get("table_footnote"))
        elif kind == "image":
            new["image_caption"] = _as_list(item.get("image_caption", item.get("img_caption")))
            new["image_footnote"] = _as_list(item.get("image_footnote", item.get("img_footnote")))
            new.pop("img_caption", None)
            new.pop("img_footnote", None)
            new["img_path"] = _absolute_image_path(item.get("img_path"), base_dirs)
        elif kind == "equation":
            new["latex"] = str(item.get("latex") or item.get("text") or "")
            new["text"] = str(item.get("text") or "")
        out.append(new)
    return out


def _absolute_image_path(value: Any, base_dirs: Sequence[str | Path]) -> str | None:
    if not value:
        return None
    path = Path(str(value)).expanduser()
    if path.is_absolute():
        return str(path)
    for base in base_dirs:
        candidate = Path(base) / path
        if candidate.exists():
            return str(candidate.resolve())
    return str(path.resolve())


# --- the registered parser ------------------------------------------------------------------------------


class DoclingOfflineParser(DoclingParser):
    """RAG-Anything's Docling parser, offline, returning our content-list shape (registered as ``"docling-offline"``).

    Reads DOCX, PPTX, XLSX, HTML and Markdown with docling-slim's rule-based backends (no model, no network),
    PDFs with Docling's model pipeline (only where its models are on disk; ``parser="auto"`` checks), images
    with the offline OCR and plain text with RAG-Anything's text reader.

    Example:
        >>> from raganything.parser import get_parser
        >>> parser = get_parser("docling-offline")
        >>> items = parser.parse_document("page.html", output_dir="./out")   # doctest: +SKIP
        >>> next(i for i in items if i["type"] == "table")["table_body"].splitlines()[1]  # doctest: +SKIP
        '| --- | --- |'
    """

    OFFICE_FORMATS: ClassVar[set[str]] = set(OFFICE_SUFFIXES)  # .doc/.ppt/.xls are binary: Docling cannot read them
    HTML_FORMATS: ClassVar[set[str]] = set(HTML_SUFFIXES)
    MARKDOWN_FORMATS: ClassVar[set[str]] = set(MARKDOWN_SUFFIXES)

    # One converter per option set for the whole process (RAG-Anything caches per parser instance, and
    # ``get_parser`` makes a new instance on every call).
    _CONVERTERS: ClassVar[dict[tuple[Any, ...], Any]] = {}
    _CONVERTERS_LOCK: ClassVar[threading.Lock] = threading.Lock()

    def _get_converter(self, **kwargs: Any) -> Any:
        """Docling converter: RAG-Anything's PDF options, plus local-only image loading for HTML and Markdown.

        Args:
            **kwargs: RAG-Anything's converter options (``table_mode``, ``tables``, ``allow_ocr``,
                ``artifacts_path``); other keys are ignored.
        """
        key = tuple(kwargs.get(k) for k in ("table_mode", "tables", "allow_ocr", "artifacts_path"))
        converter = self._CONVERTERS.get(key)
        if converter is not None:
            return converter
        from docling.datamodel.backend_options import HTMLBackendOptions, MarkdownBackendOptions
        from docling.datamodel.base_models import InputFormat
        from docling.document_converter import DocumentConverter, HTMLFormatOption, MarkdownFormatOption

        with self._CONVERTERS_LOCK:
            converter = self._CONVERTERS.get(key)
            if converter is None:
                upstream = super()._get_converter(**kwargs)  # PDF pipeline options exactly as RAG-Anything sets them
                local_only = {"fetch_images": True, "enable_local_fetch": True, "enable_remote_fetch": False}
                converter = DocumentConverter(
                    format_options={
                        **upstream.format_to_options,
                        InputFormat.HTML: HTMLFormatOption(backend_options=HTMLBackendOptions(**local_only)),
                        InputFormat.MD: MarkdownFormatOption(backend_options=MarkdownBackendOptions(**local_only)),
                    }
                )
                self._CONVERTERS[key] = converter
        return converter

    def _run_docling_python(
        self, input_path: str | Path, output_dir: str | Path, file_stem: str, **kwargs: Any
    ) -> dict[str, Any]:
        """Convert with Docling and return the exported document, without RAG-Anything's artifacts.

        RAG-Anything also writes the document as indented JSON and as Markdown next to the output; nothing
        reads them back, and on a big page they cost as much as the conversion itself (a 10,000-row Markdown
        table: 16 s of 47 s). The document's folder is still created: pictures are written under it.

        Args:
            input_path: The file.
            output_dir: Base output folder (``<output_dir>/<file_stem>/docling`` is created).
            file_stem: The file's name without extension.
            **kwargs: Converter options, see :meth:`_get_converter` (RAG-Anything's legacy ``env`` is ignored).
        """
        kwargs.pop("env", None)
        (Path(output_dir) / file_stem / "docling").mkdir(parents=True, exist_ok=True)
        result = self._get_converter(**kwargs).convert(str(input_path))
        return result.document.export_to_dict()

    def read_from_block_recursive(
        self,
        block: dict[str, Any],
        type: str,  # noqa: A002  (RAG-Anything's parameter name)
        output_dir: Path,
        cnt: int,
        num: str,
        docling_content: dict[str, Any],
    ) -> list[dict[str, Any]]:
        """Convert the document with :func:`content_list_from_docling` (RAG-Anything's parse methods call this
        hook with the document body, so ``parse_pdf``/``parse_office_doc``/``parse_html`` all return our shape).

        Args:
            block: The Docling item to convert (the body for a whole document).
            type: The item's collection in the Docling dict (``"body"`` for a whole document).
            output_dir: The document's Docling output folder; pictures go to ``output_dir/images``.
            cnt: RAG-Anything's running item counter (unused here).
            num: The item's index in its collection.
            docling_content: The whole exported Docling document.
        """
        if type == "body":
            return content_list_from_docling(docling_content, Path(output_dir) / "images")
        return super().read_from_block_recursive(block, type, output_dir, cnt, num, docling_content)

    def parse_pdf(
        self,
        pdf_path: str | Path,
        output_dir: str | None = None,
        method: str = "auto",
        lang: str | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Parse a PDF with Docling's model pipeline, but only when its models are already on disk.

        Without them Docling would try to download layout and table weights from a hub; this parser refuses
        instead, with the reason, so that nothing here reaches for the network.

        Args:
            pdf_path: The PDF file.
            output_dir: Base output folder for artifacts and pictures.
            method: Parsing method (``auto``, ``txt``, ``ocr``).
            lang: Document language for OCR.
            **kwargs: Converter options, see :meth:`_get_converter`.

        Raises:
            ParseError: If Docling's PDF models are not available offline.
        """
        status = availability.docling_pdf_status()
        if not status.ready:
            raise ParseError(pdf_path, f"Docling cannot read PDFs offline here: {status.reason}; use the 'mmrag' parser")
        return super().parse_pdf(pdf_path, output_dir, method, lang, **kwargs)

    def parse_markdown(
        self, md_path: str | Path, output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Parse a Markdown file with Docling (tables, headings, local images), like ``parse_html`` does HTML.

        Args:
            md_path: The Markdown file.
            output_dir: Base output folder (a unique subfolder per file is used).
            lang: Unused (no OCR of the page).
            **kwargs: Converter options, see :meth:`_get_converter`.
        """
        md_path = Path(md_path)
        if not md_path.exists():
            raise FileNotFoundError(f"Markdown file does not exist: {md_path}")
        base = self._unique_output_dir(output_dir, md_path) if output_dir else md_path.parent / "docling_output"
        base.mkdir(parents=True, exist_ok=True)
        doc_dict = self._run_docling_python(input_path=md_path, output_dir=base, file_stem=md_path.stem, **kwargs)
        file_subdir = base / md_path.stem / "docling"
        return self.read_from_block_recursive(doc_dict["body"], "body", file_subdir, 0, "0", doc_dict)

    def parse_image(
        self, image_path: str | Path, output_dir: str | None = None, lang: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """An image file as one image block with its OCR text.

        Docling reads images only through its OCR and layout models (hub weights); a standalone image has no
        document structure for those to add, so it is read with the offline OCR, as the ``"mmrag"`` parser does.

        Args:
            image_path: The image file.
            output_dir: Unused (the image is referenced in place).
            lang: Unused.
            **kwargs: Unused.
        """
        from llama_index_mmrag.parsing.image import parse_image_file

        return parse_image_file(image_path)

    def parse_document(
        self,
        file_path: str | Path,
        method: str = "auto",
        output_dir: str | None = None,
        lang: str | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Parse any supported file by its extension.

        Args:
            file_path: The file.
            method: PDF parsing method (``auto``, ``txt``, ``ocr``), passed to Docling's PDF path.
            output_dir: Base output folder for artifacts and pictures.
            lang: Document language (PDF OCR only).
            **kwargs: Converter options, see :meth:`_get_converter`.

        Raises:
            ParseError: If the extension is not supported or Docling cannot read the file.
        """
        path = Path(file_path)
        suffix = path.suffix.lower()
        if suffix in self.IMAGE_FORMATS:
            return self.parse_image(path, output_dir, lang, **kwargs)
        if suffix in self.TEXT_FORMATS - self.MARKDOWN_FORMATS:
            return self.parse_text_file(path, output_dir, lang, **kwargs)
        readers = {
            **{s: self.parse_office_doc for s in self.OFFICE_FORMATS},
            **{s: self.parse_html for s in self.HTML_FORMATS},
            **{s: self.parse_markdown for s in self.MARKDOWN_FORMATS},
        }
        check_markup_size(path)
        try:
            if suffix == ".pdf":
                return self.parse_pdf(path, output_dir, method, lang, **kwargs)
            if suffix in readers:
                items = readers[suffix](path, output_dir, lang, **kwargs)
                if suffix == ".xlsx":
                    warn_uncached_formulas(path)  # Docling reads cached results: cells without one come out empty
                return items
        except (OSError, ValueError, RuntimeError) as exc:
            if isinstance(exc, ParseError):
                raise
            raise ParseError(path, _docling_failure(suffix, exc)) from exc
        supported = sorted(self.OFFICE_FORMATS | self.HTML_FORMATS | self.MARKDOWN_FORMATS | {".pdf", ".txt"})
        raise ParseError(
            path,
            f"the Docling parser does not read {suffix or 'files without an extension'}; supported: {', '.join(supported)}",
        )


def check_markup_size(path: Path) -> None:
    """Refuse, before any parsing, a web page or Markdown file over its size limit.

    Docling's time grows with the size of the page (and so does the number of chunks to embed), so a page far
    over the limit would run for many minutes; the limits are in :mod:`llama_index_mmrag.limits`.

    Args:
        path: The file.

    Raises:
        ParseError: Naming the file, its size and the limit.
    """
    from llama_index_mmrag import limits

    suffix = path.suffix.lower()
    if suffix in HTML_SUFFIXES:
        limit, name, what = limits.MAX_HTML_BYTES, "MAX_HTML_BYTES", "web page"
    elif suffix in MARKDOWN_SUFFIXES:
        limit, name, what = limits.MAX_MARKDOWN_BYTES, "MAX_MARKDOWN_BYTES", "Markdown file"
    else:
        return
    try:
        size = path.stat().st_size
        if size > limit:
            raise ParseError(
                path,
                f"this {what} is {size / 1e6:,.1f} MB, over the {limit / 1e6:,.1f} MB limit for {suffix} files "
                f"(llama_index_mmrag.limits.{name}); split it into smaller files (for example one per chapter) "
                "or save it as PDF, and ingest those",
            )
        cells = count_table_cells(path.read_bytes(), markdown=suffix in MARKDOWN_SUFFIXES)
    except OSError:
        return  # the parser names a missing or unreadable file
    if cells > limits.MAX_MARKUP_TABLE_CELLS:
        raise ParseError(
            path,
            f"this {what} holds {cells:,} table cells, over the limit of {limits.MAX_MARKUP_TABLE_CELLS:,} "
            "(llama_index_mmrag.limits.MAX_MARKUP_TABLE_CELLS); split its tables into several files, or save "
            "a big table as CSV, and ingest those",
        )


_HTML_CELL = re.compile(rb"<t[dh][\s>/]", re.IGNORECASE)


def count_table_cells(data: bytes, *, markdown: bool) -> int:
    """How many table cells a page holds, counted from its bytes without parsing it.

    Args:
        data: The file's content.
        markdown: Count pipe-table cells (``| a | b |``: 2) instead of HTML ``<td>`` and ``<th>`` elements.

    Example:
        >>> count_table_cells(b"| a | b |\\n| --- | --- |\\n| 1 | 2 |\\n", markdown=True)
        4
        >>> count_table_cells(b"<table><tr><th>a</th><td>1</td></tr></table>", markdown=False)
        2
    """
    if not markdown:
        return len(_HTML_CELL.findall(data))
    cells = 0
    for line in data.splitlines():
        row = line.strip()
        if row.startswith(b"|") and not row.strip(b"|-: \t"):  # a rule line: | --- | :-: |
            continue
        if row.startswith(b"|"):
            cells += max(row.count(b"|") - row.count(b"\\|") - 1, 1)
    return cells


def _docling_failure(suffix: str, exc: BaseException) -> str:
    """A reason for a failed Docling conversion that tells the user what to do."""
    message = " ".join(str(exc).split())
    message = _CONVERSION_PREFIX.sub("", message)
    message = _DOCUMENT_HASH.sub("", message)
    if "could not load document" in message or "not valid" in message or "File format not allowed" in message:
        return (
            f"the file is damaged or not really a {suffix} file (Docling: {message}); "
            "open it in its application and save it again"
        )
    return f"Docling failed on this {suffix} file ({type(exc).__name__}: {message})"


register_parser(DOCLING_OFFLINE_PARSER_NAME, DoclingOfflineParser)
