"""Benchmark the offline PDF parser over a folder of PDFs.

Reports born-digital pages per second, seconds per OCR page, blocks per modality, OCR page count, pages
that yielded no block, and peak memory. Wall time of each document is split between its born-digital and
its OCR pages in proportion to the time the workers spent on each kind of page.

Wall-clock figures depend on what else the machine runs, so the CPU time the workers spent per page is
reported too (with the load average), and from it the throughput an otherwise idle machine with as many
cores as workers would reach.

Usage:
    python benchmarks/parse.py [--docs DIR] [--workers N] [--no-ocr] [--limit N] [--json OUT]

Example:
    python benchmarks/parse.py --docs /work/shared/eval/mmlongbench-dev/docs --json parse.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from llama_index_mmrag.parsing.pdf.parse import parse_pdf_with_stats, shutdown_workers

DEFAULT_DOCS = Path("/work/shared/eval/mmlongbench-dev/docs")


@dataclass
class DocumentFigures:
    """Per-document results.

    Args:
        name: File name.
        pages: Number of pages.
        ocr_pages: Pages read by OCR.
        wall_seconds: Wall-clock parse time.
        digital_seconds: Share of the wall time spent on born-digital pages.
        ocr_seconds: Share of the wall time spent on OCR pages.
        digital_cpu_seconds: CPU time the workers spent on born-digital pages.
        ocr_cpu_seconds: CPU time the workers spent on OCR pages.
        workers: Worker processes used.
        blocks: Items per type.
        empty_pages: 0-based pages that yielded no item.
    """

    name: str
    pages: int
    ocr_pages: int
    wall_seconds: float
    digital_seconds: float
    ocr_seconds: float
    digital_cpu_seconds: float
    ocr_cpu_seconds: float
    workers: int
    blocks: dict[str, int] = field(default_factory=dict)
    empty_pages: list[int] = field(default_factory=list)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="folder of PDFs")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: all CPUs)")
    parser.add_argument("--no-ocr", action="store_true", help="parse without OCR")
    parser.add_argument("--limit", type=int, default=None, help="only the first N documents")
    parser.add_argument("--json", type=Path, default=None, help="write the figures to this JSON file")
    return parser.parse_args(argv)


def benchmark_document(pdf: Path, output_dir: Path, workers: int | None, ocr: bool) -> DocumentFigures:
    """Parse one PDF and measure it.

    Args:
        pdf: The PDF.
        output_dir: Where its images go.
        workers: Worker processes.
        ocr: Whether OCR runs.
    """
    items, stats = parse_pdf_with_stats(pdf, output_dir / pdf.stem, ocr=ocr, workers=workers)
    ocr_pages = set(stats.ocr_pages)
    ocr_work = sum(s for i, s in enumerate(stats.page_seconds) if i in ocr_pages)
    total_work = sum(stats.page_seconds) or 1.0
    ocr_share = stats.wall_seconds * ocr_work / total_work
    covered = {item["page_idx"] for item in items}
    ocr_cpu = sum(s for i, s in enumerate(stats.page_cpu_seconds) if i in ocr_pages)
    return DocumentFigures(
        name=pdf.name,
        pages=stats.pages,
        ocr_pages=len(ocr_pages),
        wall_seconds=stats.wall_seconds,
        digital_seconds=stats.wall_seconds - ocr_share,
        ocr_seconds=ocr_share,
        digital_cpu_seconds=sum(stats.page_cpu_seconds) - ocr_cpu,
        ocr_cpu_seconds=ocr_cpu,
        workers=stats.workers,
        blocks=dict(Counter(item["type"] for item in items)),
        empty_pages=[page for page in range(stats.pages) if page not in covered],
    )


def summarise(documents: list[DocumentFigures], wall_seconds: float, load: list[float]) -> dict[str, Any]:
    """Aggregate the per-document figures.

    Args:
        documents: Per-document results.
        wall_seconds: Wall time of the whole run.
        load: 1-minute load averages sampled after each document.
    """
    pages = sum(d.pages for d in documents)
    ocr_pages = sum(d.ocr_pages for d in documents)
    digital_seconds = sum(d.digital_seconds for d in documents)
    ocr_seconds = sum(d.ocr_seconds for d in documents)
    digital_cpu = sum(d.digital_cpu_seconds for d in documents)
    ocr_cpu = sum(d.ocr_cpu_seconds for d in documents)
    cores = max((d.workers for d in documents), default=1)
    blocks: Counter[str] = Counter()
    for document in documents:
        blocks.update(document.blocks)
    self_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "documents": len(documents),
        "pages": pages,
        "digital_pages": pages - ocr_pages,
        "ocr_pages": ocr_pages,
        "wall_seconds": round(wall_seconds, 2),
        "digital_pages_per_second": round((pages - ocr_pages) / digital_seconds, 2) if digital_seconds else None,
        "seconds_per_ocr_page": round(ocr_seconds / ocr_pages, 3) if ocr_pages else None,
        "workers": cores,
        "cpu_seconds_per_digital_page": round(digital_cpu / (pages - ocr_pages), 4) if pages > ocr_pages else None,
        "cpu_seconds_per_ocr_page": round(ocr_cpu / ocr_pages, 3) if ocr_pages else None,
        "idle_machine_digital_pages_per_second": round((pages - ocr_pages) * cores / digital_cpu, 2) if digital_cpu else None,
        "idle_machine_seconds_per_ocr_page": round(ocr_cpu / cores / ocr_pages, 3) if ocr_pages else None,
        "load_average_1min_mean": round(sum(load) / len(load), 2) if load else None,
        "blocks": dict(sorted(blocks.items())),
        "pages_with_zero_blocks": [[d.name, p] for d in documents for p in d.empty_pages],
        "peak_rss_mib_main": round(self_peak, 1),
        "peak_rss_mib_largest_worker": round(worker_peak, 1),
    }


def _document_line(d: DocumentFigures) -> str:
    blocks = " ".join(f"{k}={v}" for k, v in sorted(d.blocks.items()))
    cpu = d.digital_cpu_seconds + d.ocr_cpu_seconds
    return f"{d.name[:50]:50} pages={d.pages:4d} ocr={d.ocr_pages:3d} wall={d.wall_seconds:7.2f}s cpu={cpu:7.2f}s {blocks}"


def print_report(documents: list[DocumentFigures], summary: dict[str, Any]) -> None:
    """Print the summary (per-document lines are printed as the documents finish).

    Args:
        documents: Per-document results.
        summary: The aggregate from :func:`summarise`.
    """
    print()
    for key, value in summary.items():
        print(f"{key:30} {value}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark.

    Args:
        argv: Command-line arguments.
    """
    args = parse_arguments(argv)
    pdfs = sorted(args.docs.glob("*.pdf"))[: args.limit]
    if not pdfs:
        print(f"no PDF files in {args.docs}", file=sys.stderr)
        return 2
    documents, load = [], []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mmrag-parse-bench-") as output:
        for pdf in pdfs:
            documents.append(benchmark_document(pdf, Path(output), args.workers, not args.no_ocr))
            load.append(os.getloadavg()[0])
            print(_document_line(documents[-1]), flush=True)
        wall = time.perf_counter() - started
        shutdown_workers()  # reaps the workers so that their peak memory is counted
    summary = summarise(documents, wall, load)
    print_report(documents, summary)
    if args.json:
        payload = {"summary": summary, "documents": [asdict(d) for d in documents]}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
