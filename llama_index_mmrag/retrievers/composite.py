"""MultimodalCompositeRetriever: graph and filtered vector retrieval, run concurrently, fused by weighted RRF.

Not built on ``QueryFusionRetriever``: its RRF constant is fixed, it ignores weights in RRF mode and its sync
path spins a new event loop per call, which breaks loop-bound engines.

Example:
    >>> retriever = MultimodalCompositeRetriever(vector_retriever, graph_retriever, top_k=10)  # doctest: +SKIP
    >>> engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index_mmrag.retrievers.fusion import aggregate_pages, weighted_rrf


class MultimodalCompositeRetriever(BaseRetriever):
    """Merges a vector retriever and a graph retriever into one ranked, de-duplicated list.

    Both run concurrently; results are fused over chunk ids (shared by Milvus and LightRAG) by weighted
    reciprocal-rank fusion, with optional per-modality quotas. Every returned node carries ``doc``,
    ``page`` and ``modality``.

    Args:
        vector_retriever: Usually a :class:`MilvusModalRetriever`.
        graph_retriever: Usually a :class:`LightRAGRetriever`; ``None`` for vector-only retrieval.
        top_k: How many nodes to return.
        vector_weight: Weight of the vector list in the fusion.
        graph_weight: Weight of the graph list in the fusion.
        rrf_k: The RRF constant.
        modality_quotas: Per-modality maximum counts, e.g. ``{"image": 3}``.
        page_aggregation: Return one node per ``(doc, page)``, the page scored by all its chunks' evidence
            (the inner retrievers should then fetch more candidates than ``top_k``).
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> r = MultimodalCompositeRetriever(vec, graph, top_k=5, modality_quotas={"image": 2})  # doctest: +SKIP
        >>> [(n.metadata["doc"], n.metadata["page"]) for n in r.retrieve("What is Milvus?")]   # doctest: +SKIP
    """

    def __init__(
        self,
        vector_retriever: BaseRetriever,
        graph_retriever: BaseRetriever | None = None,
        top_k: int = 10,
        vector_weight: float = 1.0,
        graph_weight: float = 0.5,
        rrf_k: int = 60,
        modality_quotas: Mapping[str, int] | None = None,
        page_aggregation: bool = False,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if vector_weight < 0 or graph_weight < 0 or vector_weight + graph_weight == 0:
            raise ValueError(
                f"weights must be >= 0 and not both 0, got vector_weight={vector_weight}, graph_weight={graph_weight}"
            )
        self.vector_retriever = vector_retriever
        self.graph_retriever = graph_retriever
        self.top_k = top_k
        self.vector_weight = vector_weight
        self.graph_weight = graph_weight
        self.rrf_k = rrf_k
        self.modality_quotas = dict(modality_quotas) if modality_quotas else None
        self.page_aggregation = page_aggregation
        super().__init__(callback_manager=callback_manager)

    def _fuse(self, vector_nodes: list[NodeWithScore], graph_nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        fused = weighted_rrf(
            [vector_nodes, graph_nodes],
            [self.vector_weight, self.graph_weight],
            k=self.rrf_k,
            top_k=None if self.page_aggregation else self.top_k,
            quotas=self.modality_quotas,
        )
        return aggregate_pages(fused, self.top_k) if self.page_aggregation else fused

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.graph_retriever is None:
            return self._fuse(self.vector_retriever.retrieve(query_bundle), [])
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mmrag-retrieve") as pool:
            vector_future = pool.submit(self.vector_retriever.retrieve, query_bundle)
            graph_future = pool.submit(self.graph_retriever.retrieve, query_bundle)
            return self._fuse(vector_future.result(), graph_future.result())

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        if self.graph_retriever is None:
            return self._fuse(await self.vector_retriever.aretrieve(query_bundle), [])
        vector_nodes, graph_nodes = await asyncio.gather(
            self.vector_retriever.aretrieve(query_bundle), self.graph_retriever.aretrieve(query_bundle)
        )
        return self._fuse(vector_nodes, graph_nodes)
