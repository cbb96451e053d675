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
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
)
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.processors.describer import OFFLINE
from llama_index_mmrag.retrievers.arguments import MAX_CANDIDATES, check_top_k
from llama_index_mmrag.retrievers.fusion import weighted_rrf
from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.retrievers.scope import ScopedRetriever, both, scope_expression
from llama_index_mmrag.stores.filters import compile_filters
from llama_index_mmrag.stores.scipy_probe import skip_scipy_probe_before_import

WITHOUT_RESTATING_PAGE_IMAGES = compile_filters(
    MetadataFilters(
        condition=FilterCondition.NOT,
        filters=[
            MetadataFilters(
                filters=[
                    MetadataFilter(key="image_kind", value="page"),
                    MetadataFilters(
                        condition=FilterCondition.OR,
                        filters=[
                            MetadataFilter(key="description_model", value=None, operator=FilterOperator.IS_EMPTY),
                            MetadataFilter(key="description_model", value=OFFLINE),
                        ],
                    ),
                ]
            )
        ],
    ),
    allowed={"image_kind": str, "description_model": str},
)
"""Every node but the page images whose text restates their page (``image_kind: page`` described offline, so their
text is the page's first words); a page image a vision model described keeps its own words and stays."""


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

    A page image (``image_kind: page``, a slide or a scanned or chart-heavy page kept as a picture) described
    offline carries the first words of its page as its text, so in the text search it is a second entry for its
    page. ``page_images=False`` keeps such page images out of the text search (dense and BM25); the image field
    still searches their pixels, a page image a vision model described stays (its text is its own), and every
    node of their page still names the picture (``page_image_path``). Within one document that second entry lets
    the pages that have one outrank the page that answers; the facade turns it off when a retrieval is
    restricted to documents (:func:`~llama_index_mmrag.retrievers.build.page_images_in_text_search`).

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
        page_images: Whether page images described offline take part in the text search (they always do in the
            image field's search, and where an image model without a floor joins the one Milvus hybrid request).
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
        page_images: bool = True,
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
        self.page_images = page_images
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
        kwargs = _expression(expr)
        text_kwargs = kwargs if self.page_images else _expression(both(expr, WITHOUT_RESTATING_PAGE_IMAGES))
        if image_embedding is None:
            return self._hits(query, text_kwargs)
        floor = self._image_field.floor if self._image_field is not None else None
        if self.mode == "image" or floor is None:
            image_only = self.mode == "image"
            return self._hits(query, {**kwargs, "image_query_embedding": image_embedding, "image_only": image_only})
        return self._with_pictures(query, text_kwargs, kwargs, image_embedding, floor)

    def _hits(self, query: VectorStoreQuery, kwargs: dict[str, Any]) -> list[NodeWithScore]:
        result = self._store.query(query, **kwargs)
        scores = result.similarities or [0.0] * len(result.nodes or [])
        return [NodeWithScore(node=node, score=float(score)) for node, score in zip(result.nodes or [], scores)]

    def _with_pictures(
        self,
        query: VectorStoreQuery,
        text_kwargs: dict[str, Any],
        kwargs: dict[str, Any],
        image_embedding: list[float],
        floor: float,
    ) -> list[NodeWithScore]:
        """The text search, fused with the pictures whose pixel similarity (cosine) reaches the image model's floor."""
        text = self._hits(query, text_kwargs)
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


def _expression(expr: str) -> dict[str, Any]:
    """The store's query arguments for a compiled expression (none for ``""``)."""
    return {"string_expr": expr} if expr else {}
