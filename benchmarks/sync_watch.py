"""Folder sync throughput and time to searchable under ``mmrag watch`` (issue 17).

1. **Sync throughput**: ``--files`` small text files (one paragraph each) synced into a fresh store with
   ``MultimodalRAG.sync``; files per second of the whole sync, then of a second sync that finds them unchanged,
   and of a sync after renaming a tenth of them.
2. **Time to searchable**: a ``FolderWatcher`` (what ``mmrag watch`` runs) watches a folder of that store; a new
   small file is written and the retriever is asked every 0.1 s until the file's document comes back: the
   seconds from the write to the first hit, ``--rounds`` times (median and max).

Prints one JSON object with the figures and the load average before and after.

Usage:
    python benchmarks/sync_watch.py [--files 200] [--rounds 5] [--store DIR] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

WORDS = "amber basalt cedar delta ember fjord glacier harbor iris juniper kelp lagoon meadow nectar orchid".split()


def _note(i: int) -> str:
    a, b, c = WORDS[i % 15], WORDS[(i // 15) % 15], WORDS[(i * 7) % 15]
    return f"Note {i}: the {a} survey found {i * 3} {b} samples near the {c} station, catalogue entry {i}."


def throughput(rag: Any, folder: Path, count: int) -> dict[str, float]:
    """Seconds and files per second of a first sync, an unchanged one, and one after renaming a tenth."""
    folder.mkdir(parents=True)
    for i in range(count):
        (folder / f"note{i:04d}.txt").write_text(_note(i))
    figures: dict[str, float] = {}
    started = time.perf_counter()
    report = rag.sync(folder, show_progress=False)
    figures["first_sync_s"] = time.perf_counter() - started
    assert report.ok and len(report.added) == count, report.summary()
    started = time.perf_counter()
    report = rag.sync(folder, show_progress=False)
    figures["unchanged_sync_s"] = time.perf_counter() - started
    assert not report.wrote, report.summary()
    for i in range(0, count, 10):
        (folder / f"note{i:04d}.txt").rename(folder / f"renamed{i:04d}.txt")
    started = time.perf_counter()
    report = rag.sync(folder, show_progress=False)
    figures["rename_sync_s"] = time.perf_counter() - started
    assert len(report.renamed) == len(range(0, count, 10)) and not report.ingested, report.summary()
    figures["files_per_s"] = count / figures["first_sync_s"]
    figures["renames_per_s"] = len(report.renamed) / figures["rename_sync_s"]
    return figures


def time_to_searchable(rag: Any, folder: Path, rounds: int) -> list[float]:
    """Seconds from writing a small new file in a watched folder to its first retrieval, per round."""
    from llama_index_mmrag.ingestion.watch import FolderWatcher

    folder.mkdir(parents=True)
    stop = threading.Event()
    synced = threading.Event()
    watcher = FolderWatcher(folder, lambda skip: rag.async_(folder, skip=skip, show_progress=False), on_report=lambda r: synced.set())
    thread = threading.Thread(target=lambda: asyncio.run(watcher.arun(stop)), daemon=True)
    thread.start()
    synced.wait(120)
    retriever = rag.as_retriever(top_k=3, graph_mode="off")
    seconds: list[float] = []
    for i in range(rounds):
        name = f"fresh{i}.txt"
        written = time.perf_counter()
        (folder / name).write_text(f"Round {i}: the quokka colony {i} counted {1000 + i} pebbles at the lighthouse.")
        while name not in {h.node.metadata["doc"] for h in retriever.retrieve(f"quokka colony {i} counted {1000 + i} pebbles")}:
            if time.perf_counter() - written > 300:
                raise TimeoutError(f"{name} not searchable within 300 s")
            time.sleep(0.1)
        seconds.append(time.perf_counter() - written)
        time.sleep(1.0)
    stop.set()
    thread.join(30)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--store", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from llama_index_mmrag import MultimodalRAG

    work = Path(tempfile.mkdtemp(prefix="sync-bench-"))
    load_before = os.getloadavg()
    with MultimodalRAG(storage_dir=args.store or work / "store") as rag:
        rag.sync(_seed(work), show_progress=False)  # loads the parser and the models before anything is timed
        figures: dict[str, Any] = throughput(rag, work / "notes", args.files)
        rounds = time_to_searchable(rag, work / "inbox", args.rounds)
    figures.update(
        files=args.files, searchable_s=[round(s, 2) for s in rounds], searchable_median_s=statistics.median(rounds),
        searchable_max_s=max(rounds), load_before=load_before, load_after=os.getloadavg(), cpus=os.cpu_count(),
    )
    text = json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in figures.items()}, indent=1)
    print(text)
    if args.json:
        args.json.write_text(text)


def _seed(work: Path) -> Path:
    seed = work / "seed"
    seed.mkdir()
    (seed / "seed.txt").write_text("A seed note loads the parser and the models before the timed runs.")
    return seed


if __name__ == "__main__":
    main()
