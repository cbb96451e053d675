"""One page of a PDF into content blocks: the unit of work the parser runs in parallel.

Born-digital pages: text-layer lines, ruled tables, figures (raster images and vector drawings rendered to
PNG), display equations, then paragraphs and reading order. Pages without a usable text layer (scans,
outlined text) are rendered and read by OCR. Cross-page decisions (running headers, heading levels) are
left to :mod:`llama_index_mmrag.parsing.pdf.document`, so blocks carry the few facts it needs.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from llama_index_mmrag.parsing.ocr import ocr_image, ocr_text
from llama_index_mmrag.parsing.pdf.figures import FIGURE_CAPTION, MIN_IMAGE_PIXELS, FigureRegion, find_figures
from llama_index_mmrag.parsing.pdf.geometry import Box, PageGeometry, box_area, center_inside, horizontal_overlap, rounded
from llama_index_mmrag.parsing.pdf.graphics import Graphic, collect_graphics
from llama_index_mmrag.parsing.pdf.layout import Paragraph, group_paragraphs, reading_order
from llama_index_mmrag.parsing.pdf.layout_model import FIGURE, Region, detect_regions, scan_layout_enabled
from llama_index_mmrag.parsing.pdf.page_image import (
    PAGE_IMAGE_KIND,
    PAGE_IMAGE_MAX_SIDE,
    PageRenders,
    is_visually_rich,
    page_image_item,
    page_images_enabled,
    page_summary,
)
from llama_index_mmrag.parsing.pdf.regions import RegionContent, arrange_scan
from llama_index_mmrag.parsing.pdf.tables import TABLE_CAPTION, TableRegion, find_tables, rows_to_markdown
from llama_index_mmrag.parsing.pdf.text import Line, TextLayer, has_latex, looks_like_math, page_geometry

MIN_TEXT_CHARS = 20
"""Pages with fewer letters and digits in their text layer are treated as scans and read by OCR."""

FIGURE_SCALE = 2.0
"""Render scale (pixels per point) for figure crops: 144 dpi."""

_MAX_RENDER_SIDE = 2400
_OCR_MAX_SIDE = 1280
_OCR_MAX_SCALE = 2.0
_SCAN_IMAGE_SHARE = 0.5
_SCAN_TEXT_CHARS = 100
_MARGIN_BAND = 0.1
_CONTENT_BAND = 0.08
_CAPTION_DISTANCE = 45.0
_BLANK_STD = 3.0
_OCR_SIZE_FACTOR = 0.75


@dataclass(frozen=True)
class PageJob:
    """What one worker needs to parse one page.

    Args:
        pdf_path: Absolute path of the PDF.
        page_idx: 0-based page index.
        image_dir: Folder the page's PNG crops are written to.
        image_prefix: File-name prefix of those PNGs (unique per document).
        ocr: Whether pages without a text layer and raster figures are read by OCR.

    Example:
        >>> job = PageJob(pdf_path=str(Path("report.pdf").resolve()), page_idx=0, image_dir=".", image_prefix="report",
        ...               ocr=False)
        >>> result = parse_page(pdfium.PdfDocument(job.pdf_path), job)
        >>> result.page_idx, result.ocr, result.error
        (0, False, None)
    """

    pdf_path: str
    page_idx: int
    image_dir: str
    image_prefix: str
    ocr: bool = True


@dataclass
class Block:
    """A content-list item plus the facts the document-level pass needs.

    Args:
        item: The RAG-Anything content-list item.
        size: Font size of the bulk of the block's text.
        bold: Whether the block is mostly bold.
        n_lines: Number of text lines.
        margin: ``"top"`` or ``"bottom"`` when the block sits in the page's header or footer band.
        signature: A fingerprint of an image's pixels and place, to spot logos repeated on every page.

    Example:
        >>> job = PageJob(str(Path("report.pdf").resolve()), 0, image_dir=".", image_prefix="report", ocr=False)
        >>> header, title = parse_page(pdfium.PdfDocument(job.pdf_path), job).blocks[:2]
        >>> header.margin, header.item["text"]                  # the running header, dropped if on every page
        ('top', 'ACME Corporation Annual Report 2024')
        >>> title.size, title.bold, title.n_lines, title.item["text"]
        (18.0, True, 1, '1 Introduction')
    """

    item: dict[str, Any]
    size: float = 0.0
    bold: bool = False
    n_lines: int = 0
    margin: str | None = None
    signature: str | None = None


@dataclass
class PageResult:
    """The blocks of one page, in reading order.

    Args:
        page_idx: 0-based page index.
        blocks: The page's blocks in reading order.
        ocr: Whether the page was read by OCR.
        seconds: Wall time spent on the page.
        cpu_seconds: CPU time of the parsing process spent on the page (all its threads).
        error: Why the page could not be parsed (``None`` when it was).

    Example:
        >>> job = PageJob(str(Path("report.pdf").resolve()), 0, image_dir=".", image_prefix="report", ocr=False)
        >>> result = parse_page(pdfium.PdfDocument(job.pdf_path), job)
        >>> [block.item["type"] for block in result.blocks]      # in reading order
        ['text', 'text', 'text', 'text', 'table', 'text']
    """

    page_idx: int
    blocks: list[Block] = field(default_factory=list)
    ocr: bool = False
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    error: str | None = None


def parse_page(document: pdfium.PdfDocument, job: PageJob) -> PageResult:
    """Parse one page into blocks.

    Args:
        document: The open document.
        job: Which page, and where its images go.

    Returns:
        The page's blocks in reading order; a page pdfium cannot load comes back with ``error`` set.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    result = PageResult(job.page_idx)
    try:
        page = document[job.page_idx]
    except Exception as exc:  # pdfium reports a damaged page object this way
        result.error = f"page {job.page_idx + 1} cannot be loaded ({exc})"
        return result
    try:
        result.blocks, result.ocr = _page_blocks(page, job)
    finally:
        page.close()
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = time.process_time() - started_cpu
    return result


def _page_blocks(page: pdfium.PdfPage, job: PageJob) -> tuple[list[Block], bool]:
    geometry = page_geometry(page)
    layer = TextLayer(page, geometry)
    renders = PageRenders(lambda scale: _render(page, scale))  # each scale rendered once, the page image reuses them
    try:
        graphics = collect_graphics(page, geometry)
        scanned = _is_scanned(layer.readable_chars(), graphics, geometry)
        if scanned and job.ocr:
            blocks = _ocr_blocks(renders, geometry, graphics, job) or _text_layer_blocks(layer, job)
        elif scanned:
            blocks = _text_layer_blocks(layer, job) + _page_image_block(renders, geometry, job)
        else:
            blocks = _digital_blocks(renders, geometry, layer, graphics, job)
        if not blocks:
            blocks = _page_image_block(renders, geometry, job)
        _flag_margins(blocks, geometry)
        ordered = _in_reading_order(blocks)
        return ordered + _page_picture(ordered, renders, geometry, scanned, job), scanned and job.ocr
    finally:
        layer.close()


def _page_picture(
    blocks: list[Block], renders: PageRenders, geometry: PageGeometry, scanned: bool, job: PageJob
) -> list[Block]:
    """The page image of a visually rich page (see :mod:`.page_image`), after the page's blocks, each of which
    then names it in ``page_image``; none when the page is already one whole-page picture, or blank."""
    pictures = [b.item for b in blocks if b.item["type"] == "image"]
    whole = next((item for item in pictures if item.get("image_kind") == PAGE_IMAGE_KIND), None)
    if whole is None:
        if not page_images_enabled():
            return []
        figures = [tuple(item["bbox"]) for item in pictures]
        if not is_visually_rich(geometry.width, geometry.height, scanned=scanned, figure_boxes=figures):  # type: ignore[arg-type]
            return []
        pixels = renders.fitting(geometry.width, geometry.height, PAGE_IMAGE_MAX_SIDE)
        path = Path(job.image_dir) / f"{job.image_prefix}_p{job.page_idx:04d}_page.jpg"
        text = page_summary([b.item for b in blocks])
        whole = page_image_item(pixels, path, page_idx=job.page_idx, size=(geometry.width, geometry.height), text=text)
        if whole is None:
            return []
        added = [Block(whole)]
    else:
        added = []
    for block in blocks:
        if block.item is not whole:
            block.item["page_image"] = whole["img_path"]
    return added


def _is_scanned(chars: int, graphics: list[Graphic], geometry: PageGeometry) -> bool:
    """No usable text layer: almost no text, or a page-sized picture with only a few words on it."""
    if chars < MIN_TEXT_CHARS:
        return True
    page_area = geometry.width * geometry.height
    big_image = any(g.kind == "image" and box_area(g.bbox) >= _SCAN_IMAGE_SHARE * page_area for g in graphics)
    return big_image and chars < _SCAN_TEXT_CHARS


# --- born-digital pages -------------------------------------------------------------------------------


def _digital_blocks(
    renders: PageRenders, geometry: PageGeometry, layer: TextLayer, graphics: list[Graphic], job: PageJob
) -> list[Block]:
    page_box = (0.0, 0.0, geometry.width, geometry.height)
    lines = layer.lines()
    tables = find_tables(graphics, geometry, layer.chars_in)
    lines = [line for line in lines if not any(center_inside(line.bbox, t.bbox) for t in tables)]
    figures = find_figures(graphics, lines, page_box, [t.bbox for t in tables])
    labels = {id(label) for figure in figures for label in figure.labels}
    paragraphs = group_paragraphs([line for line in lines if id(line) not in labels])
    table_captions = _take_captions([t.bbox for t in tables], paragraphs, TABLE_CAPTION)
    figure_captions = _take_captions([f.bbox for f in figures], paragraphs, FIGURE_CAPTION)
    blocks = [_paragraph_block(p, job.page_idx, ocr=False) for p in paragraphs]
    blocks += [_table_block(t, c, job.page_idx) for t, c in zip(tables, table_captions)]
    blocks += _figure_blocks(renders, geometry, figures, figure_captions, job)
    return blocks


def _text_layer_blocks(layer: TextLayer, job: PageJob) -> list[Block]:
    """Paragraphs of whatever text layer a scanned page has (a stamp, a page number)."""
    return [_paragraph_block(p, job.page_idx, ocr=False) for p in group_paragraphs(layer.lines())]


def _take_captions(regions: list[Box], paragraphs: list[Paragraph], pattern: re.Pattern[str]) -> list[list[str]]:
    """For each region, the closest caption paragraph above or below it; taken captions leave ``paragraphs``."""
    captions: list[list[str]] = []
    for region in regions:
        best, best_distance = None, _CAPTION_DISTANCE
        for paragraph in paragraphs:
            box = paragraph.bbox
            if horizontal_overlap(box, region) <= 0 or not pattern.match(paragraph.text):
                continue
            distance = min(abs(region[1] - box[3]), abs(box[1] - region[3]))
            if distance < best_distance:
                best, best_distance = paragraph, distance
        if best is not None:
            paragraphs.remove(best)
            captions.append([best.text])
        else:
            captions.append([])
    return captions


def _paragraph_block(paragraph: Paragraph, page_idx: int, ocr: bool) -> Block:
    text, bbox = paragraph.text, paragraph.bbox
    if paragraph.math:
        item: dict[str, Any] = {
            "type": "equation",
            "latex": text,
            "text": text,
            "text_format": "latex" if has_latex(text) else "text",
            "page_idx": page_idx,
            "bbox": rounded(bbox),
        }
    else:
        item = {"type": "text", "text": text, "text_level": 0, "page_idx": page_idx, "bbox": rounded(bbox), "ocr": ocr}
    return Block(item, size=paragraph.size, bold=paragraph.bold, n_lines=len(paragraph.lines))


def _flag_margins(blocks: list[Block], geometry: PageGeometry) -> None:
    """Mark the blocks that sit in the header or footer band, where running heads and page numbers live.

    The bands are the top and bottom tenth of the page, widened to 8% of the page height inside the
    content's own extent (pages printed small inside a big media box keep their page number far from the
    edge). Only short text blocks and images qualify.
    """
    if not blocks:
        return
    top = max(_MARGIN_BAND * geometry.height, min(b.item["bbox"][1] for b in blocks) + _CONTENT_BAND * geometry.height)
    bottom = min(
        (1 - _MARGIN_BAND) * geometry.height, max(b.item["bbox"][3] for b in blocks) - _CONTENT_BAND * geometry.height
    )
    for block in blocks:
        if block.item["type"] == "table" or (block.item["type"] != "image" and block.n_lines > 2):
            continue
        x0, y0, x1, y1 = block.item["bbox"]
        block.margin = "top" if y1 <= top else "bottom" if y0 >= bottom else None


def _table_block(table: TableRegion, caption: list[str], page_idx: int) -> Block:
    item = {
        "type": "table",
        "table_body": table.markdown(),
        "table_caption": caption,
        "table_footnote": [],
        "page_idx": page_idx,
        "bbox": rounded(table.bbox),
        "n_rows": table.n_rows,
        "n_cols": table.n_cols,
    }
    return Block(item, n_lines=table.n_rows)


def _figure_blocks(
    renders: PageRenders,
    geometry: PageGeometry,
    figures: list[FigureRegion],
    captions: list[list[str]],
    job: PageJob,
) -> list[Block]:
    if not figures:
        return []
    scale = min(FIGURE_SCALE, _MAX_RENDER_SIDE / max(geometry.width, geometry.height))
    rendered = renders.at(scale)
    blocks = []
    for index, (figure, caption) in enumerate(zip(figures, captions)):
        crop = _crop(rendered, figure.bbox, scale)
        band = _MARGIN_BAND * geometry.height
        banner = figure.bbox[3] <= band or figure.bbox[1] >= geometry.height - band  # no OCR for banners, logos
        if min(crop.shape[:2]) < MIN_IMAGE_PIXELS or float(crop.std()) < _BLANK_STD:
            continue
        path = _save_png(crop, job, index)
        text = ocr_text(crop) if figure.needs_ocr and job.ocr and not banner else figure.text_layer_words
        blocks.append(_image_block(path, caption, text, figure.bbox, job.page_idx, crop))
    return blocks


def _image_block(
    path: Path, caption: list[str], text: str, bbox: Box, page_idx: int, pixels: np.ndarray
) -> Block:
    item = {
        "type": "image",
        "img_path": str(path),
        "image_caption": caption,
        "image_footnote": [],
        "page_idx": page_idx,
        "bbox": rounded(bbox),
        "ocr_text": text,
    }
    return Block(item, signature=_signature(pixels, bbox))


def _signature(pixels: np.ndarray, bbox: Box) -> str:
    """A difference hash of the picture plus its rounded place: equal for a logo repeated on every page."""
    small = np.asarray(Image.fromarray(pixels).convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    place = "-".join(str(round(v / 6)) for v in bbox)
    return f"{np.packbits(bits).tobytes().hex()}@{place}"


# --- scanned pages ------------------------------------------------------------------------------------


def _ocr_blocks(renders: PageRenders, geometry: PageGeometry, graphics: list[Graphic], job: PageJob) -> list[Block]:
    scale = _ocr_scale(graphics, geometry)
    pixels = renders.at(scale)
    lines = [
        Line(
            line.text,
            (line.bbox[0] / scale, line.bbox[1] / scale, line.bbox[2] / scale, line.bbox[3] / scale),
            round((line.bbox[3] - line.bbox[1]) / scale * _OCR_SIZE_FACTOR),
            math=looks_like_math(line.text),
        )
        for line in ocr_image(pixels)
    ]
    found = detect_regions(pixels, scale) if scan_layout_enabled() else []
    regions = [r for r in found if r.label != FIGURE or _pictured(pixels, r, scale)]
    scan = arrange_scan(lines, regions, (0.0, 0.0, geometry.width, geometry.height))
    paragraphs = group_paragraphs(scan.text, size_tolerance=0.3)
    untitled = [figure for figure in scan.figures if not figure.caption]
    for figure, caption in zip(untitled, _take_captions([f.region.bbox for f in untitled], paragraphs, FIGURE_CAPTION)):
        figure.caption = caption
    blocks = [_paragraph_block(p, job.page_idx, ocr=True) for p in paragraphs]
    blocks += [_scan_table_block(table, job.page_idx) for table in scan.tables if table.lines]
    for index, figure in enumerate(scan.figures):
        crop = _crop(pixels, figure.region.bbox, scale)
        path = _save_png(crop, job, index)
        blocks.append(_image_block(path, figure.caption, figure.text, figure.region.bbox, job.page_idx, crop))
    return blocks


def _pictured(pixels: np.ndarray, region: Region, scale: float) -> bool:
    """Whether a detected figure region holds a picture: big enough in pixels, not blank."""
    crop = _crop(pixels, region.bbox, scale)
    return min(crop.shape[:2]) >= MIN_IMAGE_PIXELS and float(crop.std()) >= _BLANK_STD


def _scan_table_block(table: RegionContent, page_idx: int) -> Block:
    """A table found on a scan: its OCR lines as markdown rows (the first row as the header)."""
    rows = table.rows()
    item = {
        "type": "table",
        "table_body": rows_to_markdown(rows),
        "table_caption": table.caption,
        "table_footnote": [],
        "page_idx": page_idx,
        "bbox": rounded(table.region.bbox),
        "n_rows": len(rows),
        "n_cols": max((len(row) for row in rows), default=0),
        "ocr": True,
    }
    return Block(item, n_lines=len(rows))


def _ocr_scale(graphics: list[Graphic], geometry: PageGeometry) -> float:
    """Render at the scan's own resolution, within 1-2 px per point and a long side of at most 1280 px."""
    page_area = geometry.width * geometry.height
    scans = [g for g in graphics if g.kind == "image" and box_area(g.bbox) >= _SCAN_IMAGE_SHARE * page_area]
    native = max((g.pixels[0] / max(g.width, 1.0) for g in scans), default=_OCR_MAX_SCALE)
    scale = min(max(native, 1.0), _OCR_MAX_SCALE)
    return min(scale, _OCR_MAX_SIDE / max(geometry.width, geometry.height))


def _page_image_block(renders: PageRenders, geometry: PageGeometry, job: PageJob) -> list[Block]:
    """The whole page as one picture, for a page that yields no text (a photo, a scan with OCR off): it is the
    page's page image as well."""
    scale = min(FIGURE_SCALE, _MAX_RENDER_SIDE / max(geometry.width, geometry.height))
    pixels = renders.at(scale)
    if float(pixels.std()) < _BLANK_STD:
        return []
    path = _save_png(pixels, job, 0, kind="page")
    bbox = (0.0, 0.0, geometry.width, geometry.height)
    block = _image_block(path, [], "", bbox, job.page_idx, pixels)
    block.item["image_kind"] = PAGE_IMAGE_KIND
    return [block]


# --- shared helpers -----------------------------------------------------------------------------------


def _render(page: pdfium.PdfPage, scale: float) -> np.ndarray:
    bitmap = page.render(scale=scale, rev_byteorder=True, limit_image_cache=True)
    try:
        return np.array(bitmap.to_numpy()[:, :, :3])
    finally:
        bitmap.close()


def _crop(pixels: np.ndarray, bbox: Box, scale: float) -> np.ndarray:
    height, width = pixels.shape[:2]
    x0, y0 = max(0, int(bbox[0] * scale)), max(0, int(bbox[1] * scale))
    x1, y1 = min(width, int(np.ceil(bbox[2] * scale))), min(height, int(np.ceil(bbox[3] * scale)))
    return pixels[y0:y1, x0:x1]


def _save_png(pixels: np.ndarray, job: PageJob, index: int, kind: str = "fig") -> Path:
    path = Path(job.image_dir) / f"{job.image_prefix}_p{job.page_idx:04d}_{kind}{index:02d}.png"
    Image.fromarray(pixels).save(path, format="PNG", compress_level=1)
    return path.resolve()


def _in_reading_order(blocks: list[Block]) -> list[Block]:
    boxes = [tuple(block.item["bbox"]) for block in blocks]
    return [blocks[i] for i in reading_order(boxes)]  # type: ignore[arg-type]


def image_prefix(pdf_path: Path) -> str:
    """A file-name prefix unique to a document: its stem plus a short hash of its absolute path.

    Args:
        pdf_path: The PDF's path.
    """
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in pdf_path.stem)[:60] or "document"
    digest = hashlib.blake2b(str(pdf_path.resolve()).encode(), digest_size=4).hexdigest()
    return f"{stem}-{digest}"
