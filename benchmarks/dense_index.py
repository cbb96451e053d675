"""Benchmark exact (FLAT) against approximate (IVF_FLAT, AUTOINDEX) dense search on Milvus Lite, by collection size.

The vectors are a store's own (the packaged MiniLM embeddings of real pages, read from ``--store``), the queries
the development set's questions embedded by the same model. Sizes beyond the store's row count are made by
adding copies of its vectors with small Gaussian noise (re-normalised), so the larger collections keep the
real data's clustering. For each size and index type the script builds a fresh Milvus Lite collection (its own
database file in a temporary folder), times the index build and every question's search (``limit`` 30, what
the facade asks the dense branch for at ``top_k`` 10), and scores recall@10 of each approximate index against
FLAT's exact answers. IVF_FLAT is searched three ways: every list probed (exact, by another code path than
FLAT's), a quarter of them, and a sixteenth.

Usage:
    python benchmarks/dense_index.py --store STORE [--sizes 1000 20000 ...] [--json OUT]

Example:
    python benchmarks/dense_index.py --store /tmp/devstore --sizes 5000 50000 200000 --json dense_index.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DATASET = Path(__file__).resolve().parent.parent.parent / "shared" / "eval" / "mmlongbench-dev"
NLIST = 128
INDEXES: dict[str, dict[str, Any]] = {
    "FLAT": {"index_type": "FLAT", "metric_type": "COSINE", "params": {}},
    "IVF_FLAT": {"index_type": "IVF_FLAT", "metric_type": "COSINE", "params": {"nlist": NLIST}},
    "AUTOINDEX": {"index_type": "AUTOINDEX", "metric_type": "COSINE", "params": {}},
}
PROBES: dict[str, list[dict[str, Any]]] = {
    "FLAT": [{}],
    "IVF_FLAT": [{"nprobe": NLIST}, {"nprobe": 32}, {"nprobe": 8}],  # every list (exact), a quarter, 1/16
    "AUTOINDEX": [{}],
}
LIMIT = 30


def store_vectors(store: Path) -> np.ndarray:
    """Every dense vector of the store's collection."""
    from pymilvus import MilvusClient

    from llama_index_mmrag.settings import MMRAGSettings
    from llama_index_mmrag.stores.connection import milvus_connection
    from llama_index_mmrag.stores.lite_server import hold_lite_store
    from llama_index_mmrag.stores.milvus import CollectionRows, ensure_loaded, scan_rows

    settings = MMRAGSettings(storage_dir=store)
    hold = hold_lite_store(settings)
    try:
        client = MilvusClient(**milvus_connection(settings.effective_milvus_uri, settings.milvus_token))
        rows = ensure_loaded(CollectionRows(client, settings.milvus_collection))
        vectors = [row["embedding"] for row in scan_rows(rows, ["embedding"])]
        client.close()
    finally:
        if hold is not None:
            hold.release()
    return np.asarray(vectors, dtype=np.float32)


def question_vectors(dataset: Path) -> np.ndarray:
    """The development questions, embedded by the packaged MiniLM."""
    from llama_index_mmrag.evaluation import load_questions
    from llama_index_mmrag.models.embeddings import PackagedMiniLMEmbedding

    questions = [q.question for q in load_questions(dataset / "questions.jsonl")]
    return np.asarray(PackagedMiniLMEmbedding().get_text_embedding_batch(questions), dtype=np.float32)


def grown(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """``size`` vectors: the real ones first, then noisy copies of them (sigma 0.02 per dimension), normalised."""
    if size <= len(vectors):
        return vectors[:size]
    rng = np.random.default_rng(seed)
    extra = vectors[rng.integers(0, len(vectors), size - len(vectors))]
    extra = extra + rng.normal(0.0, 0.02, extra.shape).astype(np.float32)
    extra /= np.linalg.norm(extra, axis=1, keepdims=True)
    return np.vstack([vectors, extra])


def measure(folder: Path, vectors: np.ndarray, queries: np.ndarray, index: dict[str, Any]) -> list[dict[str, Any]]:
    """Build one collection with ``index`` and search every query with each of its probe settings."""
    from pymilvus import DataType, MilvusClient

    client = MilvusClient(str(folder / f"{index['index_type']}_{len(vectors)}.db"))
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=vectors.shape[1])
    client.create_collection("c", schema=schema)
    for start in range(0, len(vectors), 5000):
        part = vectors[start : start + 5000]
        client.insert("c", [{"id": start + i, "embedding": v.tolist()} for i, v in enumerate(part)])
    client.flush("c")
    params = client.prepare_index_params()
    params.add_index(field_name="embedding", **index)
    started = time.perf_counter()
    client.create_index("c", params)
    client.load_collection("c")
    build_s = time.perf_counter() - started
    runs = []
    for probe in PROBES[index["index_type"]]:
        latencies, ids = [], []
        for query in queries:
            started = time.perf_counter()
            [hits] = client.search("c", [query.tolist()], limit=LIMIT, search_params={"metric_type": "COSINE", "params": probe})
            latencies.append((time.perf_counter() - started) * 1000)
            ids.append([hit["id"] for hit in hits])
        runs.append({"search": probe, "build_s": round(build_s, 2), "p50_ms": round(statistics.median(latencies), 2),
                     "p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 2), "ids": ids})
    client.close()
    return runs


def recall_at(found: list[list[int]], exact: list[list[int]], k: int = 10) -> float:
    """Mean share of the exact top ``k`` that the approximate top ``k`` holds."""
    return round(statistics.mean(len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 20000, 50000, 100000, 300000])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    vectors, queries = store_vectors(args.store), question_vectors(args.dataset)
    print(f"store rows {len(vectors)}, questions {len(queries)}, load {os.getloadavg()[0]:.1f}")
    results = []
    with tempfile.TemporaryDirectory(prefix="dense-index-") as tmp:
        for size in args.sizes:
            data = grown(vectors, size)
            runs = {name: measure(Path(tmp), data, queries, index) for name, index in INDEXES.items()}
            exact = runs["FLAT"][0]["ids"]
            for name, probes in runs.items():
                for run in probes:
                    row = {"rows": size, "index": name, "search": run["search"], "build_s": run["build_s"],
                           "p50_ms": run["p50_ms"], "p95_ms": run["p95_ms"], "recall@10": recall_at(run["ids"], exact)}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"load": os.getloadavg(), "rows": results}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
