"""The graph's vectors on Milvus Lite: a text is embedded once, whether it comes back in a second document, in a
second write of the same document, or twice in one write; graph queries in every mode still find the entities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llama_index_mmrag.graph.extract import build_custom_kg
from llama_index_mmrag.graph.keywords import query_keywords
from llama_index_mmrag.graph.kg_loader import ainsert_kg
from llama_index_mmrag.graph.store import GRAPH_MODES, GraphStore
from llama_index_mmrag.models.embeddings import local_embedding
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.lite_server import hold_lite_store
from tests.graph.test_extract import ARCH_DOC, OPS


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


def _stored(store: GraphStore, namespace: str) -> dict[str, tuple[str, list[float]]]:
    """``id -> (content, vector)`` of every row of one of the graph's collections."""
    rag = store.run(store._rag_instance())
    vdb = {"entities": rag.entities_vdb, "relationships": rag.relationships_vdb}[namespace]
    rows = vdb._client.query(collection_name=vdb.final_namespace, filter="", output_fields=["content", "vector"], limit=10_000)
    return {row["id"]: (row["content"], list(row["vector"])) for row in rows}


def test_texts_already_stored_are_not_embedded_again(graph: tuple[GraphStore, CountingEmbedding]) -> None:
    store, embed = graph
    _insert(store, ARCH_DOC)
    kg = build_custom_kg(ARCH_DOC)
    first = list(embed.texts)
    assert len(first) == len(set(first)) == len(kg["entities"]) + len(kg["relationships"]) + len(kg["chunks"])
    entities, relations = _stored(store, "entities"), _stored(store, "relationships")

    embed.texts.clear()
    _insert(store, ARCH_DOC)  # the same document written again (a retried or repeated ingest)
    assert embed.texts == []  # every entity and relation text is stored under its id already: nothing is embedded
    assert _stored(store, "entities") == entities and _stored(store, "relationships") == relations

    embed.texts.clear()
    _insert(store, [OPS])  # a second document mentions milvus and the query node again
    second = build_custom_kg([OPS])
    changed = {e["entity_name"] for e in second["entities"]}
    assert embed.texts and len(embed.texts) < len(second["entities"]) + len(second["relationships"]) + 1 + len(changed)
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
