"""Benchmark the packaged MiniLM's backends side by side: ONNX Runtime, torch and numpy.

Each backend embeds the same texts in a fresh process (so its imports, its load and its memory are its own):
**chunks** (windows of about 200 words, what an ingest embeds per node: they fill the model's 256 tokens) and
**entities** (a name and a sentence, what the knowledge graph embeds per entity and relation). It prints, per
backend and workload, texts per second, wall and CPU seconds (the whole process: ONNX Runtime's and torch's own
threads included), the load CPU-seconds (import and weights) and the process's peak RSS; then each backend's
cosine to torch's vectors (the smallest over all texts) and its largest absolute difference.

The numpy backend computes GELU's erf one element at a time in Python, so it embeds only the first
``--numpy-texts`` of each workload (enough to show its rate).

Usage:
    python benchmarks/embedding.py [--chunks N] [--entities N] [--threads N] [--json OUT]

Example:
    python benchmarks/embedding.py --chunks 256 --entities 1024
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

WORKER = r"""
import json, resource, sys, time
import numpy as np
spec = json.loads(open(sys.argv[1], encoding="utf-8").read())
started, started_cpu = time.perf_counter(), time.process_time()
from llama_index_mmrag.models.embeddings import PackagedMiniLMEmbedding
model = PackagedMiniLMEmbedding(embed_batch_size=64, backend=spec["backend"])
model.get_text_embedding_batch(["warm up the backend"] * 64)   # builds the session / imports torch
load = (time.perf_counter() - started, time.process_time() - started_cpu)
rows = {}
for name, texts in spec["workloads"].items():
    t, c = time.perf_counter(), time.process_time()
    vectors = np.array(model.get_text_embedding_batch(texts), dtype=np.float32)
    rows[name] = {"texts": len(texts), "wall_s": time.perf_counter() - t, "cpu_s": time.process_time() - c}
    np.save(spec["out"] + "_" + name + ".npy", vectors)
print(json.dumps({"load_wall_s": load[0], "load_cpu_s": load[1], "workloads": rows,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "torch_imported": "torch" in sys.modules}))
"""


def corpus_words() -> list[str]:
    """The words of the repository's own prose (README, design notes, the demo FAQ): varied English text."""
    words: list[str] = []
    for path in sorted([*ROOT.glob("*.md"), *(ROOT / "sample").glob("*.txt"), *(ROOT / "benchmarks").glob("*.md")]):
        words.extend(path.read_text(encoding="utf-8", errors="replace").split())
    return words


def workloads(chunks: int, entities: int) -> dict[str, list[str]]:
    """Chunks of 200 words (stride 150) and entity-like texts of 12 words, cycled over the corpus."""
    words = corpus_words()
    chunk_texts = [" ".join(words[(i * 150) % (len(words) - 200) :][:200]) for i in range(chunks)]
    entity_texts = [" ".join(words[(i * 7) % (len(words) - 12) :][:12]) for i in range(entities)]
    return {"chunks": chunk_texts, "entities": entity_texts}


def run_backend(backend: str, texts: dict[str, list[str]], out: str, threads: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # torch's intra-op threads
    spec = Path(out + ".json")
    spec.write_text(json.dumps({"backend": backend, "workloads": texts, "out": out}), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(spec)], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"backend {backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=256, help="chunk-sized texts (default 256)")
    parser.add_argument("--entities", type=int, default=1024, help="entity-sized texts (default 1024)")
    parser.add_argument("--numpy-texts", type=int, default=32, help="texts per workload for numpy (default 32)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (OMP_NUM_THREADS; 0: its default)")
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args()

    texts = workloads(args.chunks, args.entities)
    load = os.getloadavg()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores: {os.cpu_count()}")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in ("torch", "onnx", "numpy"):
            subset = texts if backend != "numpy" else {k: v[: args.numpy_texts] for k, v in texts.items()}
            results[backend] = run_backend(backend, subset, str(Path(tmp) / backend), args.threads)
        import numpy as np

        for backend in ("onnx", "numpy"):
            for name in texts:
                ours = np.load(Path(tmp) / f"{backend}_{name}.npy")
                ref = np.load(Path(tmp) / f"torch_{name}.npy")[: len(ours)]
                cosine = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
                results[backend]["workloads"][name]["min_cosine_to_torch"] = float(cosine.min())
                results[backend]["workloads"][name]["max_abs_diff_to_torch"] = float(np.abs(ours - ref).max())
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print(f"{'backend':8} {'workload':9} {'texts':>6} {'texts/s':>8} {'wall s':>7} {'CPU s':>7} {'CPU ms/text':>11} "
          f"{'load CPU s':>10} {'peak RSS MB':>11} {'torch':>6} {'min cos':>9} {'max |diff|':>10}")
    for backend, result in results.items():
        for name, row in result["workloads"].items():
            print(
                f"{backend:8} {name:9} {row['texts']:6d} {row['texts'] / row['wall_s']:8.1f} {row['wall_s']:7.2f} "
                f"{row['cpu_s']:7.2f} {1000 * row['cpu_s'] / row['texts']:11.1f} {result['load_cpu_s']:10.2f} "
                f"{result['peak_rss_mb']:11.0f} {str(result['torch_imported']):>6} "
                f"{row.get('min_cosine_to_torch', 1.0):9.6f} {row.get('max_abs_diff_to_torch', 0.0):10.2e}"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
