"""What page images cost the parser: CPU seconds per page, bytes on disk, peak RSS, with and without them.

Every page of each PDF is parsed in this process (one thread for OCR and the layout detector, as in the
parser's workers), once per run. ``with`` keeps page images (the parser as it is); ``without`` replaces the
page-image step by nothing (the parser before page images). The CPU seconds spent in the page-image step
itself are counted in the ``with`` run. Run each variant in its own process so peak RSS is its own.

Usage:
    python benchmarks/page_images.py {with|without} PDF...

Example:
    python benchmarks/page_images.py with /work/shared/eval/mmlongbench-dev/docs/efis-*.pdf
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
from llama_index_mmrag.parsing.pdf.layout_model import set_layout_threads
from llama_index_mmrag.parsing.pdf.page import PageJob, parse_page

_STEP = {"cpu": 0.0}


def _timed_step(original: Any) -> Any:
    def step(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            _STEP["cpu"] += time.process_time() - started

    return step


def cost(pdf: str, variant: str) -> dict[str, Any]:
    """Parse every page of ``pdf`` and report the cost.

    Args:
        pdf: The PDF's path.
        variant: ``with`` or ``without`` page images.
    """
    document = pdfium.PdfDocument(pdf)
    folder = Path(tempfile.mkdtemp())
    parse_page(document, PageJob(pdf, 0, str(folder), "warm-up"))  # the engines are built before timing
    for warm in folder.iterdir():
        warm.unlink()
    _STEP["cpu"] = 0.0
    cpu, pictures, ocr_pages = 0.0, 0, 0
    for index in range(len(document)):
        result = parse_page(document, PageJob(pdf, index, str(folder), "page"))
        cpu += result.cpu_seconds
        ocr_pages += result.ocr
        pictures += sum(1 for block in result.blocks if block.item.get("image_kind") == "page")
    pages = len(document)
    page_bytes = sum(path.stat().st_size for path in folder.glob("page_*_page.*"))
    return {
        "document": Path(pdf).name,
        "variant": variant,
        "pages": pages,
        "ocr_pages": ocr_pages,
        "page_images": pictures,
        "cpu_s_per_page": round(cpu / pages, 3),
        "page_image_step_cpu_s_per_page": round(_STEP["cpu"] / pages, 4),
        "page_image_bytes": page_bytes,
        "all_image_bytes": sum(path.stat().st_size for path in folder.iterdir()),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main(argv: list[str]) -> None:
    """Run one variant over the PDFs given (see the module's docstring).

    Args:
        argv: The command line without the program name.
    """
    if len(argv) < 2 or argv[0] not in ("with", "without"):
        raise SystemExit(__doc__)
    set_ocr_threads(1)
    set_layout_threads(1)
    if argv[0] == "without":
        page_module._page_picture = lambda *args, **kwargs: []  # type: ignore[assignment]
    else:
        page_module._page_picture = _timed_step(page_module._page_picture)  # type: ignore[assignment]
    for pdf in argv[1:]:
        print(json.dumps(cost(pdf, argv[0])), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
