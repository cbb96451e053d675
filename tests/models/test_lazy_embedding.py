"""The packaged embedding is loaded on its first use: opening a store loads no model, and the lazy stand-in
embeds exactly as the model it wraps, sync and async, building it once even when threads race for it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llama_index.core.base.embeddings.base import BaseEmbedding

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, LazyEmbedding, local_embedding


def test_the_lazy_embedding_builds_once_and_embeds_as_the_model() -> None:
    built: list[BaseEmbedding] = []

    def factory() -> BaseEmbedding:
        built.append(local_embedding())
        return built[-1]

    lazy = LazyEmbedding(factory)
    assert not lazy.loaded and built == []
    with ThreadPoolExecutor(4) as pool:
        vectors = list(pool.map(lazy.get_query_embedding, ["Milvus", "segments", "proxy", "index"]))
    assert len(built) == 1 and lazy.loaded
    assert vectors[0] == local_embedding().get_query_embedding("Milvus")
    texts = ["The Query Node searches sealed segments.", "The Proxy routes requests."]
    assert lazy.get_text_embedding_batch(texts) == local_embedding().get_text_embedding_batch(texts)
    assert asyncio.run(lazy.aget_text_embedding_batch(texts)) == lazy.get_text_embedding_batch(texts)
    assert len(asyncio.run(lazy.aget_query_embedding("Milvus"))) == LOCAL_EMBED_DIM


def test_opening_a_store_loads_no_model(tmp_path: Path) -> None:
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert isinstance(rag.embed_model, LazyEmbedding) and not rag.embed_model.loaded
        assert rag.embed_dim == LOCAL_EMBED_DIM
        rag.stats()
        assert not rag.embed_model.loaded
