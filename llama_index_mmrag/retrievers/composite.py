"""MultimodalCompositeRetriever: any number of retrievers, run concurrently inside one scope, fused by weighted RRF.

The shape of LlamaIndex's ``QueryFusionRetriever(retrievers, retriever_weights=...)``, but not built on it: its
RRF constant is fixed, it ignores weights in RRF mode and its sync path spins a new event loop per call, which
breaks loop-bound engines. Fused nodes are collapsed to one per page by default, with the same defaults as
``MultimodalRAG.as_retriever()``, so a composite built by hand ranks like the facade's.

Example:
    >>> from llama_index.core.query_engine import RetrieverQueryEngine
    >>> from llama_index_mmrag import LightRAGRetriever, MilvusModalRetriever
    >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
    >>> vector = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=20)
    >>> graph = LightRAGRetriever(rag.graph, rag.vector_store)
    >>> retriever = MultimodalCompositeRetriever([vector, graph], [1.0, 0.5], top_k=10)
    >>> engine = RetrieverQueryEngine(retriever, response_synthesizer=ExtractiveSynthesizer())  # or from_args(llm=...)
    >>> print(engine.query("Does Milvus support simultaneous insertion and search?"))
    Yes. Milvus supports simultaneous insertion and search: ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import MetadataFilters

from llama_index_mmrag.retrievers.arguments import ScopeArgumentError, check_top_k
from llama_index_mmrag.retrievers.fusion import aggregate_pages, lead_first, page_node, weighted_rrf
from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.retrievers.scope import ScopedRetriever, scope_expression
from llama_index_mmrag.settings import MMRAGSettings

_DEFAULTS = MMRAGSettings.model_fields
DEFAULT_PAGE_AGGREGATION: bool = _DEFAULTS["page_aggregation"].default
"""Page collapse on or off by default: the ``page_aggregation`` setting's default, as the facade uses it."""
DEFAULT_PAGE_SUPPORT: float = _DEFAULTS["page_support"].default
"""Weight of a page's other chunks by default: the ``page_support`` setting's default."""


def _checked_branches(retrievers: object) -> list[BaseRetriever]:
    if isinstance(retrievers, BaseRetriever) or not isinstance(retrievers, Sequence) or not retrievers:
        raise ScopeArgumentError(
            f"retrievers must be a non-empty list of LlamaIndex retrievers, got {type(retrievers).__name__}; "
            "e.g. MultimodalCompositeRetriever([vector, graph], retriever_weights=[1.0, 0.5])"
        )
    for index, branch in enumerate(retrievers):
        if not isinstance(branch, BaseRetriever):
            raise ScopeArgumentError(f"retrievers[{index}] is a {type(branch).__name__}, not a LlamaIndex retriever")
    return list(retrievers)


def _checked_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    if weights is None:
        return [1.0] * count
    values = list(weights)
    if len(values) != count:
        raise ScopeArgumentError(f"got {count} retrievers but {len(values)} retriever_weights; give one weight each")
    if any(isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0 for w in values) or sum(values) <= 0:
        raise ScopeArgumentError(f"retriever_weights must be numbers >= 0, not all 0, got {values}")
    return [float(w) for w in values]


def _checked_anchors(anchors: Sequence[int] | None, count: int) -> list[int] | None:
    if anchors is None:
        return None
    values = list(anchors)
    if not values or any(isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < count for i in values):
        raise ScopeArgumentError(
            f"anchor_retrievers must be a non-empty list of branch positions 0..{count - 1}, got {values}"
        )
    return sorted(set(values))


class MultimodalCompositeRetriever(BaseRetriever):
    """Fuses any number of retrievers into one ranked, de-duplicated list, every branch inside one scope.

    The branches run concurrently; their lists are fused over node ids (Milvus and LightRAG share chunk ids)
    by weighted reciprocal-rank fusion, with optional per-modality quotas, then collapsed to one node per
    page. Every returned node carries ``doc``, ``page`` and ``modality``.

    A scope (``modalities``, ``doc``, ``page_range``, ``filters``) given here is handed to every branch, on
    top of the branch's own: each branch must then be a :class:`~llama_index_mmrag.retrievers.scope.ScopedRetriever`
    (:class:`MilvusModalRetriever`, :class:`LightRAGRetriever`, ``ReferenceRetriever``, or a subclass of your
    own), and the composite keeps a scoped copy of it, so no branch can return a node outside the scope.

    Args:
        retrievers: The branches, e.g. ``[vector, graph]``; on equal scores the first branch's node object
            is kept, so put the one with the richest provenance (Milvus) first.
        retriever_weights: One fusion weight per branch (all 1.0 by default).
        top_k: How many nodes (pages) to return.
        modalities: Keep only these modalities, in every branch.
        doc: Keep only this document (or these documents), in every branch.
        page_range: Keep pages ``first..last`` (0-based, inclusive), in every branch.
        filters: Further LlamaIndex metadata filters every branch honours.
        rrf_k: The RRF constant.
        modality_quotas: Per-modality maximum counts, e.g. ``{"image": 3}``.
        page_aggregation: Return one node per ``(doc, page)`` (the default), the page scored by its best chunk
            (plus ``page_support`` times its other chunks) and carrying the text of every matching chunk of
            the page (see :func:`~llama_index_mmrag.retrievers.fusion.page_node`); the branches should then
            fetch more candidates than ``top_k``. ``False`` returns chunks, several per page.
        page_support: With page aggregation, the weight of a page's other chunks next to its best one
            (0: a page ranks by its best chunk).
        anchor_retrievers: Positions of the branches that choose the first result: the best result of their
            own fusion comes first, and the other branches add results and re-order the rest. Reciprocal
            ranks are flat at the top (1/61 against 1/62), so without an anchor a weak branch that also finds
            the second result puts it above the first. ``None`` (the default): every branch counts alike.
            The facade anchors on every branch but the graph (measured in benchmarks/RESULTS.md).
            A branch with a ``pinned(question, nodes)`` method names results of its own that come first,
            before the anchors' best: the reference search pins the caption of a figure or table the question
            names ("Figure 3"), which fusion alone ranked below paragraphs that merely mention it.
        callback_manager: LlamaIndex callback manager.

    Raises:
        ScopeArgumentError: For an empty or non-list ``retrievers``, weights that do not match them, a bad
            scope, or a scope given with a branch that cannot honour one.

    Example:
        >>> from llama_index_mmrag import LightRAGRetriever, MilvusModalRetriever
        >>> vec = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10)
        >>> graph = LightRAGRetriever(rag.graph, rag.vector_store)
        >>> r = MultimodalCompositeRetriever([vec, graph], [1.0, 0.5], top_k=5, modalities=["image"])
        >>> {n.metadata["modality"] for n in r.retrieve("How do query nodes work?")}  # every branch keeps the scope
        {'image'}
    """

    def __init__(
        self,
        retrievers: Sequence[BaseRetriever],
        retriever_weights: Sequence[float] | None = None,
        top_k: int = 10,
        modalities: Sequence[str] | None = None,
        doc: str | Sequence[str] | None = None,
        page_range: tuple[int, int] | None = None,
        filters: MetadataFilters | None = None,
        rrf_k: int = 60,
        modality_quotas: Mapping[str, int] | None = None,
        page_aggregation: bool = DEFAULT_PAGE_AGGREGATION,
        page_support: float = DEFAULT_PAGE_SUPPORT,
        anchor_retrievers: Sequence[int] | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        branches = _checked_branches(retrievers)
        self.retriever_weights = _checked_weights(retriever_weights, len(branches))
        self.anchor_retrievers = _checked_anchors(anchor_retrievers, len(branches))
        self.top_k = check_top_k(top_k)
        self._expr = scope_expression(modalities, doc, page_range, filters)
        self.retrievers = [self._scoped(index, branch) for index, branch in enumerate(branches)]
        self.rrf_k = rrf_k
        self.modality_quotas = dict(modality_quotas) if modality_quotas else None
        self.page_aggregation = page_aggregation
        self.page_support = page_support
        super().__init__(callback_manager=callback_manager)

    def _scoped(self, index: int, branch: BaseRetriever) -> BaseRetriever:
        if not self._expr:
            return branch
        if not isinstance(branch, ScopedRetriever):
            raise ScopeArgumentError(
                f"retrievers[{index}] ({type(branch).__name__}) cannot keep its results inside a scope; give the "
                "scope to that retriever itself and none to the composite, or derive it from ScopedRetriever"
            )
        return branch.narrowed(self._expr)

    @property
    def filter_expression(self) -> str:
        """The compiled scope every branch honours (empty when unrestricted)."""
        return self._expr

    def _fuse(self, ranked: Sequence[list[NodeWithScore]], question: str = "") -> list[NodeWithScore]:
        fused = self._fused(ranked, self.retriever_weights)
        anchors = self.anchor_retrievers
        if anchors is not None and len(anchors) < len(ranked):
            lead = self._fused([ranked[i] for i in anchors], [self.retriever_weights[i] for i in anchors])
            fused = lead_first(fused, lead[0] if lead else None, by_page=self.page_aggregation)
        for pin in reversed(self._pinned(ranked, question)):
            if self.page_aggregation:  # a page the fusion left out comes as a page, like the others
                pin = NodeWithScore(node=page_node([pin]), score=pin.score)
            fused = lead_first(fused, pin, by_page=self.page_aggregation)
        return fused

    def _pinned(self, ranked: Sequence[list[NodeWithScore]], question: str) -> list[NodeWithScore]:
        """The results branches pin first (a branch with a ``pinned(question, nodes)`` method, such as the
        reference search: the captions of the figures and tables a question names), in branch order."""
        pins: list[NodeWithScore] = []
        for branch, nodes in zip(self.retrievers, ranked):
            pinned = getattr(branch, "pinned", None)
            if question and nodes and callable(pinned):
                pins.extend(pinned(question, nodes))
        return pins

    def _fused(self, ranked: Sequence[list[NodeWithScore]], weights: Sequence[float]) -> list[NodeWithScore]:
        fused = weighted_rrf(
            ranked,
            weights,
            k=self.rrf_k,
            top_k=None if self.page_aggregation else self.top_k,
            quotas=self.modality_quotas,
        )
        return aggregate_pages(fused, self.top_k, self.page_support) if self.page_aggregation else fused

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)  # once, for branches of any origin
        if len(self.retrievers) == 1:
            return self._fuse([self.retrievers[0].retrieve(query_bundle)], query_bundle.query_str)
        with ThreadPoolExecutor(max_workers=len(self.retrievers), thread_name_prefix="mmrag-retrieve") as pool:
            futures = [pool.submit(branch.retrieve, query_bundle) for branch in self.retrievers]
            return self._fuse([future.result() for future in futures], query_bundle.query_str)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)
        ranked = await asyncio.gather(*(branch.aretrieve(query_bundle) for branch in self.retrievers))
        return self._fuse(ranked, query_bundle.query_str)
