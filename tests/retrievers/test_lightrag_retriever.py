"""LightRAGRetriever over a graph built offline and over one built by a (fake) LLM: page provenance both ways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from llama_index_mmrag import LightRAGRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.graph.store import GRAPH_MODES, split_on_chunk_separator, CHUNK_SEPARATOR
from llama_index_mmrag.schema import make_chunk_id
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
    retriever = LightRAGRetriever(graph_rag.graph, graph_rag.vector_store, mode=mode, top_k=5)
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
    retriever = LightRAGRetriever(graph_rag.graph, graph_rag.vector_store, mode="local", top_k=5, include_graph_elements=True)
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


def test_graph_queries_check_their_collection_once_and_reload_one_released_elsewhere(graph_rag: MultimodalRAG) -> None:
    retriever = LightRAGRetriever(graph_rag.graph, graph_rag.vector_store, mode="local", top_k=3)
    assert retriever.retrieve("Data Node")
    lightrag = graph_rag.graph.run(graph_rag.graph._rag_instance())
    vdb = lightrag.entities_vdb
    checks: list[str] = []
    has_collection = vdb._client.has_collection
    vdb._client.has_collection = lambda name, *a, **k: (checks.append(name), has_collection(name, *a, **k))[1]
    try:
        assert retriever.retrieve("Query Node")
        assert checks == []  # loaded once: no round trips before every search
        vdb._client.release_collection(vdb.final_namespace)  # e.g. an operator freeing memory
        assert retriever.retrieve("Query Node")
        assert checks == [vdb.final_namespace]
    finally:
        vdb._client.has_collection = has_collection


def test_offline_graph_chunks_reuse_their_nodes_vectors(graph_rag: MultimodalRAG) -> None:
    if graph_rag.llm_under_test is not None:  # type: ignore[attr-defined]
        pytest.skip("LightRAG's own pipeline embeds the chunks it extracts from")
    ids = list(graph_rag.documents()[0].node_ids)
    lightrag = graph_rag.graph.run(graph_rag.graph._rag_instance())
    graph_vectors = graph_rag.graph.run(lightrag.chunks_vdb.get_vectors_by_ids(ids))
    store = graph_rag.vector_store
    rows = store.client.get(store.collection_name, ids=ids, output_fields=[store.embedding_field])
    assert len(rows) == len(ids) == len(graph_vectors)
    for row in rows:
        assert np.allclose(graph_vectors[row["id"]], row[store.embedding_field], atol=1e-6)


def test_the_graph_branch_follows_the_settings(graph_rag: MultimodalRAG) -> None:
    def graph_modes(composite: MultimodalCompositeRetriever) -> list[str]:
        return [r.mode for r in composite.retrievers if isinstance(r, LightRAGRetriever)]

    assert graph_modes(graph_rag.as_retriever(top_k=4)) == [graph_rag.settings.graph_mode] == ["local"]
    assert graph_rag.graph.run(graph_rag.graph._rag_instance()).kg_chunk_pick_method == "WEIGHT"
    assert graph_modes(graph_rag.as_retriever(graph_mode="hybrid")) == ["hybrid"]
    assert graph_modes(graph_rag.as_retriever(graph_mode="off")) == []
    with pytest.raises(ValueError, match="unknown graph mode 'fast'"):
        graph_rag.as_retriever(graph_mode="fast")
