"""Peak memory of ``mmrag ingest`` on one big document: the whole process tree (main process and parser
workers together), sampled every 0.2 s.

Builds the input by joining real PDFs (by default three 10-K reports and a slide deck from the dev set, 336
pages) unless ``--pdf`` names an existing file, ingests it into a fresh store with ``mmrag ingest`` in a
child process, and prints the peak of the summed resident set size of that child and all its descendants,
the wall time, the page count and the load average. The RSS sum counts the pages a forked worker shares with
its parent once per process; the proportional set size (PSS) sum, also printed, counts them once.

Usage:
    python benchmarks/big_document.py [--pdf FILE] [--docs DIR] [--store DIR] [--interval S] [--max-rss-mib M]
        [--json OUT]

Example:
    python benchmarks/big_document.py --pdf /tmp/big336.pdf --json big_document.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DOCS = Path("/work/shared/eval/mmlongbench-dev/docs")
DEFAULT_PARTS = (
    "ADOBE_2015_10K.pdf",
    "AMAZON_2017_10K.pdf",
    "NETFLIX_2015_10K.pdf",
    "ddoseattle-150627210357-lva1-app6891_95.pdf",
)


@dataclass
class Figures:
    """What one run measured.

    Args:
        pdf: The ingested file.
        pages: Its page count.
        exit_code: ``mmrag ingest``'s exit status.
        wall_seconds: Wall time of the ingest.
        peak_rss_mib: Peak of the process tree's summed RSS.
        peak_pss_mib: Peak of the process tree's summed PSS (shared pages split between their sharers).
        peak_processes: Processes in the tree at that peak.
        max_processes: Most processes seen in the tree at once.
        load_average: The 1, 5 and 15 minute load averages when the run ended.
        stopped: The run was killed for passing ``--max-rss-mib``.
    """

    pdf: str
    pages: int
    exit_code: int
    wall_seconds: float
    peak_rss_mib: float
    peak_pss_mib: float
    peak_processes: int
    max_processes: int
    load_average: tuple[float, float, float]
    stopped: bool = False


def join_pdfs(docs: Path, parts: tuple[str, ...], target: Path) -> Path:
    """Join PDFs into one file.

    Args:
        docs: Folder holding the parts.
        parts: File names, in order.
        target: The joined PDF to write.

    Returns:
        ``target``.
    """
    import pypdf

    writer = pypdf.PdfWriter()
    for name in parts:
        writer.append(str(docs / name))
    with target.open("wb") as handle:
        writer.write(handle)
    return target


def page_count(pdf: Path) -> int:
    """Pages in ``pdf``.

    Args:
        pdf: A PDF file.
    """
    import pypdfium2

    document = pypdfium2.PdfDocument(str(pdf))
    try:
        return len(document)
    finally:
        document.close()


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def tree_rss(root: int) -> tuple[int, int, int]:
    """Summed RSS and PSS of ``root`` and all its descendants, and how many processes that is.

    Args:
        root: The process id at the top of the tree.
    """
    total, pss, count, stack, seen = 0, 0, 0, [root], set()
    while stack:
        pid = stack.pop()
        if pid in seen:
            continue
        seen.add(pid)
        rss = _rss_bytes(pid)
        if rss:
            total += rss
            pss += _pss_bytes(pid)
            count += 1
        stack.extend(_children(pid))
    return total, pss, count


def _kill_tree(root: int) -> None:
    pids, stack = [], [root]
    while stack:
        pid = stack.pop()
        pids.append(pid)
        stack.extend(_children(pid))
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def measure(pdf: Path, store: Path, interval: float, max_rss_mib: float | None = None) -> Figures:
    """Ingest ``pdf`` into ``store`` with ``mmrag ingest`` and sample the process tree's RSS.

    Args:
        pdf: The document.
        store: A fresh storage folder.
        interval: Seconds between samples.
        max_rss_mib: Kill the whole tree when its RSS passes this (protects a shared machine).
    """
    mmrag = Path(sys.executable).with_name("mmrag")
    command = [str(mmrag), "ingest", str(pdf), "--store", str(store)]
    started = time.perf_counter()
    child = subprocess.Popen(command)
    peak, peak_pss, peak_count, max_count, stopped = 0, 0, 0, 0, False
    while child.poll() is None:
        rss, pss, count = tree_rss(child.pid)
        max_count = max(max_count, count)
        peak_pss = max(peak_pss, pss)
        if rss > peak:
            peak, peak_count = rss, count
        if max_rss_mib is not None and rss > max_rss_mib * 2**20:
            _kill_tree(child.pid)
            child.wait()
            stopped = True
            break
        time.sleep(interval)
    wall = time.perf_counter() - started
    return Figures(
        pdf=str(pdf),
        pages=page_count(pdf) if pdf.suffix.lower() == ".pdf" else 1,
        exit_code=child.returncode,
        wall_seconds=round(wall, 1),
        peak_rss_mib=round(peak / 2**20, 1),
        peak_pss_mib=round(peak_pss / 2**20, 1),
        peak_processes=peak_count,
        max_processes=max_count,
        load_average=os.getloadavg(),
        stopped=stopped,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pdf", type=Path, default=None, help="ingest this file (default: join the parts); any file mmrag ingests"
    )
    parser.add_argument("--docs", type=Path, default=DEFAULT_DOCS, help="folder holding the parts to join")
    parser.add_argument("--store", type=Path, default=None, help="storage folder (default: a fresh temp dir)")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between RSS samples")
    parser.add_argument("--max-rss-mib", type=float, default=None, help="kill the run past this peak")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mmrag-big-"))
    try:
        pdf = args.pdf or join_pdfs(args.docs, DEFAULT_PARTS, work / "big_document.pdf")
        store = args.store or work / "store"
        figures = measure(pdf, store, args.interval, args.max_rss_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{figures.pages} pages, exit {figures.exit_code}, wall {figures.wall_seconds} s, "
        f"peak RSS {figures.peak_rss_mib} MiB over {figures.peak_processes} processes "
        f"(PSS {figures.peak_pss_mib} MiB) "
        f"(at most {figures.max_processes}), load average {figures.load_average}"
        + (" -- stopped at the --max-rss-mib limit" if figures.stopped else "")
    )
    if args.json:
        args.json.write_text(json.dumps(asdict(figures), indent=2))
    return 0 if figures.exit_code == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
