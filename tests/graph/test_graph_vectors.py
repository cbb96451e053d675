"""The graph's vectors on Milvus Lite: a text is embedded once, whether it comes back in a second document, in a
second write of the same document, or twice in one write; a graph built without an LLM composes its relation
vectors from its entities' vectors (one built with an LLM embeds their text); graph queries in every mode still
find the entities, and global mode the relations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lightrag.utils import make_relation_vdb_ids
from llama_index.core.schema import TextNode

from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg
from llama_index_mmrag.graph.keywords import query_keywords
from llama_index_mmrag.graph.kg_loader import adelete_kg, ainsert_kg, relation_vector_text
from llama_index_mmrag.graph.milvus_storage import compose_relation_vector
from llama_index_mmrag.graph.store import GRAPH_MODES, GraphStore
from llama_index_mmrag.models.adapters import lightrag_llm_func
from llama_index_mmrag.models.embeddings import local_embedding
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.lite_server import hold_lite_store
from tests.graph.test_extract import ARCH_DOC, OPS
from tests.support.fake_llm import FakeLLM

OPS_MORE = GraphChunk(
    chunk_id="ops-1", content="Operators upgrade Kubernetes clusters at night.", doc="ops_more.md", page=None, modality="text"
)


class CountingEmbedding:
    """The packaged MiniLM, recording every text the graph hands it."""

    def __init__(self) -> None:
        self.model = local_embedding()
        self.texts: list[str] = []

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        self.texts.extend(texts)
        return self.model.get_text_embedding_batch(texts)

    async def aget_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        self.texts.extend(texts)
        return await self.model.aget_text_embedding_batch(texts)


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GraphStore, CountingEmbedding]]:
    embed = CountingEmbedding()
    settings = MMRAGSettings(storage_dir=tmp_path_factory.mktemp("graph_vectors") / "store")
    hold = hold_lite_store(settings)  # the store's Milvus Lite server lives as long as the module's tests
    store = GraphStore(settings, embed, 384)
    yield store, embed
    store.close()
    if hold is not None:
        hold.release()


def _insert(store: GraphStore, chunks: list[Any]) -> None:
    async def insert() -> None:
        await ainsert_kg(await store._rag_instance(), build_custom_kg(chunks))

    store.run(insert())


def _rows(store: GraphStore, namespace: str, fields: list[str]) -> list[dict[str, Any]]:
    """Every row of one of the graph's collections (``fields`` and the id)."""
    rag = store.run(store._rag_instance())
    vdb = {"entities": rag.entities_vdb, "relationships": rag.relationships_vdb, "chunks": rag.chunks_vdb}[namespace]
    return vdb._client.query(collection_name=vdb.final_namespace, filter="", output_fields=fields, limit=10_000)


def _stored(store: GraphStore, namespace: str) -> dict[str, tuple[str, list[float]]]:
    """``id -> (content, vector)`` of every row of one of the graph's collections."""
    return {row["id"]: (row["content"], list(row["vector"])) for row in _rows(store, namespace, ["content", "vector"])}


def test_texts_already_stored_are_not_embedded_again(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, embed = graph
    _insert(store, ARCH_DOC)
    kg = build_custom_kg(ARCH_DOC)
    first = list(embed.texts)
    assert len(first) == len(set(first)) == len(kg["entities"]) + len(kg["chunks"])  # relations: composed, not embedded
    assert not {relation_vector_text(r["src_id"], r["tgt_id"], r) for r in kg["relationships"]} & set(first)
    entities, relations = _stored(store, "entities"), _stored(store, "relationships")

    embed.texts.clear()
    _insert(store, ARCH_DOC)  # the same document written again (a retried or repeated ingest)
    assert embed.texts == []  # every entity and relation text is stored under its id already: nothing is embedded
    assert _stored(store, "entities") == entities and _stored(store, "relationships") == relations

    embed.texts.clear()
    _insert(store, [OPS])  # a second document mentions milvus and the query node again
    second = build_custom_kg([OPS])
    changed = {e["entity_name"] for e in second["entities"]}
    assert embed.texts and len(embed.texts) < len(second["entities"]) + 1 + len(changed)
    after = _stored(store, "entities")
    for key, (content, vector) in after.items():  # every stored vector is its own text's vector
        if content in embed.texts or key not in entities:
            continue
        assert content == entities[key][0] and np.allclose(vector, entities[key][1])
    rag = store.run(store._rag_instance())
    for key, (content, vector) in list(after.items())[:8]:
        fresh = store.run(rag.embedding_func([content]))[0]
        assert np.allclose(vector, fresh, atol=1e-5), content


def test_one_text_twice_in_one_write_is_embedded_once(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, embed = graph
    rag = store.run(store._rag_instance())
    text = "kubernetes\nOperators deploy Milvus on Kubernetes clusters."
    records = {
        f"ent-twice-{i}": {"content": text, "entity_name": f"twice {i}", "source_id": "ops-0", "file_path": "ops.md"}
        for i in range(3)
    }
    embed.texts.clear()
    store.run(rag.entities_vdb.upsert(records))
    assert embed.texts == [text]
    stored = _stored(store, "entities")
    vectors = [stored[key][1] for key in records]
    assert all(np.allclose(v, vectors[0]) for v in vectors)
    store.run(rag.entities_vdb.delete(list(records)))


def test_graph_queries_in_every_mode_still_find_the_entities(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, _ = graph
    question = "What does the Query Node read from MinIO?"
    for mode in GRAPH_MODES:
        data = store.run(store.aquery_data(question, mode=mode, top_k=10))
        chunk_ids = {c["chunk_id"] for c in data["chunks"]}
        assert chunk_ids and chunk_ids <= {"arch-0", "arch-1", "arch-2", "ops-0"}, mode
        if mode != "naive":
            assert {e["entity_name"] for e in data["entities"]} & {"query node", "minio"}, mode


def test_relation_vectors_are_their_entities_vectors_composed(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, _ = graph
    entities = {row["entity_name"]: np.asarray(row["vector"]) for row in _rows(store, "entities", ["entity_name", "vector"])}
    relations = _rows(store, "relationships", ["src_id", "tgt_id", "content", "source_id", "file_path", "vector"])
    edges = store.run(store.run(store._rag_instance()).chunk_entity_relation_graph.get_all_edges())
    assert relations and len(relations) == len(edges)
    # ids, endpoints and metadata as LightRAG writes them: one row per graph edge, under LightRAG's id for the pair
    assert {r["id"] for r in relations} == {make_relation_vdb_ids(*sorted((e["source"], e["target"])))[0] for e in edges}
    latest = [row for row in relations if "ops-0" in row["source_id"]]  # written by the last write (OPS)
    assert latest
    for row in relations:
        vector = np.asarray(row["vector"])
        assert vector.shape == (384,) and np.isclose(np.linalg.norm(vector), 1.0, atol=1e-5)
        assert row["file_path"] and row["content"].split("\t", 1)[1].startswith(f"{row['src_id']}\n{row['tgt_id']}")
    chunks = {row["id"]: row["vector"] for row in _rows(store, "chunks", ["vector"])}
    for row in latest:
        pair = compose_relation_vector(entities[row["src_id"]], entities[row["tgt_id"]])
        expected = compose_relation_vector(pair, chunks[row["source_id"].split("<SEP>")[0]])  # and its first chunk
        assert np.allclose(row["vector"], expected, atol=1e-6), (row["src_id"], row["tgt_id"])


def test_global_mode_finds_the_relation_between_two_named_entities(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, _ = graph
    data = store.run(store.aquery_data("How are Kubernetes and the operators related?", mode="global", top_k=3))
    pairs = {frozenset((r["src_id"], r["tgt_id"])) for r in data["relationships"]}
    assert frozenset(("kubernetes", "operator")) in pairs and len(pairs) <= 3
    assert "ops-0" in {c["chunk_id"] for c in data["chunks"]}


def test_a_delete_that_rewrites_relations_composes_their_vectors(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, embed = graph
    rag = store.run(store._rag_instance())
    _insert(store, [OPS_MORE])
    for vdb in (rag.entities_vdb, rag.chunks_vdb):  # as in a process that only deletes
        vdb._client.release_collection(vdb.final_namespace)
        vdb._mmrag_loaded = False
    rag.relationships_vdb._mmrag_ends_loaded = False
    embed.texts.clear()
    store.run(adelete_kg(rag, build_custom_kg([OPS_MORE])))  # kubernetes--operator keeps its OPS source: rewritten
    assert not [t for t in embed.texts if "\t" in t]  # no relation text embedded
    entities = {row["entity_name"]: row["vector"] for row in _rows(store, "entities", ["entity_name", "vector"])}
    kept = [r for r in _rows(store, "relationships", ["src_id", "tgt_id", "source_id", "vector"])
            if {r["src_id"], r["tgt_id"]} == {"kubernetes", "operator"}]
    assert len(kept) == 1 and kept[0]["source_id"] == "ops-0"
    pair = compose_relation_vector(entities[kept[0]["src_id"]], entities[kept[0]["tgt_id"]])
    chunk = {row["id"]: row["vector"] for row in _rows(store, "chunks", ["vector"])}["ops-0"]
    assert np.allclose(kept[0]["vector"], compose_relation_vector(pair, chunk), atol=1e-6)


def test_a_graph_built_with_an_llm_embeds_its_relation_texts(tmp_path: Path) -> None:
    embed = CountingEmbedding()
    settings = MMRAGSettings(storage_dir=tmp_path / "store")
    hold = hold_lite_store(settings)
    store = GraphStore(settings, embed, 384, llm_func=lightrag_llm_func(FakeLLM()))
    try:
        node = TextNode(id_="llm-0", text="Milvus Lite stores vectors. Query Node reads segments from Object Storage.",
                        metadata={"doc": "llm.md", "page": 0, "modality": "text"})
        store.run(store.ainsert_nodes([node]))
        relations = _rows(store, "relationships", ["content", "vector"])
        assert relations  # LightRAG's own extraction (the fake LLM's answer) related the names
        assert {row["content"] for row in relations} <= set(embed.texts)  # each relation's text was embedded
        rag = store.run(store._rag_instance())
        assert not rag.relationships_vdb.composes_relations and not rag.entities_vdb.composes_relations
        for row in relations:
            assert np.allclose(row["vector"], store.run(rag.embedding_func([row["content"]]))[0], atol=1e-5)
    finally:
        store.close()
        if hold is not None:
            hold.release()
