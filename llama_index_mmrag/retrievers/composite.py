"""MultimodalCompositeRetriever: graph and filtered vector retrieval, run concurrently, fused by weighted RRF.

Not built on ``QueryFusionRetriever``: its RRF constant is fixed, it ignores weights in RRF mode and its sync
path spins a new event loop per call, which breaks loop-bound engines.

Example:
    >>> retriever = MultimodalCompositeRetriever(vector_retriever, graph_retriever, top_k=10)  # doctest: +SKIP
    >>> engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)                        # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index_mmrag.retrievers.fusion import aggregate_pages, weighted_rrf
from llama_index_mmrag.retrievers.arguments import check_top_k
from llama_index_mmrag.retrievers.question import checked_query


class MultimodalCompositeRetriever(BaseRetriever):
    """Merges a vector, a graph and a reference retriever into one ranked, de-duplicated list.

    They run concurrently; results are fused over chunk ids (shared by Milvus and LightRAG) by weighted
    reciprocal-rank fusion, with optional per-modality quotas, then collapsed to one node per page. Every
    returned node carries ``doc``, ``page`` and ``modality``.

    Args:
        vector_retriever: Usually a :class:`MilvusModalRetriever`.
        graph_retriever: Usually a :class:`LightRAGRetriever`; ``None`` for vector-only retrieval.
        top_k: How many nodes to return.
        vector_weight: Weight of the vector list in the fusion.
        graph_weight: Weight of the graph list in the fusion.
        reference_retriever: Usually a :class:`~llama_index_mmrag.retrievers.references.ReferenceRetriever`
            (the pages, figures and tables the question names); ``None`` for none.
        reference_weight: Weight of the reference list in the fusion.
        rrf_k: The RRF constant.
        modality_quotas: Per-modality maximum counts, e.g. ``{"image": 3}``.
        page_aggregation: Return one node per ``(doc, page)`` (the default), the page scored by its best chunk
            (plus ``page_support`` times its other chunks) and carrying the text of every matching chunk of
            the page (see :func:`~llama_index_mmrag.retrievers.fusion.page_node`); the inner retrievers should
            then fetch more candidates than ``top_k``. ``False`` returns chunks, several per page.
        page_support: With page aggregation, the weight of a page's other chunks next to its best one
            (0: a page ranks by its best chunk).
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
        reference_retriever: BaseRetriever | None = None,
        reference_weight: float = 1.0,
        rrf_k: int = 60,
        modality_quotas: Mapping[str, int] | None = None,
        page_aggregation: bool = True,
        page_support: float = 0.0,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        check_top_k(top_k)
        if vector_weight < 0 or graph_weight < 0 or reference_weight < 0 or vector_weight + graph_weight == 0:
            raise ValueError(
                "weights must be >= 0 and vector_weight + graph_weight > 0, got "
                f"vector_weight={vector_weight}, graph_weight={graph_weight}, reference_weight={reference_weight}"
            )
        self.vector_retriever = vector_retriever
        self.graph_retriever = graph_retriever
        self.top_k = top_k
        self.vector_weight = vector_weight
        self.graph_weight = graph_weight
        self.reference_retriever = reference_retriever
        self.reference_weight = reference_weight
        self.rrf_k = rrf_k
        self.modality_quotas = dict(modality_quotas) if modality_quotas else None
        self.page_aggregation = page_aggregation
        self.page_support = page_support
        super().__init__(callback_manager=callback_manager)

    def _fuse(self, ranked: Sequence[list[NodeWithScore]]) -> list[NodeWithScore]:
        """Fuse the vector, graph and reference lists (in that order; an absent branch gives ``[]``)."""
        fused = weighted_rrf(
            ranked,
            [self.vector_weight, self.graph_weight, self.reference_weight],
            k=self.rrf_k,
            top_k=None if self.page_aggregation else self.top_k,
            quotas=self.modality_quotas,
        )
        return aggregate_pages(fused, self.top_k, self.page_support) if self.page_aggregation else fused

    def _branches(self) -> list[BaseRetriever | None]:
        return [self.vector_retriever, self.graph_retriever, self.reference_retriever]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)  # once, for branches of any origin
        branches = self._branches()
        if sum(b is not None for b in branches) == 1:
            return self._fuse([b.retrieve(query_bundle) if b is not None else [] for b in branches])
        with ThreadPoolExecutor(max_workers=len(branches), thread_name_prefix="mmrag-retrieve") as pool:
            futures = [pool.submit(b.retrieve, query_bundle) if b is not None else None for b in branches]
            return self._fuse([f.result() if f is not None else [] for f in futures])

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)

        async def run(branch: BaseRetriever | None) -> list[NodeWithScore]:
            return await branch.aretrieve(query_bundle) if branch is not None else []

        return self._fuse(await asyncio.gather(*(run(b) for b in self._branches())))
