"""Queries while an ingest runs in the same process, and many queries at once from one event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from llama_index.core.schema import NodeWithScore

from llama_index_mmrag import MultimodalRAG
from tests.lifecycle.conftest import A_TEXT
from tests.lifecycle.store_state import store_state

QUESTIONS = (
    "Which node searches sealed segments?",
    "Where does Milvus Lite run?",
    "Who seals segments?",
    "What talks to Milvus through the Proxy?",
)


def _ids(nodes: list[NodeWithScore]) -> list[str]:
    return [n.node.node_id for n in nodes]


def _check(nodes: list[NodeWithScore], allowed: set[str]) -> None:
    for nws in nodes:
        meta = nws.node.metadata
        assert meta["doc"] in allowed and meta["modality"] in {"text", "image"} and isinstance(meta["page"], int)
        assert nws.node.get_content().strip()


def test_queries_keep_answering_consistently_while_an_ingest_runs(tmp_path: Path, corpus: list[Path]) -> None:
    more = []
    for i in range(4):  # a longer batch, so that many queries overlap it
        extra = tmp_path / f"extra-{i}.txt"
        extra.write_text(f"Release {i} notes.\n\nThe Index Node builds index {i} for sealed segments of collection {i}.\n")
        more.append(extra)
    names = {p.name for p in [*corpus, *more]}

    async def main(rag: MultimodalRAG) -> tuple[int, int]:
        retriever = rag.as_retriever(top_k=3)
        scoped = rag.as_retriever(top_k=3, doc="a.txt")
        baseline = _ids(await scoped.aretrieve(QUESTIONS[0]))
        assert baseline
        ingest = asyncio.create_task(rag.aingest([*corpus[1:], *more], show_progress=False))
        during = 0
        while not ingest.done():
            question = QUESTIONS[during % len(QUESTIONS)]
            nodes, scoped_nodes = await asyncio.gather(retriever.aretrieve(question), scoped.aretrieve(QUESTIONS[0]))
            assert nodes, question
            _check(nodes, names)
            assert _ids(scoped_nodes) == baseline  # a committed document answers the same throughout
            during += 1
        report = await ingest
        assert report.ok and len(report.ingested) == len(corpus) - 1 + len(more), report.failures
        assert _ids(await scoped.aretrieve(QUESTIONS[0])) == baseline
        return during, len(report.ingested)

    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest([corpus[0]], show_progress=False).ok
        assert corpus[0].read_text() == A_TEXT
        during, ingested = asyncio.run(main(rag))
    assert during >= 3, f"only {during} queries ran during the ingest of {ingested} documents"


async def _32_concurrent_queries(rag: MultimodalRAG) -> None:
    retriever = rag.as_retriever(top_k=4)
    sequential = {q: _ids(await retriever.aretrieve(q)) for q in QUESTIONS}
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(32)]
    results = await asyncio.gather(*(retriever.aretrieve(q) for q in questions), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    for question, nodes in zip(questions, results):
        assert _ids(nodes) == sequential[question], question  # type: ignore[arg-type]
        _check(nodes, {"a.txt", "b.png", "c.txt"})  # type: ignore[arg-type]


def test_concurrent_ingests_store_each_document_once_and_32_concurrent_queries_all_complete(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    async def ingest_twice(rag: MultimodalRAG) -> list[Any]:
        return await asyncio.gather(
            rag.aingest(corpus[:2], show_progress=False), rag.aingest(corpus[1:], show_progress=False)
        )

    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        first, second = asyncio.run(ingest_twice(rag))
        assert first.ok and second.ok, (first.failures, second.failures)
        assert sorted(first.ingested + second.ingested) == [p.name for p in corpus]  # b.png once
        assert "b.png" in first.unchanged + second.unchanged
        state = store_state(rag)
        asyncio.run(_32_concurrent_queries(rag))  # one event loop, 32 queries at once: no errors, same answers
    ref = reference_states[-1]
    for key in ("manifest", "milvus_ids", "milvus_count", "milvus_duplicates", "vectors", "journal_pending"):
        assert state[key] == ref[key], key
    assert set(state["entities"]) == set(ref["entities"]) and set(state["relations"]) == set(ref["relations"])
