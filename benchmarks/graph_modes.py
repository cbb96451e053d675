"""Page hits of the knowledge graph branch alone (``LightRAGRetriever``) in one LightRAG mode, over a dataset.

``mmrag eval`` scores the composite retriever, whose graph branch runs in ``local`` mode: it searches the graph's
entity vectors only. This scores the graph alone in any mode (``global`` searches the relation vectors), doc-restricted
and corpus-wide, with the metrics of ``mmrag eval``, on a built store (a copy: Milvus Lite admits one process).

Usage:
    python benchmarks/graph_modes.py --dataset DATASET --store STORE [--mode global] [--top-k 10] [--json out.json]

Example:
    python benchmarks/graph_modes.py --dataset ../shared/eval/mmlongbench-dev --store /tmp/devstore_copy --mode global
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any


def evaluate(dataset: Path, store: Path, mode: str, top_k: int) -> dict[str, Any]:
    """Doc-restricted and corpus-wide page metrics of the graph branch alone in ``mode``."""
    from llama_index_mmrag.evaluation import PageRetrievalEvaluator, compute_metrics, latency_summary, load_questions
    from llama_index_mmrag.rag import MultimodalRAG
    from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever

    questions = load_questions(dataset / "questions.jsonl")
    rag = MultimodalRAG(storage_dir=store)
    try:
        stored = {record.doc for record in rag.documents()}
        asked = [q for q in questions if q.doc in stored]

        def retriever(doc: str | None) -> LightRAGRetriever:
            return LightRAGRetriever(rag.graph, rag.vector_store, mode=mode, top_k=top_k, doc=doc)

        restricted = PageRetrievalEvaluator(lambda q: retriever(q.doc), show_progress=False).evaluate_dataset(asked)
        corpus = PageRetrievalEvaluator(lambda q: retriever(None), show_progress=False).evaluate_dataset(asked)
    finally:
        rag.close()
    return {
        "mode": mode,
        "top_k": top_k,
        "questions": len(asked),
        "doc_restricted": compute_metrics(restricted),
        "corpus_wide": compute_metrics(corpus),
        "latency": latency_summary(restricted + corpus),
        "first_hit_rank": {  # per question, to see which questions a change moves
            "doc_restricted": {r.question.qid: r.first_hit_rank for r in restricted},
            "corpus_wide": {r.question.qid: r.first_hit_rank for r in corpus},
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="folder with questions.jsonl")
    parser.add_argument("--store", type=Path, required=True, help="a built store (a copy)")
    parser.add_argument("--mode", default="global", choices=("local", "global", "hybrid", "mix", "naive"))
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    report = evaluate(args.dataset, args.store, args.mode, args.top_k)
    report["wall_s"] = round(time.perf_counter() - started, 1)
    report["cpu_s"] = round(time.process_time() - cpu, 1)
    report["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps({k: v for k, v in report.items() if k != "first_hit_rank"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
