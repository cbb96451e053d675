"""The layout pass on scanned pages: image blocks per document, and what it costs per OCR page.

``count``: for every scanned page (the parser's own test: no usable text layer), the page is rendered as the
parser renders it for OCR and the layout detector is run on it; the figure regions the parser keeps are
counted (the image blocks of the page, before the document pass drops repeated logos). No OCR runs.

``cost``: the same pages parsed whole (OCR included) twice, in one process per variant with one thread for OCR
and the detector, as in the parser's workers: ``ocr-only`` (the detector replaced by nothing: the path scanned
pages took before the layout pass) and ``layout``. Reports CPU seconds per page and the process's peak RSS.

Usage:
    python benchmarks/scan_layout.py count PDF...
    python benchmarks/scan_layout.py cost PDF FIRST LAST {ocr-only|layout}

Example:
    python benchmarks/scan_layout.py count /work/shared/eval/mmlongbench-dev/docs/*_95.pdf
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from llama_index_mmrag.parsing.ocr import set_ocr_threads
from llama_index_mmrag.parsing.pdf import page as page_module
from llama_index_mmrag.parsing.pdf.graphics import collect_graphics
from llama_index_mmrag.parsing.pdf.layout_model import FIGURE, detect_regions, set_layout_threads
from llama_index_mmrag.parsing.pdf.page import PageJob, parse_page
from llama_index_mmrag.parsing.pdf.regions import arrange_scan
from llama_index_mmrag.parsing.pdf.text import TextLayer, page_geometry


def count_images(pdf: str) -> dict[str, Any]:
    """Scanned pages of a PDF and the image blocks the layout pass gives them.

    Args:
        pdf: The PDF's path.
    """
    document = pdfium.PdfDocument(pdf)
    scanned, images, cpu = 0, 0, 0.0
    for index in range(len(document)):
        page = document[index]
        geometry = page_geometry(page)
        layer = TextLayer(page, geometry)
        graphics = collect_graphics(page, geometry)
        if page_module._is_scanned(layer.readable_chars(), graphics, geometry):
            scanned += 1
            scale = page_module._ocr_scale(graphics, geometry)
            pixels = page_module._render(page, scale)
            started = time.process_time()
            regions = detect_regions(pixels, scale)
            cpu += time.process_time() - started
            kept = [r for r in regions if r.label != FIGURE or page_module._pictured(pixels, r, scale)]
            images += len(arrange_scan([], kept, (0.0, 0.0, geometry.width, geometry.height)).figures)
        layer.close()
        page.close()
    return {
        "document": Path(pdf).name,
        "pages": len(document),
        "scanned": scanned,
        "image_blocks": images,
        "detector_cpu_s_per_page": round(cpu / max(scanned, 1), 3),
    }


def page_cost(pdf: str, first: int, last: int, variant: str) -> dict[str, Any]:
    """CPU seconds per page of pages ``first`` to ``last - 1`` (all scanned), with or without the layout pass.

    Args:
        pdf: The PDF's path.
        first: First 0-based page.
        last: One past the last page.
        variant: ``ocr-only`` or ``layout``.
    """
    if variant == "ocr-only":
        page_module.detect_regions = lambda pixels, scale: []  # type: ignore[assignment]
    document = pdfium.PdfDocument(pdf)
    folder = tempfile.mkdtemp()
    parse_page(document, PageJob(pdf, first, folder, "warm-up"))  # the engines are built before timing
    cpu, blocks = 0.0, {}
    for index in range(first, last):
        result = parse_page(document, PageJob(pdf, index, folder, "page"))
        if not result.ocr:
            raise SystemExit(f"{pdf}: page {index + 1} has a text layer; pick scanned pages")
        cpu += result.cpu_seconds
        for block in result.blocks:
            blocks[block.item["type"]] = blocks.get(block.item["type"], 0) + 1
    return {
        "variant": variant,
        "pages": last - first,
        "cpu_s_per_page": round(cpu / (last - first), 3),
        "blocks": blocks,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str]) -> None:
    """Run ``count`` or ``cost`` (see the module's docstring).

    Args:
        argv: The command line without the program name.
    """
    set_ocr_threads(1)
    set_layout_threads(1)
    if argv[:1] == ["count"] and len(argv) > 1:
        for pdf in argv[1:]:
            print(json.dumps(count_images(pdf)), flush=True)
    elif argv[:1] == ["cost"] and len(argv) == 5 and argv[4] in ("ocr-only", "layout"):
        print(json.dumps(page_cost(argv[1], int(argv[2]), int(argv[3]), argv[4])))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
