"""Wall time and peak memory of ``mmrag ingest`` on big web pages and Markdown files.

Generates (with :mod:`tests.support.big_markup`) a 20 MB HTML page of paragraphs, tables and nested ``<div>`` s,
a Markdown file holding one 10,000-row table, and by default a 0.5 MB page of the same make (for the cost of a
page that is ingested), then ingests each into a fresh store with ``mmrag ingest`` in a child process. Prints, per file: size, exit status,
wall time, peak RSS of the process tree (sampled every 0.2 s), nodes stored or the failure reason, and the
load average.

Usage:
    python benchmarks/big_markup.py [--html-mb 20] [--rows 10000] [--page-mb 0.5 ...] [--json OUT]

Example:
    python benchmarks/big_markup.py --json /tmp/big_markup.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from tests.support.big_markup import make_big_html, make_markdown_table  # noqa: E402


@dataclass
class Run:
    """One ingest.

    Args:
        file: The file's name.
        megabytes: Its size in MB.
        exit_code: ``mmrag ingest``'s exit status.
        wall_seconds: Wall time of the command.
        cpu_seconds: User and system CPU time of the command and the children it waited for (not the detached
            Milvus Lite server), the figure that does not depend on the machine's load.
        peak_rss_mib: Peak summed RSS of the command's process tree.
        outcome: The command's summary line, or its failure reason.
        load_average: 1, 5 and 15 minute load averages at the end.
    """

    file: str
    megabytes: float
    exit_code: int
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    outcome: str
    load_average: tuple[float, float, float]


def _tree_rss(pid: int) -> int:
    """Summed RSS of a process and all its descendants (0 once it has exited)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


def ingest(path: Path, store: Path, interval: float = 0.2) -> Run:
    """Run ``mmrag ingest PATH --store STORE`` and measure it.

    Args:
        path: The file.
        store: A fresh storage folder.
        interval: Seconds between RSS samples.
    """
    mmrag = Path(sys.executable).with_name("mmrag")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(
        [str(mmrag), "ingest", str(path), "--store", str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_rss(child.pid))
        time.sleep(interval)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    output = child.stdout.read() if child.stdout else ""
    lines = [line.strip() for line in output.splitlines() if line.strip() and "%|" not in line]
    outcome = next((line for line in lines if line.startswith("ingested")), "")
    failure = next((line for line in lines if path.name in line and "ingested" not in line), "")
    return Run(
        file=path.name,
        megabytes=round(path.stat().st_size / 1e6, 2),
        exit_code=child.returncode,
        wall_seconds=round(wall, 1),
        cpu_seconds=round(cpu, 1),
        peak_rss_mib=round(peak / 2**20, 1),
        outcome=" / ".join(p for p in (outcome, failure) if p)[:400],
        load_average=os.getloadavg(),
    )


def main(argv: list[str] | None = None) -> int:
    """Generate the files, ingest each, print one line per file.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html-mb", type=float, default=20.0, help="size of the big HTML page")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the Markdown table")
    parser.add_argument(
        "--page-mb", type=float, nargs="*", default=[0.5], help="also ingest pages of these sizes (MB)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="mmrag-markup-"))
    files = [
        make_big_html(work / "big-page.html", int(args.html_mb * 1e6)),
        make_markdown_table(work / "table-rows.md", args.rows),
    ]
    for size in args.page_mb:
        files.append(make_big_html(work / f"page-{size:g}mb.html", int(size * 1e6)))
    runs = []
    for index, path in enumerate(files):
        run = ingest(path, work / f"store{index}")
        runs.append(run)
        print(
            f"{run.file}: {run.megabytes} MB, exit {run.exit_code}, wall {run.wall_seconds} s, CPU {run.cpu_seconds} s, peak RSS "
            f"{run.peak_rss_mib} MiB, load {run.load_average}: {run.outcome}",
            flush=True,
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
