"""MilvusModalRetriever: dense + BM25 hybrid search in Milvus, filtered safely by modality, doc, page and metadata;
in a store with an image field, the question also searches the pictures' pixel vectors.

Example:
    >>> retriever = MilvusModalRetriever(rag.vector_store, rag.embed_model, modalities=["text"], doc="milvus_faq.txt")
    >>> [n.metadata["modality"] for n in retriever.retrieve("hybrid search")]
    ['text', 'text', 'text']
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery, VectorStoreQueryMode
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.retrievers.arguments import MAX_CANDIDATES, check_top_k
from llama_index_mmrag.retrievers.fusion import weighted_rrf
from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.retrievers.scope import ScopedRetriever, scope_expression
from llama_index_mmrag.stores.scipy_probe import skip_scipy_probe_before_import


class MilvusModalRetriever(ScopedRetriever):
    """Hybrid (dense + BM25) or dense retrieval over the Milvus collection, with safe filters.

    Filters go through our own compiler (allow-listed keys, typed and escaped values, ``NOT`` honoured,
    ``None`` rejected), never through the store's own translation.

    In a store with an image field (a multimodal embedding configured), the question is also embedded by that
    model's text side and searched against the pictures' pixel vectors, under the same filter. Where the image model
    has a floor (:attr:`~llama_index_mmrag.stores.image_field.ImageField.floor`), the pictures that reach it are
    fused by RRF with the text search's ranking as one list against one: an image the model found counts as much as
    the dense and BM25 lists together, which otherwise outvote it two to one with whatever they rank first (a
    colour question lost its only picture from the top 3 that way; ``benchmarks/RESULTS.md``), and when no picture
    reaches the floor the ranking is the text search's own. Without a floor the image request joins the Milvus
    hybrid request as a third RRF list. ``mode="image"`` searches the image field alone.

    Args:
        vector_store: The Milvus store holding the nodes.
        embed_model: The embedding that indexed them.
        similarity_top_k: How many nodes to return.
        modalities: Keep only these modalities.
        doc: Keep only this document (or these documents).
        page_range: Keep pages ``first..last`` (0-based, inclusive).
        filters: Further LlamaIndex metadata filters.
        mode: ``"hybrid"`` (dense + BM25, fused by RRF in Milvus), ``"dense"``, or ``"image"`` (the image field
            alone; needs a store with one).
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> r = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5, modalities=["image"])
        >>> [(n.metadata["doc"], n.metadata["modality"]) for n in r.retrieve("architecture diagram")]
        [('milvus_architecture.png', 'image')]
    """

    def __init__(
        self,
        vector_store: MilvusVectorStore,
        embed_model: BaseEmbedding,
        similarity_top_k: int = 10,
        modalities: Sequence[str] | None = None,
        doc: str | Sequence[str] | None = None,
        page_range: tuple[int, int] | None = None,
        filters: MetadataFilters | None = None,
        mode: Literal["hybrid", "dense", "image"] = "hybrid",
        callback_manager: CallbackManager | None = None,
    ) -> None:
        check_top_k(similarity_top_k, "similarity_top_k", limit=MAX_CANDIDATES)
        if mode not in ("hybrid", "dense", "image"):
            raise ValueError(f"mode must be 'hybrid', 'dense' or 'image', got {mode!r}")
        self._image_field = getattr(vector_store, "image_field", None)
        if mode == "image" and self._image_field is None:
            raise ValueError(
                "mode='image' searches the store's image field, and this store has none: configure a multimodal "
                "embedding (MMRAG_IMAGE_EMBED_MODEL, or image_embed_model=) when the store is created"
            )
        self._store = vector_store
        self._embed_model = embed_model
        self.similarity_top_k = similarity_top_k
        self.mode = mode
        skip_scipy_probe_before_import()  # pymilvus would import SciPy on the first search to rule it out
        super().__init__(scope_expression(modalities, doc, page_range, filters), callback_manager=callback_manager)

    def _query(
        self, query_bundle: QueryBundle, embedding: list[float] | None, top_k: int | None = None
    ) -> VectorStoreQuery:
        top_k = top_k or self.similarity_top_k
        return VectorStoreQuery(
            query_embedding=embedding,
            query_str=query_bundle.query_str,
            similarity_top_k=top_k,
            sparse_top_k=top_k,
            hybrid_top_k=top_k,
            mode=VectorStoreQueryMode.HYBRID if self.mode == "hybrid" else VectorStoreQueryMode.DEFAULT,
        )

    def _search(
        self, query: VectorStoreQuery, expr: str | None = None, image_embedding: list[float] | None = None
    ) -> list[NodeWithScore]:
        expr = self._expr if expr is None else expr
        kwargs: dict[str, Any] = {"string_expr": expr} if expr else {}
        if image_embedding is None:
            return self._hits(query, kwargs)
        floor = self._image_field.floor if self._image_field is not None else None
        if self.mode == "image" or floor is None:
            image_only = self.mode == "image"
            return self._hits(query, {**kwargs, "image_query_embedding": image_embedding, "image_only": image_only})
        return self._with_pictures(query, kwargs, image_embedding, floor)

    def _hits(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> list[NodeWithScore]:
        result = self._store.query(query, **kwargs)
        scores = result.similarities or [0.0] * len(result.nodes or [])
        return [NodeWithScore(node=node, score=float(score)) for node, score in zip(result.nodes or [], scores)]

    def _with_pictures(
        self, query: VectorStoreQuery, kwargs: dict[str, Any], image_embedding: list[float], floor: float
    ) -> list[NodeWithScore]:
        """The text search, fused with the pictures whose pixel similarity (cosine) reaches the image model's floor."""
        text = self._hits(query, kwargs)
        found = self._hits(query, {**kwargs, "image_query_embedding": image_embedding, "image_only": True})
        pictures = [nws for nws in found if float(nws.score or 0.0) >= floor]
        if not pictures:
            return text
        rrf_k = int((getattr(self._store, "hybrid_ranker_params", None) or {}).get("k", 60))
        return weighted_rrf([text, pictures], [1.0, 1.0], k=rrf_k, top_k=self.similarity_top_k)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)
        question = query_bundle.query_str
        image = self._image_field.question_embedding(question) if self._image_field else None
        embedding = None
        if self.mode != "image":
            embedding = query_bundle.embedding or self._embed_model.get_query_embedding(question)
        return self._search(self._query(query_bundle, embedding), image_embedding=image)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)
        question = query_bundle.query_str
        image = await self._image_field.aquestion_embedding(question) if self._image_field else None
        embedding = None
        if self.mode != "image":
            embedding = query_bundle.embedding or await self._embed_model.aget_query_embedding(question)
        # The Milvus client of a Lite store is synchronous; keep the caller's loop free meanwhile.
        return await asyncio.to_thread(self._search, self._query(query_bundle, embedding), None, image)
