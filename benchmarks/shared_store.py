"""Benchmark one embedded store shared by several processes (the local Milvus Lite server).

Three measurements, side by side in one run on the same files:

1. ``mmrag ingest`` with Milvus Lite inside the ingesting process (``MMRAG_LITE_SERVER=off``): wall time and
   peak RSS of the process tree;
2. the same ingest into a new store through the local server (the default): wall time, and peak RSS of the
   ingest's process tree plus the server's;
3. a third ingest into a new store through the server while ``--askers`` other processes each run
   ``--questions`` retrievals concurrently, over and over until the ingest ends: the queries answered, the
   errors, and the median and 95th-percentile latency of one retrieval.

Usage:
    python benchmarks/shared_store.py FILE [FILE ...] [--askers 4] [--questions 8] [--json OUT]

Example:
    python benchmarks/shared_store.py sample/milvus_faq.txt sample/milvus_architecture.png \\
        /work/shared/eval/mmlongbench-dev/*.pdf --askers 4
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

ASKER = textwrap.dedent(
    """
    import asyncio, json, sys, time
    from pathlib import Path
    from llama_index_mmrag import MultimodalRAG

    QUESTIONS = ["What is Milvus?", "Which node searches sealed segments?", "What was the revenue?", "Who is the CEO?"]

    async def main(store, stop, n):
        rag = MultimodalRAG(storage_dir=store)
        retriever = rag.as_retriever(top_k=5)
        await retriever.aretrieve(QUESTIONS[0])
        print("READY", flush=True)
        latencies, errors = [], []

        async def one(q):
            t = time.perf_counter()
            try:
                await retriever.aretrieve(q)
                latencies.append(time.perf_counter() - t)
            except Exception as exc:
                errors.append(repr(exc)[:300])

        while not Path(stop).exists():
            await asyncio.gather(*(one(QUESTIONS[i % len(QUESTIONS)]) for i in range(n)))
        rag.close()
        print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    """
)


def _tree_rss_kib(pids: list[int]) -> int:
    """Resident memory of the given processes and all their descendants, in KiB (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            status = (entry / "status").read_text()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(stat[1]), []).append(pid)
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                rss[pid] = int(line.split()[1])
    total, todo, seen = 0, list(pids), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def _server_pid(store: Path) -> int | None:
    try:
        return int(json.loads((store / "milvus.db.serve.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _ingest(files: list[str], store: Path, served: bool) -> dict[str, Any]:
    env = dict(os.environ, MMRAG_LITE_SERVER="on" if served else "off")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_index_mmrag.cli", "ingest", *files, "--store", str(store)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    peak = 0
    while proc.poll() is None:
        pids = [proc.pid] + ([p] if served and (p := _server_pid(store)) else [])
        peak = max(peak, _tree_rss_kib(pids))
        time.sleep(0.2)
    out, err = proc.communicate()
    return {
        "served": served,
        "exit": proc.returncode,
        "wall_s": round(time.perf_counter() - started, 1),
        "peak_rss_mib": round(peak / 1024),
        "summary": (out.strip().splitlines() or [""])[-1],
        "stderr_tail": err[-500:] if proc.returncode else "",
    }


def _ingest_with_askers(files: list[str], store: Path, askers: int, questions: int) -> dict[str, Any]:
    seed = [str(ROOT / "sample" / "milvus_faq.txt")]
    subprocess.run(
        [sys.executable, "-m", "llama_index_mmrag.cli", "ingest", *seed, "--store", str(store)],
        cwd=ROOT, check=True, capture_output=True,
    )
    stop = store.parent / f"{store.name}.stop"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", ASKER, str(store), str(stop), str(questions)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(askers)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "READY":
            raise SystemExit(f"an asker failed to start: {proc.stderr.read()[-2000:] if proc.stderr else ''}")
    ingest = _ingest(files, store, served=True)
    stop.touch()
    latencies: list[float] = []
    errors: list[str] = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        result = json.loads(out.strip().splitlines()[-1]) if proc.returncode == 0 else {"latencies": [], "errors": [err[-300:]]}
        latencies += result["latencies"]
        errors += result["errors"]
    latencies.sort()
    return {
        "ingest": ingest,
        "askers": askers,
        "concurrent_per_asker": questions,
        "queries_answered": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "latency_median_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--askers", type=int, default=4)
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    files = [str(Path(f).resolve()) for f in args.files]
    work = Path(tempfile.mkdtemp(prefix="mmrag-shared-"))
    load: list[float] = []
    sampler_stop = threading.Event()

    def sample_load() -> None:
        while not sampler_stop.wait(5):
            load.append(os.getloadavg()[0])

    threading.Thread(target=sample_load, daemon=True).start()
    try:
        results = {
            "in_process": _ingest(files, work / "inprocess", served=False),
            "served": _ingest(files, work / "served", served=True),
            "served_with_askers": _ingest_with_askers(files, work / "askers", args.askers, args.questions),
        }
    finally:
        sampler_stop.set()
        shutil.rmtree(work, ignore_errors=True)  # owned: this run's temporary stores
    results["load_average_median"] = round(statistics.median(load), 1) if load else os.getloadavg()[0]
    results["ratio_served_to_in_process_wall"] = round(results["served"]["wall_s"] / results["in_process"]["wall_s"], 2)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
