"""Benchmark how long `mmrag` commands take from a fresh process: help, argument errors, stats, delete, query.

Each command runs N times, each time as a new ``mmrag`` process (what a person at a shell waits for: interpreter
start, imports, opening the store, the work, closing). The store is built once, by ``mmrag ingest`` of the demo's
FAQ and diagram, before timing. ``delete`` needs a document to delete: each of its runs first re-ingests the FAQ
(untimed) and then times ``mmrag delete milvus_faq.txt``. Medians, minima and maxima are printed with the load
average, since wall-clock times depend on what else the machine runs.

A Milvus Lite store is served by a local server process that the first command starts and that stops once no
process has used the store for ``MMRAG_LITE_IDLE_S`` seconds. So the commands that open the store are timed
twice: **cold**, with no server running (the command starts one: what the first command after a pause costs),
and **warm**, with the server already up (this script holds the store, as a notebook or a second shell would).

The package is byte-compiled first (as ``pip install`` does), so that no timed process compiles its modules
(``PYTHONDONTWRITEBYTECODE`` would otherwise make every process compile them again). To time another checkout,
put it first on ``PYTHONPATH``: the package it holds is the one compiled and timed.

Targets (issue 11): ``--help`` and argument errors < 1 s, ``stats``/``delete`` < 3 s, a warm query < 5 s.

``--footprint STORE`` measures memory instead, on an existing store: the peak resident memory (``ru_maxrss``
from ``wait4``, and ``VmHWM``/``VmRSS`` from ``/proc/self/status``) of a fresh ``mmrag query`` process and of a
Python process that opens the facade and runs ``retrieve`` and ``query`` (target, issue 16: <= 600 MB). The
store's local Lite server is a process of its own and is not counted (its RSS is printed beside).

Usage:
    python benchmarks/startup.py [--runs N] [--only COMMAND ...] [--json OUT]
    python benchmarks/startup.py --footprint STORE [--runs N] [--json OUT]

Example:
    python benchmarks/startup.py --runs 3
    python benchmarks/startup.py --runs 5 --only delete    # just the deletes (cold and warm)
    python benchmarks/startup.py --footprint ./mmrag_storage --runs 3
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample"
_SCRIPT = Path(sys.executable).parent / "mmrag"
MMRAG = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-m", "llama_index_mmrag.cli"]
"""The installed ``mmrag`` script beside this interpreter (what a user runs), else the module."""
TARGETS_S = {"--help": 1.0, "query --modality imagee": 1.0, "stats": 3.0, "delete": 3.0, "query": 5.0}
IDLE_S = "1"
"""``MMRAG_LITE_IDLE_S`` for the timed commands: a server nobody holds stops a second after its last user."""


FACADE_QUERY = """
import json, sys
from llama_index_mmrag import MultimodalRAG
rag = MultimodalRAG(storage_dir=sys.argv[1])
hits = rag.as_retriever().retrieve(sys.argv[2])
answer = rag.as_query_engine().query(sys.argv[2])
status = dict(line.split(":", 1) for line in open("/proc/self/status") if line.startswith(("VmHWM", "VmRSS")))
print(json.dumps({k: int(v.split()[0]) // 1024 for k, v in status.items()} | {"hits": len(hits)}))
"""
"""A Python process that opens the facade on a store and asks one question both ways; prints its VmHWM/VmRSS (MB)."""


def _peak_rss_mb(args: list[str]) -> tuple[float, str]:
    """(peak RSS in MB, stdout) of one fresh process running ``args`` (its own ``ru_maxrss``, from ``wait4``)."""
    env = {**os.environ, "COLUMNS": "120"}
    # run outside the checkout: ``python -c`` puts the working folder first on sys.path, before PYTHONPATH
    process = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=tempfile.gettempdir()
    )
    out = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} ... exited {process.returncode}")
    return usage.ru_maxrss / 1024, out


def _lite_server_rss_mb(store: Path) -> float | None:
    """RSS of the store's local Lite server process, if one is running."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"llama_index_mmrag.stores.lite_server" in cmdline and str(store / "milvus.db").encode() in cmdline:
            rss = [line for line in (proc / "status").read_text().splitlines() if line.startswith("VmRSS")]
            return int(rss[0].split()[1]) / 1024 if rss else None
    return None


def footprint(store: Path, runs: int) -> dict[str, Any]:
    """Peak RSS (MB) of ``runs`` fresh query processes of each kind on ``store``.

    Args:
        store: An existing store (ingested before).
        runs: Fresh processes per kind.
    """
    question = "Does Milvus support simultaneous insertion and search?"
    store = store.resolve()
    cli, facade, status, server = [], [], [], []
    for _ in range(runs):
        cli.append(_peak_rss_mb([*MMRAG, "query", question, "--store", str(store)])[0])
        peak, out = _peak_rss_mb([sys.executable, "-c", FACADE_QUERY, str(store), question])
        facade.append(peak)
        status.append(json.loads(out.strip().splitlines()[-1]))
        server.append(_lite_server_rss_mb(store))
    return {
        "mmrag query peak RSS MB": [round(v) for v in cli],
        "facade retrieve+query peak RSS MB": [round(v) for v in facade],
        "facade VmHWM/VmRSS MB after the query": status,
        "local Lite server RSS MB (separate process)": [None if v is None else round(v) for v in server],
        "target MB": 600,
    }


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(args: list[str], expect: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh ``mmrag ARGS`` process (CPU time is what the process itself
    spent, much less sensitive to other load than wall time); raises on an exit code other than ``expect``."""
    cpu = _cpu_children()
    started = time.perf_counter()
    env = {**os.environ, "COLUMNS": "120", "MMRAG_LITE_IDLE_S": IDLE_S}
    done = subprocess.run([*MMRAG, *args], capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != expect:
        raise RuntimeError(f"mmrag {' '.join(args)} exited {done.returncode}, expected {expect}:\n{done.stderr[-2000:]}")
    return seconds, _cpu_children() - cpu


def _wait_for_no_server(store: Path, timeout_s: float = 120.0) -> None:
    """Wait until the store's local Lite server has stopped (its ``serve.json`` is removed when it stops)."""
    serve_file = store / "milvus.db.serve.json"
    deadline = time.monotonic() + timeout_s
    while serve_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the local Milvus Lite server of {store} is still up after {timeout_s:.0f} s")
        time.sleep(0.2)


def _summary(values: list[tuple[float, float]], target: float) -> dict[str, Any]:
    return {
        "median_s": round(statistics.median(w for w, _ in values), 2),
        "min_s": round(min(w for w, _ in values), 2),
        "max_s": round(max(w for w, _ in values), 2),
        "cpu_median_s": round(statistics.median(c for _, c in values), 2),
        "target_s": target,
        "runs": len(values),
    }


def measure(runs: int, only: list[str] | None = None) -> dict[str, Any]:
    """Time each command ``runs`` times on a store built for the purpose (removed after): the argument-only
    commands once per round, the store commands cold (no server running) and warm (server held up).

    Args:
        runs: Fresh processes per command.
        only: Time just these commands (names as in :data:`TARGETS_S`); all by default.
    """
    import llama_index_mmrag
    from llama_index_mmrag.stores.lite_server import LiteStoreHold

    compileall.compile_dir(Path(llama_index_mmrag.__file__).parent, quiet=1)  # what an installed package has
    os.environ["MMRAG_LITE_IDLE_S"] = IDLE_S  # also for the server a warm round's hold starts
    workdir = Path(tempfile.mkdtemp(prefix="mmrag-startup-"))
    store = workdir / "store"
    faq, diagram = str(SAMPLE / "milvus_faq.txt"), str(SAMPLE / "milvus_architecture.png")
    no_store: dict[str, tuple[list[str], int]] = {
        "--help": (["--help"], 0),
        "query --modality imagee": (["query", "x", "--modality", "imagee", "--store", str(store)], 2),
    }
    on_store: dict[str, tuple[list[str], int]] = {
        "stats": (["stats", "--store", str(store)], 0),
        "query": (["query", "Does Milvus support simultaneous insertion and search?", "--store", str(store)], 0),
    }
    if only:
        no_store = {name: command for name, command in no_store.items() if name in only}
        on_store = {name: command for name, command in on_store.items() if name in only}
    timed_delete = not only or "delete" in only
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in no_store}
    for mode in ("cold", "warm"):
        times.update({f"{name} ({mode})": [] for name in [*on_store, *(["delete"] if timed_delete else [])]})
    try:
        _run(["ingest", faq, diagram, "--store", str(store)], 0)
        for _ in range(runs):
            for name, (args, expect) in no_store.items():
                times[name].append(_run(args, expect))
            for mode in ("cold", "warm"):
                hold = LiteStoreHold(store / "milvus.db") if mode == "warm" else None
                try:
                    for name, (args, expect) in on_store.items():
                        if hold is None:
                            _wait_for_no_server(store)
                        times[f"{name} ({mode})"].append(_run(args, expect))
                    if not timed_delete:
                        continue
                    _run(["ingest", faq, "--store", str(store)], 0)  # untimed: something to delete
                    if hold is None:
                        _wait_for_no_server(store)
                    times[f"delete ({mode})"].append(_run(["delete", "milvus_faq.txt", "--store", str(store)], 0))
                finally:
                    if hold is not None:
                        hold.release()
        _wait_for_no_server(store)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # owned: mkdtemp made it above
    return {name: _summary(values, TARGETS_S[name.split(" (")[0]]) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="Fresh processes per command (default 5).")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(TARGETS_S), default=None, help="Time just these commands (all by default)."
    )
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures here.")
    parser.add_argument("--footprint", type=Path, default=None, help="Measure query memory on this store instead.")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.footprint is not None:
        import llama_index_mmrag

        result = footprint(args.footprint, args.runs)
        print(f"package measured: {Path(llama_index_mmrag.__file__).parent}; store {args.footprint}")
        print(f"load average before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f} (1 min)")
        for name, value in result.items():
            print(f"{name}: {value}")
        if args.json is not None:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
        return
    figures = measure(args.runs, args.only)
    load_after = os.getloadavg()
    import llama_index_mmrag

    print(f"package timed: {Path(llama_index_mmrag.__file__).parent}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); {os.cpu_count()} CPUs")
    print(f"{'command':<26}{'median s':>10}{'min s':>8}{'max s':>8}{'CPU s':>8}{'target s':>10}")
    for name, row in figures.items():
        flag = "" if row["median_s"] < row["target_s"] else "  (over target)"
        print(
            f"{name:<26}{row['median_s']:>10}{row['min_s']:>8}{row['max_s']:>8}{row['cpu_median_s']:>8}"
            f"{row['target_s']:>10}{flag}"
        )
    if args.json is not None:
        payload = {"figures": figures, "loadavg_before": load_before, "loadavg_after": load_after, "runs": args.runs}
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
