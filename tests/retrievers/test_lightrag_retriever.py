"""LightRAGRetriever over a graph built offline and over one built by a (fake) LLM: page provenance both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_index_mmrag import LightRAGRetriever, MultimodalRAG
from llama_index_mmrag.graph.store import GRAPH_MODES, split_on_chunk_separator, CHUNK_SEPARATOR
from llama_index_mmrag.blocks import make_chunk_id
from llama_index_mmrag.models.tokenizer import offline_tokenizer
from tests.support.fake_llm import FakeLLM

PAGES = [
    "Milvus Architecture. The Query Node serves searches while the Data Node persists inserted data.",
    "Object Storage keeps segments and binlogs. Meta Storage etcd keeps collection metadata.",
    "The Streaming Node consumes the Log Broker and builds growing segments for fresh data.",
]


def _write_pages(path: Path) -> Path:
    path.write_text("\n\n".join(PAGES), encoding="utf-8")
    return path


def test_chunking_func_gives_back_exactly_our_chunks_and_ids() -> None:
    contents = ["[a.pdf, page 0, text]\nFirst chunk.", "[a.pdf, page 1, table]\n| A | B |"]
    parts = split_on_chunk_separator(offline_tokenizer(), CHUNK_SEPARATOR.join(contents))
    assert [p["content"] for p in parts] == contents
    from lightrag.utils import compute_mdhash_id

    assert [compute_mdhash_id(p["content"], prefix="chunk-") for p in parts] == [make_chunk_id(c) for c in contents]


@pytest.fixture(scope="module", params=["offline", "fake-llm"])
def graph_rag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalRAG]:
    llm = FakeLLM() if request.param == "fake-llm" else None
    store = tmp_path_factory.mktemp(request.param)
    doc = _write_pages(store / "architecture_notes.txt")
    rag = MultimodalRAG(storage_dir=store / "store", llm=llm, chunk_size=32, chunk_overlap=4)
    report = rag.ingest([doc], show_progress=False)
    assert report.ok, report.failures
    rag.llm_under_test = llm  # type: ignore[attr-defined]
    yield rag
    rag.close()


@pytest.mark.parametrize("mode", GRAPH_MODES)
def test_every_mode_returns_stored_nodes_with_provenance(graph_rag: MultimodalRAG, mode: str) -> None:
    retriever = LightRAGRetriever.from_rag(graph_rag, mode=mode, top_k=5)
    nodes = retriever.retrieve("Which node persists inserted data?")
    assert nodes, f"mode {mode} returned nothing"
    stored = set(graph_rag.documents()[0].node_ids)
    for n in nodes:
        assert n.node.node_id in stored  # graph chunk ids are the Milvus node ids
        assert n.node.metadata["doc"] == "architecture_notes.txt"
        assert n.node.metadata["page"] == 0 and n.node.metadata["modality"] == "text"
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True) and scores[0] == 1.0


def test_entities_come_back_linked_to_their_source_chunks(graph_rag: MultimodalRAG) -> None:
    retriever = LightRAGRetriever.from_rag(graph_rag, mode="local", top_k=5, include_graph_elements=True)
    nodes = retriever.retrieve("Data Node")
    entities = [n for n in nodes if n.node.metadata["modality"] == "entity"]
    assert entities
    stored = set(graph_rag.documents()[0].node_ids)
    for entity in entities:
        assert set(entity.node.metadata["source_chunk_ids"]) <= stored
        assert entity.node.metadata["doc"] == "architecture_notes.txt"


def test_offline_queries_make_no_llm_call_and_llm_graphs_use_the_llm(graph_rag: MultimodalRAG) -> None:
    llm = graph_rag.llm_under_test  # type: ignore[attr-defined]
    if llm is None:
        assert graph_rag.graph.has_llm is False  # the no-LLM function raises if ever called
        return
    extraction_calls = [c for c in llm.calls if "<Input Text>" in c]
    assert len(extraction_calls) >= len(graph_rag.documents()[0].node_ids)
