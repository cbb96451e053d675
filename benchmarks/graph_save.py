"""Benchmark what keeping the graph's files whole costs: one GraphML save, upstream's in-place write against the
package's atomic save (XML-safety scan + temporary file + fsync + rename), and the journal's last-good copy.

The graph is synthetic but shaped like an LLM-free graph of a large store: N entities with a one-sentence
description and two source chunk ids, 3 x N relations with a snippet description. Medians of R runs are printed
with the load average, since wall-clock times depend on what else the machine runs.

Usage:
    python benchmarks/graph_save.py [--nodes N] [--runs R]

Example:
    python benchmarks/graph_save.py --nodes 20000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import networkx as nx


def build_graph(nodes: int, seed: int = 7) -> nx.Graph:
    """A graph of ``nodes`` entities and ``3 * nodes`` relations with LightRAG's attributes."""
    rng = random.Random(seed)
    graph = nx.Graph()
    names = [f"entity {i} of the report" for i in range(nodes)]
    for i, name in enumerate(names):
        graph.add_node(
            name,
            entity_id=name,
            entity_type="CONCEPT",
            description=f"{name} is mentioned in section {i % 97} with figures for the quarter and the region.",
            source_id=f"chunk-{i:032x}<SEP>chunk-{i + 1:032x}",
            file_path="report.pdf",
            created_at=1_700_000_000,
        )
    for _ in range(3 * nodes):
        a, b = rng.sample(names, 2)
        graph.add_edge(
            a, b,
            weight=2.0,
            description=f"{a} and {b} are mentioned together in report.pdf (page {rng.randrange(300)}).",
            keywords="co-occurrence",
            source_id=f"chunk-{rng.randrange(10**9):032x}",
            file_path="report.pdf",
            created_at=1_700_000_000,
        )
    return graph


def _median(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from llama_index_mmrag.graph.file_storage import _unsafe_strings, write_graphml_atomic
    from llama_index_mmrag.index.journal import Journal

    graph = build_graph(args.nodes)
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder)
        graph_dir = store / "lightrag" / "ws"
        graph_dir.mkdir(parents=True)
        path = graph_dir / "graph_chunk_entity_relation.graphml"
        upstream = _median(lambda: nx.write_graphml(graph, str(path)), args.runs)
        scan = _median(lambda: _unsafe_strings(graph), args.runs)
        atomic = _median(lambda: write_graphml_atomic(graph, path), args.runs)
        journal = Journal(store, store / "lightrag")

        keeps = []
        for _ in range(args.runs):
            write_graphml_atomic(graph, path)  # a new version: the copy must be refreshed (untimed)
            start = time.perf_counter()
            journal.keep_last_good()
            keeps.append(time.perf_counter() - start)
        keep = statistics.median(keeps)
        start = time.perf_counter()
        journal.keep_last_good()  # nothing changed: nothing is copied
        unchanged = time.perf_counter() - start
        size = path.stat().st_size / 2**20
    load = os.getloadavg()
    print(f"graph: {args.nodes:,} nodes, {3 * args.nodes:,} edges, GraphML {size:.1f} MiB; load average {load[0]:.1f}")
    print(f"upstream in-place write_graphml     {upstream:7.3f} s")
    print(f"XML-safety scan alone               {scan:7.3f} s")
    print(f"atomic save (scan, temp, fsync, mv)  {atomic:7.3f} s")
    print(f"last-good copy of the changed file  {keep:7.3f} s")
    print(f"last-good copy, nothing changed     {unchanged:7.3f} s")


if __name__ == "__main__":
    main()
