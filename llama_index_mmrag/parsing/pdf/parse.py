"""Offline PDF parsing into a RAG-Anything content list (pypdfium2 + pdfplumber's table finder + RapidOCR).

RAG-Anything's own PDF paths (MinerU, Docling) need layout models from a model hub; this parser needs no
model but the OCR weights inside the ``rapidocr-onnxruntime`` wheel. It emits text paragraphs with heading
levels, ruled tables as markdown, figures (raster images and vector drawings) as PNG crops with their
captions and OCR text, display equations, and OCR text for scanned pages, in reading order, each item with
its 0-based ``page_idx`` and ``bbox`` (PDF points, top-left origin). Running headers, footers, page numbers
and repeated logos are dropped; a page's printed label (the PDF's own page label, else its printed page number
where the document numbers its pages consistently) is kept as ``page_label`` on its items.

Long documents are parsed page by page in a pool of worker processes (forked where the platform allows),
started for a parse and stopped when no parse uses it any more, so that their memory is not held while the
document is embedded and written (:func:`keep_workers` keeps them between parses of many documents in a
row; :func:`shutdown_workers` stops them). Memory is bounded by the page, not the document:
at most :data:`PAGES_IN_FLIGHT_PER_WORKER` pages per worker are queued or parsed ahead of the page the caller
is reading, a worker reopens the document every :data:`PAGES_PER_DOCUMENT_OPEN` pages (PDFium caches fonts and
images per open document) and hands freed memory back to the system after each page. Workers die with the
process that started them, even on ``kill -9`` (see :mod:`llama_index_mmrag.parsing.pdf.workers`).

Example:
    >>> from llama_index_mmrag.parsing.pdf.parse import parse_pdf
    >>> items = parse_pdf("report.pdf", "parsed/")
    >>> [item["type"] for item in items][:6]
    ['text', 'text', 'text', 'table', 'text', 'image']
    >>> sorted({item["page_idx"] for item in items})
    [0, 1, 2, 3]
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import multiprocessing
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium

from llama_index_mmrag.forking import FORK_GUARD
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.ocr import set_ocr_threads
from llama_index_mmrag.parsing.pdf.document import finalize
from llama_index_mmrag.parsing.pdf.layout_model import set_layout_threads
from llama_index_mmrag.parsing.pdf.page import PageJob, PageResult, image_prefix, parse_page
from llama_index_mmrag.parsing.pdf.workers import init_worker, run_in_spawner_thread
from llama_index_mmrag.progress import report_progress

__all__ = ["PdfParseStats", "keep_workers", "parse_pdf", "parse_pdf_with_stats", "shutdown_workers"]

MIN_PAGES_FOR_POOL = 3
"""Documents with fewer pages are parsed in the calling process."""

PAGES_IN_FLIGHT_PER_WORKER = 2
"""Pages handed to the pool ahead of the one being read, per worker: enough to keep every worker busy, and
a bound on the finished pages waiting in memory."""

PAGES_PER_DOCUMENT_OPEN = 16
"""A worker reopens the document after this many pages, dropping what PDFium cached for it."""

_HEADER_WINDOW = 1024
_TRAILER_WINDOW = 2048
_REPAIR_HINT = "download or export it again, or repair it (for example `qpdf broken.pdf repaired.pdf`)"

_PDFIUM_LOCK = threading.Lock()  # pdfium is not thread-safe: one in-process parse at a time
_POOL_LOCK = threading.Lock()
_POOL: ProcessPoolExecutor | None = None
_POOL_WORKERS = 0
_POOL_USERS = 0  # parses running on the pool, plus open keep_workers() blocks
_WORKER_DOCUMENT: tuple[tuple[str, int, int], pdfium.PdfDocument] | None = None
_WORKER_PAGES = 0


@dataclass
class PdfParseStats:
    """How a parse went (for benchmarks and logs).

    Args:
        pdf_path: The parsed file.
        pages: Number of pages.
        ocr_pages: 0-based indices of the pages read by OCR.
        page_seconds: Wall time spent on each page, in its worker.
        page_cpu_seconds: CPU time spent on each page, in its worker.
        wall_seconds: Wall-clock time of the whole parse.
        workers: Worker processes used (1: parsed in the calling process).
        max_pages_in_flight: Most pages handed to the workers and not yet read back at any one time.

    Example:
        >>> items, stats = parse_pdf_with_stats("report.pdf", "parsed", ocr=False, workers=1)
        >>> stats.pages, stats.workers, stats.ocr_pages, len(stats.page_seconds)
        (4, 1, [], 4)
    """

    pdf_path: str
    pages: int
    ocr_pages: list[int] = field(default_factory=list)
    page_seconds: list[float] = field(default_factory=list)
    page_cpu_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    workers: int = 1
    max_pages_in_flight: int = 1


def parse_pdf(
    pdf_path: str | Path, output_dir: str | Path, *, ocr: bool = True, workers: int | None = None
) -> list[dict[str, Any]]:
    """Parse a PDF into a RAG-Anything content list.

    Args:
        pdf_path: The PDF file.
        output_dir: Folder for the figure PNGs (written to ``output_dir/images``).
        ocr: Read scanned pages and raster figures with OCR. Without it, a scanned page becomes one image item.
        workers: Worker processes for long documents; default: the CPUs this process may use. 1 parses in
            the calling process.

    Returns:
        Content-list items in reading order: ``text`` (``text``, ``text_level``, ``ocr``), ``table``
        (``table_body`` markdown, ``table_caption``, ``table_footnote``, ``n_rows``, ``n_cols``), ``image``
        (``img_path``, ``image_caption``, ``image_footnote``, ``ocr_text``) and ``equation`` (``latex``,
        ``text``, ``text_format``), each with ``page_idx`` (0-based) and ``bbox`` (points, top-left origin), and
        ``page_label`` (the page's printed label, a string) on labelled pages.

    Raises:
        FileNotFoundError: ``pdf_path`` does not exist.
        ParseError: The file is empty, not a PDF, truncated, damaged or password-protected.
    """
    items, _ = parse_pdf_with_stats(pdf_path, output_dir, ocr=ocr, workers=workers)
    return items


def parse_pdf_with_stats(
    pdf_path: str | Path, output_dir: str | Path, *, ocr: bool = True, workers: int | None = None
) -> tuple[list[dict[str, Any]], PdfParseStats]:
    """Like :func:`parse_pdf`, and also report per-page timings and which pages needed OCR.

    Args:
        pdf_path: The PDF file.
        output_dir: Folder for the figure PNGs (written to ``output_dir/images``).
        ocr: Read scanned pages and raster figures with OCR.
        workers: Worker processes for long documents; default: the CPUs this process may use.

    Returns:
        The content list and the parse statistics.
    """
    started = time.perf_counter()
    path = Path(pdf_path).expanduser().resolve()
    _check_file(path)
    n_pages, own_labels = _page_count(path)
    image_dir = Path(output_dir).expanduser().resolve() / "images"
    image_dir.mkdir(parents=True, exist_ok=True)
    prefix = image_prefix(path)
    jobs = [PageJob(str(path), index, str(image_dir), prefix, ocr) for index in range(n_pages)]
    n_workers = _worker_count(workers)
    use_pool = n_workers > 1 and n_pages >= MIN_PAGES_FOR_POOL
    report_progress(0, n_pages)  # a progress bar, if one is open, starts here
    in_flight = [1]
    results = _run_in_pool(jobs, n_workers, in_flight) if use_pool else _run_here(path, jobs)
    for result in results:
        if result.error is not None:
            raise ParseError(path, f"{result.error}; the PDF is damaged: {_REPAIR_HINT}.")
    items = finalize(results, own_labels)
    stats = PdfParseStats(
        pdf_path=str(path),
        pages=n_pages,
        ocr_pages=[r.page_idx for r in results if r.ocr],
        page_seconds=[r.seconds for r in results],
        page_cpu_seconds=[r.cpu_seconds for r in results],
        wall_seconds=time.perf_counter() - started,
        workers=n_workers if use_pool else 1,
        max_pages_in_flight=in_flight[0],
    )
    return items, stats


def shutdown_workers() -> None:
    """Stop the worker processes now (they restart on the next long document)."""
    global _POOL, _POOL_WORKERS
    with _POOL_LOCK:
        if _POOL is not None:
            _POOL.shutdown(wait=True, cancel_futures=True)
        _POOL, _POOL_WORKERS = None, 0


@contextlib.contextmanager
def keep_workers() -> Iterator[None]:
    """Keep the worker processes alive between the parses run inside the block (they are otherwise stopped
    when no parse uses them, and started again for the next long document).

    Example:
        >>> with keep_workers():                       # one pool of workers for both parses
        ...     contents = [parse_pdf("report.pdf", "parsed", ocr=False, workers=2) for _ in range(2)]
        >>> contents[0] == contents[1]
        True
    """
    global _POOL_USERS
    with _POOL_LOCK:
        _POOL_USERS += 1
    try:
        yield
    finally:
        _release_pool()


# --- input checks -------------------------------------------------------------------------------------


def _check_file(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file; check the path.")
    if not path.is_file():
        raise ParseError(path, "not a file; pass the path of a PDF file.")
    size = path.stat().st_size
    if size == 0:
        raise ParseError(path, f"the file is empty (0 bytes); {_REPAIR_HINT}.")
    with path.open("rb") as handle:
        head = handle.read(_HEADER_WINDOW)
        handle.seek(max(0, size - _TRAILER_WINDOW))
        tail = handle.read()
    if b"%PDF-" not in head:
        raise ParseError(
            path,
            f"not a PDF (no '%PDF-' header in its first {_HEADER_WINDOW} bytes); it may be another "
            "format with a .pdf name: convert it to PDF or give it to the parser for its real format."
        )
    if b"%%EOF" not in tail:
        raise ParseError(
            path,
            f"the PDF is truncated (no '%%EOF' marker at its end, as after an interrupted download "
            f"or copy); {_REPAIR_HINT}."
        )


def _page_count(path: Path) -> tuple[int, list[str]]:
    """The PDF's number of pages, and its own page labels (one per page, ``""`` where it defines none; an empty
    list when it has no labels or they cannot be read)."""
    with _PDFIUM_LOCK:
        document = _open(path)
        try:
            count = len(document)
            labels = _own_labels(document, count)
        finally:
            document.close()
    if count == 0:
        raise ParseError(path, f"the PDF has no pages; {_REPAIR_HINT}.")
    return count, labels


def _own_labels(document: pdfium.PdfDocument, count: int) -> list[str]:
    try:
        labels = [document.get_page_label(index) for index in range(count)]
    except Exception:  # noqa: BLE001  (a damaged /PageLabels tree: the printed numbers decide instead)
        return []
    return labels if any(labels) else []


def _open(path: Path) -> pdfium.PdfDocument:
    try:
        return pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        reason = str(exc)
        # PDFium's reason is its last error code, process-wide: a PDF it refuses without setting one (no pages:
        # "Success") reports whatever failed before it, a password included. So each reason is checked first.
        if _has_empty_page_tree(path):
            raise ParseError(
                path, "the PDF has no pages (it is well-formed, but its page tree is empty); export it again with its pages."
            ) from exc
        if "password" in reason.lower() and _is_encrypted(path):
            raise ParseError(
                path,
                "the PDF is password-protected; decrypt it first (for example "
                "`qpdf --decrypt --password=SECRET locked.pdf unlocked.pdf`) and parse the decrypted copy."
            ) from exc
        raise ParseError(path, f"the PDF is damaged and cannot be opened ({reason}); {_REPAIR_HINT}.") from exc


def _is_encrypted(path: Path) -> bool:
    """Whether a PDF has an encryption dictionary (``/Encrypt`` in a trailer)."""
    try:
        return b"/Encrypt" in path.read_bytes()
    except OSError:
        return False


def _has_empty_page_tree(path: Path) -> bool:
    """Whether a PDF that PDFium would not open parses (with pdfminer) to a page tree of no pages."""
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    try:
        with path.open("rb") as handle:
            document = PDFDocument(PDFParser(handle))
            tree = resolve1(document.catalog.get("Pages"))
            if not isinstance(tree, dict) or resolve1(tree.get("Count")) not in (0, None):
                return False
            return next(PDFPage.create_pages(document), None) is None
    except Exception:  # noqa: BLE001  (any failure: the PDF is damaged, as PDFium said)
        return False


# --- running the pages --------------------------------------------------------------------------------


def _worker_count(workers: int | None) -> int:
    if workers is not None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        return workers
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _run_here(path: Path, jobs: list[PageJob]) -> list[PageResult]:
    with _PDFIUM_LOCK:
        document = _open(path)
        try:
            results: list[PageResult] = []
            for job in jobs:
                if results and len(results) % PAGES_PER_DOCUMENT_OPEN == 0:
                    document.close()  # drop what PDFium cached for the pages read so far
                    document = _open(path)
                results.append(parse_page(document, job))
                _release_free_memory()
                report_progress(len(results), len(jobs))
            return results
        finally:
            document.close()


def _run_in_pool(jobs: list[PageJob], workers: int, in_flight: list[int]) -> list[PageResult]:
    """Parse the pages in the pool, in page order, with at most ``PAGES_IN_FLIGHT_PER_WORKER * workers``
    pages submitted and not yet read back; ``in_flight[0]`` is set to the most there were."""
    window = PAGES_IN_FLIGHT_PER_WORKER * workers
    pending: deque[Future[PageResult]] = deque()
    results: list[PageResult] = []
    upcoming = iter(jobs)
    try:
        pool = _pool(workers)
    except BrokenProcessPool as exc:  # a worker died as it started
        raise _worker_died(jobs[0].pdf_path, exc) from exc
    try:
        for job in upcoming:
            pending.append(pool.submit(_parse_in_worker, job))
            if len(pending) >= window:
                break
        in_flight[0] = len(pending)
        while pending:
            results.append(pending.popleft().result())
            report_progress(len(results), len(jobs))
            job = next(upcoming, None)
            if job is not None:
                pending.append(pool.submit(_parse_in_worker, job))
                in_flight[0] = max(in_flight[0], len(pending))
        return results
    except BrokenProcessPool as exc:
        shutdown_workers()
        raise _worker_died(jobs[0].pdf_path, exc) from exc
    finally:
        for future in pending:  # an error or an interruption: the pages not read back are not wanted
            future.cancel()
        _release_pool()


def _worker_died(pdf_path: str, exc: BaseException) -> ParseError:
    return ParseError(
        pdf_path,
        f"a parser worker process died while reading the file ({exc}); the PDF is "
        f"probably damaged: {_REPAIR_HINT}. Retry with workers=1 to parse it in this process."
    )


def _start_workers(pool: ProcessPoolExecutor) -> None:
    """Fork the pool's workers (a fork-based pool forks them all on its first submit), never while another thread
    computes with BLAS or torch (see :mod:`llama_index_mmrag.forking`), and wait until they run."""
    with FORK_GUARD:
        first = pool.submit(os.getpid)
    first.result()


def _pool(workers: int) -> ProcessPoolExecutor:
    """The pool, started with ``workers`` processes if none runs (or, when no one else uses it, if it has
    another size); counts the caller as a user until :func:`_release_pool`."""
    global _POOL, _POOL_WORKERS, _POOL_USERS
    with _POOL_LOCK:
        _POOL_USERS += 1
        if _POOL is None or (_POOL_WORKERS != workers and _POOL_USERS == 1):
            if _POOL is not None:
                _POOL.shutdown(wait=True, cancel_futures=True)
                _POOL, _POOL_WORKERS = None, 0
            cpus = os.cpu_count() or 1
            pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=_start_context(),
                initializer=_init_worker,
                initargs=(max(1, cpus // workers), os.getpid()),
            )
            # A fork-based pool forks all its workers on the first submit: do it from the spawner thread, which
            # lives as long as this process (Linux delivers a worker's parent-death signal when the thread that
            # forked it ends).
            try:
                run_in_spawner_thread(lambda: _start_workers(pool))
            except BaseException:
                _POOL_USERS -= 1
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            _POOL, _POOL_WORKERS = pool, workers
        return _POOL


def _release_pool() -> None:
    """One user fewer; the last one stops the workers (their memory is not kept for the next document)."""
    global _POOL, _POOL_WORKERS, _POOL_USERS
    with _POOL_LOCK:
        _POOL_USERS = max(0, _POOL_USERS - 1)
        if _POOL_USERS > 0 or _POOL is None:
            return
        pool, _POOL, _POOL_WORKERS = _POOL, None, 0
    pool.shutdown(wait=True)


def _start_context() -> multiprocessing.context.BaseContext:
    """Fork where it is safe (Linux): no re-import of the caller's ``__main__``, starts in milliseconds."""
    if sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _init_worker(ocr_threads: int, parent_pid: int) -> None:
    init_worker(parent_pid)
    set_ocr_threads(ocr_threads)
    set_layout_threads(ocr_threads)


def _parse_in_worker(job: PageJob) -> PageResult:
    try:
        return parse_page(_worker_document(job.pdf_path), job)
    finally:
        _release_free_memory()


def _worker_document(pdf_path: str) -> pdfium.PdfDocument:
    """The worker's open document, reopened when another file (or a changed one) comes in, and every
    :data:`PAGES_PER_DOCUMENT_OPEN` pages."""
    global _WORKER_DOCUMENT, _WORKER_PAGES
    stat = os.stat(pdf_path)
    key = (pdf_path, stat.st_size, stat.st_mtime_ns)
    if _WORKER_DOCUMENT is None or _WORKER_DOCUMENT[0] != key or _WORKER_PAGES >= PAGES_PER_DOCUMENT_OPEN:
        if _WORKER_DOCUMENT is not None:
            _WORKER_DOCUMENT[1].close()
        _WORKER_DOCUMENT, _WORKER_PAGES = (key, pdfium.PdfDocument(pdf_path)), 0
    _WORKER_PAGES += 1
    return _WORKER_DOCUMENT[1]


def _release_free_memory() -> None:
    """Hand the heap's free pages back to the system (glibc keeps them after big page renders otherwise)."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _malloc_trim() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_MALLOC_TRIM = _malloc_trim()


def _reset_in_child() -> None:
    global _PDFIUM_LOCK, _POOL_LOCK, _POOL, _POOL_WORKERS, _POOL_USERS
    _PDFIUM_LOCK, _POOL_LOCK = threading.Lock(), threading.Lock()
    _POOL, _POOL_WORKERS, _POOL_USERS = None, 0, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
atexit.register(shutdown_workers)

