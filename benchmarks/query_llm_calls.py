"""Count the LLM calls a question costs on a store built with an LLM: per retrieval and per answered query.

A store of the demo's two files is built through the facade with a deterministic fake LLM and VLM
(tests/support/fake_llm.py, fake_mm_llm.py: the real LlamaIndex LLM interface, every call recorded), so LightRAG's
and RAG-Anything's LLM paths run. Then each question goes once through ``rag.as_retriever().retrieve(q)`` and once
through ``rag.as_query_engine().query(q)`` (a question the retriever has not seen, so LightRAG's LLM cache cannot
hide a call), in every graph mode, with the ``graph_llm_keywords`` setting off (the default) and on; the calls the
LLM received are counted by kind (LightRAG's keyword prompt, the answer, anything else).

Usage:
    python benchmarks/query_llm_calls.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Does Milvus support simultaneous insertion and search?",
    "What are the key components of the Milvus architecture?",
    "Can Milvus run inside a Python process?",
]
MODES = ["local", "global", "hybrid", "mix", "naive"]


def _kind(prompt: str) -> str:
    if "high_level_keywords" in prompt and "low_level_keywords" in prompt:
        return "keywords"
    if "Context information is below" in prompt:
        return "answer"
    return "other"


def _count(llm: Any, run: Any) -> Counter[str]:
    before = len(llm.calls)
    run()
    return Counter(_kind(p) for p in llm.calls[before:])


def main() -> None:
    """Build the store with the fakes, then count calls per retrieval and per query in every set-up."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()

    from llama_index_mmrag import MultimodalRAG
    from tests.support.fake_llm import FakeLLM
    from tests.support.fake_mm_llm import FakeMultiModalLLM

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "store"
        llm, vlm = FakeLLM(), FakeMultiModalLLM()
        with MultimodalRAG(storage_dir=store, llm=llm, vlm=vlm) as rag:
            report = rag.ingest([ROOT / "sample" / "milvus_faq.txt", ROOT / "sample" / "milvus_architecture.png"],
                                show_progress=False)
            assert report.ok, report.failures
        for llm_keywords in (False, True):
            for mode in MODES:
                with MultimodalRAG(storage_dir=store, llm=llm, vlm=vlm, graph_mode=mode,
                                   graph_llm_keywords=llm_keywords) as rag:
                    retrieve: Counter[str] = Counter()
                    query: Counter[str] = Counter()
                    for i, question in enumerate(QUESTIONS):
                        retrieve += _count(llm, lambda q=f"{question} (retrieve {mode} {llm_keywords})":
                                           rag.as_retriever().retrieve(q))
                        query += _count(llm, lambda q=f"{question} (query {mode} {llm_keywords})":
                                        rag.as_query_engine().query(q))
                n = len(QUESTIONS)
                rows.append({
                    "graph_llm_keywords": llm_keywords, "graph_mode": mode, "questions": n,
                    "calls_per_retrieve": sum(retrieve.values()) / n, "calls_per_query": sum(query.values()) / n,
                    "retrieve_by_kind": dict(retrieve), "query_by_kind": dict(query),
                })
    print("| graph_llm_keywords | graph mode | LLM calls per retrieve | LLM calls per query | query calls by kind |")
    print("|---|---|---|---|---|")
    for row in rows:
        kinds = ", ".join(f"{k} {v / row['questions']:g}" for k, v in sorted(row["query_by_kind"].items())) or "none"
        print(f"| {row['graph_llm_keywords']} | {row['graph_mode']} | {row['calls_per_retrieve']:g} | "
              f"{row['calls_per_query']:g} | {kinds} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
