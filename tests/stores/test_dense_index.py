"""The dense index: a Milvus Lite store searches exactly while small, approximately beyond; other indexes by setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from llama_index_mmrag import MilvusModalRetriever, MultimodalRAG
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.dense_index import LITE_NLIST
from llama_index_mmrag.stores.milvus import scan_rows

QUESTIONS = [
    "Does Milvus support simultaneous insertion and search?",
    "What does the architecture diagram show?",
    "How are deletes handled?",
    "Which index types can I use?",
]


def _index_type(rag: MultimodalRAG) -> str:
    store = rag.vector_store
    [name] = store.client.list_indexes(store.collection_name, field_name=store.embedding_field)
    return str(store.client.describe_index(store.collection_name, name)["index_type"])


def _exact_top(rag: MultimodalRAG, question: str, k: int) -> list[str]:
    """The k nearest rows by cosine similarity, computed over every vector of the store."""
    rows = list(scan_rows(rag.vector_store, ["id", rag.vector_store.embedding_field]))
    ids = [row["id"] for row in rows]
    vectors = np.asarray([row[rag.vector_store.embedding_field] for row in rows], dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = np.asarray(rag.embed_model.get_query_embedding(question), dtype=np.float64)
    scores = vectors @ (query / np.linalg.norm(query))
    return [ids[i] for i in np.argsort(-scores, kind="stable")[:k]]


def test_a_new_lite_store_searches_every_list_so_its_dense_results_are_exact(demo_rag: MultimodalRAG) -> None:
    assert _index_type(demo_rag) == "IVF_FLAT"
    assert demo_rag.vector_store.search_config == {"nprobe": LITE_NLIST}
    dense = MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, similarity_top_k=5, mode="dense")
    for question in QUESTIONS:
        assert [n.node.node_id for n in dense.retrieve(question)] == _exact_top(demo_rag, question, 5), question
    # pymilvus writes into the search parameters it is given: the store's own stay as they were, so the
    # hybrid searches after a dense one still run
    assert demo_rag.vector_store.search_config == {"nprobe": LITE_NLIST}
    assert demo_rag.as_retriever(top_k=3).retrieve(QUESTIONS[0])


def _reopened(store: Path, **settings: Any) -> MultimodalRAG:
    return MultimodalRAG(storage_dir=store, **settings)


def test_beyond_the_exact_size_a_search_probes_a_quarter_of_the_lists(faq_store_copy: Path) -> None:
    with _reopened(faq_store_copy, exact_search_max_rows=0) as rag:
        assert rag.vector_store.search_config == {"nprobe": LITE_NLIST // 4}
        assert rag.as_retriever(top_k=3).retrieve(QUESTIONS[0])
    with _reopened(faq_store_copy, dense_search_params={"nprobe": 2}) as rag:  # the user's parameters win
        assert rag.vector_store.search_config == {"nprobe": 2}
        assert rag.as_retriever(top_k=3).retrieve(QUESTIONS[0])


def test_another_index_type_by_setting_and_a_store_keeps_the_index_it_was_made_with(
    tmp_path: Path, sample_faq: Path
) -> None:
    with _reopened(tmp_path / "store", dense_index="AUTOINDEX") as rag:
        assert rag.ingest([sample_faq], show_progress=False).ok
        assert _index_type(rag) == "AUTOINDEX" and rag.vector_store.search_config == {}
    with _reopened(tmp_path / "store") as rag:  # the default would be IVF_FLAT: the collection keeps AUTOINDEX
        assert _index_type(rag) == "AUTOINDEX" and rag.vector_store.search_config == {}
        assert rag.as_retriever(top_k=3).retrieve(QUESTIONS[0])[0].node.metadata["doc"] == sample_faq.name


@pytest.mark.parametrize("value", ["hnsw", "HNSW; drop", "", "IVF FLAT"])
def test_an_index_type_that_is_not_a_milvus_name_is_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="dense_index"):
        MMRAGSettings(dense_index=value)
