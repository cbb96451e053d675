"""The facade's composite, built from settings and a store: the vector, graph and reference branches and their weights.

Example:
    >>> retriever = build_composite(rag.settings, rag.vector_store, rag.graph, rag.embed_model, top_k=3,
    ...                             modalities=["image"])
    >>> [type(b).__name__ for b in retriever.retrievers], retriever.retriever_weights, retriever.anchor_retrievers
    (['MilvusModalRetriever', 'LightRAGRetriever', 'ReferenceRetriever'], [1.0, 0.25, 1.0], [0, 2])
    >>> {n.metadata["modality"] for n in retriever.retrieve("What does the architecture diagram show?")}
    {'image'}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever

from llama_index_mmrag.retrievers.arguments import check_top_k
from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever
from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.retrievers.references import ReferenceRetriever
from llama_index_mmrag.settings import MMRAGSettings

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.vector_stores.milvus import MilvusVectorStore

    from llama_index_mmrag.graph.store import GraphStore

__all__ = ["build_composite", "page_images_in_text_search"]


def page_images_in_text_search(doc: object, modalities: Sequence[str] | None) -> bool:
    """Whether page images compete in the text search of a retrieval with this scope.

    A page image's text is the first words of its page, so in the text search a visually rich page has a second
    entry. Across the corpus that finds the right document's slides and charts (corpus-wide hit@5 +3 questions
    of the development set, 3 of them Figure questions); within a document it lets other pages' images outrank
    the page that answers (doc-restricted hit@5 -2, Figure and Layout questions): ``benchmarks/RESULTS.md``. So
    they take part unless the retrieval is restricted to documents; a scope without text (``modalities=["image"]``)
    keeps them, as there they are the pictures searched.

    Args:
        doc: The scope's document restriction (``None`` for the whole corpus).
        modalities: The scope's modalities (``None`` for all).

    Example:
        >>> page_images_in_text_search(None, None), page_images_in_text_search("deck.pdf", None)
        (True, False)
        >>> page_images_in_text_search("deck.pdf", ["image"])
        True
    """
    return doc is None or (modalities is not None and "text" not in modalities)


def build_composite(
    settings: MMRAGSettings,
    vector_store: MilvusVectorStore,
    graph: GraphStore,
    embed_model: BaseEmbedding,
    *,
    top_k: int | None = None,
    graph_mode: str | None = None,
    **scope: Any,
) -> MultimodalCompositeRetriever:
    """The filtered hybrid Milvus search, the graph (unless ``graph_mode`` is ``"off"``) and the reference search
    (unless its weight is 0), weighted by the settings and fused inside one scope; every branch but the graph
    is an anchor, so the graph re-orders pages but never displaces their best one.

    A retrieval restricted to documents (``doc``) keeps page images out of the text search unless its scope
    holds no text (:func:`page_images_in_text_search`).

    Args:
        settings: Weights, ``top_k``, ``graph_mode``, candidate factor and page collapse.
        vector_store: The store's Milvus collection (hybrid search unless it was created dense-only).
        graph: The store's knowledge graph.
        embed_model: The store's embedding.
        top_k: How many nodes to return (the ``top_k`` setting by default).
        graph_mode: LightRAG mode of the graph branch, ``"off"`` for none (the ``graph_mode`` setting by default).
        **scope: The composite's scope and quotas (``modalities``, ``doc`` by its stored name, ``page_range``,
            ``filters``, ``modality_quotas``): see :class:`MultimodalCompositeRetriever`.
    """
    k = settings.top_k if top_k is None else check_top_k(top_k)
    candidates = k * settings.candidate_factor if settings.page_aggregation else k
    mode = "hybrid" if vector_store.enable_sparse else "dense"
    page_images = page_images_in_text_search(scope.get("doc"), scope.get("modalities"))
    branches: list[BaseRetriever] = [
        MilvusModalRetriever(vector_store, embed_model, similarity_top_k=candidates, mode=mode, page_images=page_images)
    ]
    weights = [settings.vector_weight]
    graph_mode = graph_mode or settings.graph_mode
    if graph_mode != "off":
        # The graph branch ranks chunks by how many matched entities cite them: a longer list adds weakly linked
        # chunks (and query time) without moving pages into the top k.
        branches.append(LightRAGRetriever(graph, vector_store, mode=graph_mode, top_k=k))
        weights.append(settings.graph_weight)
    if settings.reference_weight > 0:
        branches.append(
            ReferenceRetriever(vector_store, embed_model, similarity_top_k=candidates, mode=mode, page_images=page_images)
        )
        weights.append(settings.reference_weight)
    # The graph adds pages and re-orders them, but the best page of the other branches stays first: it
    # cost 0.04 of page hit@1 when the graph could displace it (benchmarks/RESULTS.md, issue 13).
    anchors = [i for i, branch in enumerate(branches) if not isinstance(branch, LightRAGRetriever)]
    return MultimodalCompositeRetriever(
        branches,
        weights,
        top_k=k,
        page_aggregation=settings.page_aggregation,
        page_support=settings.page_support,
        anchor_retrievers=anchors,
        **scope,
    )
