"""Scope and size arguments are checked where a user hands them over: a wrong type or an empty scope is an
error that names the argument, never a deep engine error and never an unfiltered search."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llama_index.core.vector_stores.types import MetadataFilter

from llama_index_mmrag import LightRAGRetriever, MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.retrievers.arguments import MAX_TOP_K, ScopeArgumentError

BAD_ARGUMENTS: list[tuple[str, Any]] = [
    # an empty or false-y scope selects nothing: refused, never read as "no filter"
    ("modalities", []),
    ("modalities", ()),
    ("modalities", 0),
    ("modalities", False),
    ("modalities", [""]),
    ("modalities", ["imagee"]),
    ("modalities", [1]),
    ("modalities", b"image"),
    ("doc", 1),
    ("doc", []),
    ("doc", ""),
    ("doc", [None]),
    ("doc", 3.5),
    ("page_range", (None, 1)),
    ("page_range", (1,)),
    ("page_range", (3, 1)),
    ("page_range", (-1, 2)),
    ("page_range", "1-3"),
    ("page_range", (0.5, 2)),
    ("page_range", (True, 2)),
    ("filters", {"doc": "a"}),
    ("filters", MetadataFilter(key="doc", value="a")),
    ("filters", "doc == 'a'"),
    ("top_k", "5"),
    ("top_k", 1.5),
    ("top_k", 0),
    ("top_k", -1),
    ("top_k", True),
    ("top_k", MAX_TOP_K + 1),
    ("top_k", 30_000_000),
    ("top_k", 2**31),
]


@pytest.mark.parametrize(("name", "value"), BAD_ARGUMENTS, ids=[f"{n}={v!r}" for n, v in BAD_ARGUMENTS])
def test_the_facade_names_a_bad_argument(demo_rag: MultimodalRAG, name: str, value: Any) -> None:
    with pytest.raises(ScopeArgumentError) as caught:
        demo_rag.as_retriever(**{name: value})
    assert name in str(caught.value) or "modality" in str(caught.value)
    with pytest.raises(ScopeArgumentError):
        demo_rag.as_query_engine(**{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [(n, v) for n, v in BAD_ARGUMENTS if n != "top_k"],
    ids=[f"{n}={v!r}" for n, v in BAD_ARGUMENTS if n != "top_k"],
)
def test_a_hand_built_milvus_retriever_names_a_bad_scope(demo_rag: MultimodalRAG, name: str, value: Any) -> None:
    with pytest.raises(ScopeArgumentError):
        MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, **{name: value})


@pytest.mark.parametrize("value", ["5", 1.5, 0, True, MAX_TOP_K + 1])
def test_hand_built_retrievers_bound_their_sizes(demo_rag: MultimodalRAG, value: Any) -> None:
    vector = MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model)
    with pytest.raises(ScopeArgumentError, match="top_k"):
        MultimodalCompositeRetriever([vector], top_k=value)
    with pytest.raises(ScopeArgumentError, match="top_k"):
        LightRAGRetriever(demo_rag.graph, demo_rag.vector_store, top_k=value)
    with pytest.raises(ScopeArgumentError, match="similarity_top_k"):
        MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, similarity_top_k=value if value != MAX_TOP_K + 1 else 10**6)


def test_good_forms_of_each_argument_still_work(demo_rag: MultimodalRAG) -> None:
    images = demo_rag.as_retriever(modalities="image", top_k=MAX_TOP_K).retrieve("Milvus architecture components")
    assert images and {n.metadata["modality"] for n in images} == {"image"}
    faq = demo_rag.as_retriever(doc=Path("milvus_faq.txt"), page_range=[0, 0]).retrieve("insertion and search")
    assert faq and {n.metadata["doc"] for n in faq} == {"milvus_faq.txt"}
    assert {n.metadata["page"] for n in faq} == {0}
