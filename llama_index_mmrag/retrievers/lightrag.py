"""LightRAGRetriever: LightRAG graph retrieval as a LlamaIndex retriever, with page provenance, inside a scope.

LightRAG returns entities, relationships and chunks without scores; this retriever turns them into
nodes with rank-based scores, maps chunks back to the Milvus nodes that share their ids (so they carry
``doc``, ``page`` and ``modality``), and links entities and relations to their source chunks.

Under a scope (modalities, doc, page range, filters) the graph is asked for :data:`SCOPE_FETCH_FACTOR` times
more entities and chunks (at most :data:`MAX_GRAPH_CANDIDATES`), and its chunks are kept only when their Milvus
node lies inside the compiled scope.

Example:
    >>> retriever = LightRAGRetriever(rag.graph, rag.vector_store, mode="hybrid", doc="milvus_faq.txt")
    >>> for n in retriever.retrieve("Which components store data?"):
    ...     print(n.metadata["doc"], n.metadata["page"], n.metadata["modality"])
    milvus_faq.txt 0 text
    ...
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.graph.store import GRAPH_MODES, GraphStore
from llama_index_mmrag.retrievers.arguments import check_top_k
from llama_index_mmrag.stores.filters import compile_filters
from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.retrievers.scope import ScopedRetriever, scope_expression

GRAPH_SEP = "<SEP>"
SCOPE_FETCH_FACTOR = 4
"""Under a scope, graph entities and chunks asked for per returned chunk. Measured on the development set
(doc-restricted, 169 questions): 1 gives page hit@5 0.805, 4 gives 0.822, and asking again, 4 times more each
time, while fewer than ``top_k`` chunks fell inside (up to 256) gives 0.811 at 45% more query time: chunks
found that deep are weakly linked to the question."""
MAX_GRAPH_CANDIDATES = 256
"""Most graph entities and chunks one scoped retrieval asks LightRAG for (unless ``top_k`` itself is larger)."""


def rank_score(rank: int) -> float:
    """Score of the item at 0-based ``rank`` (LightRAG returns an order, not scores)."""
    return 1.0 / (rank + 1)


def _chunk_node(chunk: dict[str, Any]) -> TextNode:
    """A node for a graph chunk that has no Milvus twin: provenance from LightRAG's record only."""
    return TextNode(
        id_=chunk["chunk_id"],
        text=chunk.get("content", ""),
        metadata={"doc": chunk.get("file_path"), "page": None, "modality": "text", "chunk_id": chunk["chunk_id"], "retriever": "graph"},
    )


def lookup_nodes(vector_store: MilvusVectorStore, chunk_ids: Sequence[str], scope: str = "") -> dict[str, BaseNode]:
    """The stored nodes of ``chunk_ids`` (graph chunk ids are Milvus node ids), only those inside ``scope``.

    Args:
        vector_store: The Milvus store holding the nodes.
        chunk_ids: Chunk ids, as LightRAG returns them.
        scope: A compiled scope (see :func:`~llama_index_mmrag.retrievers.scope.scope_expression`); ``""``
            keeps every stored node.
    """
    ids = list(dict.fromkeys(chunk_ids))
    if not ids:
        return {}
    if scope:
        named = MetadataFilters(filters=[MetadataFilter(key="chunk_id", value=ids, operator=FilterOperator.IN)])
        rows = vector_store.client.query(
            vector_store.collection_name, filter=compile_filters(named, extra=[scope]), output_fields=["chunk_id"]
        )
        inside = {str(row.get("chunk_id")) for row in rows}
        ids = [i for i in ids if i in inside]
        if not ids:
            return {}
    return {n.node_id: n for n in vector_store.get_nodes(node_ids=ids)}


class LightRAGRetriever(ScopedRetriever):
    """Retrieves from the LightRAG knowledge graph in mode ``local``, ``global``, ``hybrid``, ``mix`` or ``naive``.

    Args:
        graph: The graph store (owns the LightRAG instance).
        vector_store: The Milvus store whose nodes share the graph's chunk ids: graph chunks are returned as
            those nodes (with ``doc``, ``page``, ``modality``), and a scope is checked against them. ``None``
            returns graph chunks with LightRAG's own provenance only, and refuses a scope.
        mode: LightRAG query mode.
        top_k: How many chunks (and entities / relations) to retrieve.
        include_graph_elements: Also return entity and relation nodes (``modality`` ``entity`` /
            ``relation``), each linked to its source chunks through ``source_chunk_ids``. They have no page or
            modality of their own, so a scoped retriever leaves them out.
        modalities: Keep only chunks of these modalities.
        doc: Keep only chunks of this document (or these documents).
        page_range: Keep only chunks on pages ``first..last`` (0-based, inclusive).
        filters: Further LlamaIndex metadata filters the chunks must match.
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> retriever = LightRAGRetriever(rag.graph, rag.vector_store, mode="local", top_k=5)
        >>> [(n.metadata["doc"], n.metadata["modality"]) for n in retriever.retrieve("What does the Query Node do?")]
        [('milvus_faq.txt', 'text')...]
        >>> images = LightRAGRetriever(rag.graph, rag.vector_store, modalities=["image"])
        >>> {n.metadata["modality"] for n in images.retrieve("What does the Query Node do?")}
        {'image'}
    """

    def __init__(
        self,
        graph: GraphStore,
        vector_store: MilvusVectorStore | None = None,
        mode: str = "hybrid",
        top_k: int = 10,
        include_graph_elements: bool = False,
        modalities: Sequence[str] | None = None,
        doc: str | Sequence[str] | None = None,
        page_range: tuple[int, int] | None = None,
        filters: MetadataFilters | None = None,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if mode not in GRAPH_MODES:
            raise ValueError(f"unknown graph mode {mode!r}; choose one of {', '.join(GRAPH_MODES)}")
        check_top_k(top_k)
        self.graph = graph
        self.vector_store = vector_store
        self.mode = mode
        self.top_k = top_k
        self.include_graph_elements = include_graph_elements
        super().__init__(scope_expression(modalities, doc, page_range, filters), callback_manager=callback_manager)
        self._check_scope()

    def _check_scope(self) -> None:
        if self._expr and self.vector_store is None:
            raise ValueError(
                "a scoped LightRAGRetriever needs the vector store whose nodes share the graph's chunk ids, to "
                "check the scope against: pass LightRAGRetriever(graph, vector_store, ...)"
            )

    def narrowed(self, expression: str) -> LightRAGRetriever:
        """A copy whose chunks also stay inside ``expression`` (see :meth:`ScopedRetriever.narrowed`).

        Args:
            expression: A compiled scope.
        """
        other = super().narrowed(expression)
        other._check_scope()
        return other

    async def _lookup(self, chunk_ids: Sequence[str]) -> dict[str, BaseNode]:
        if self.vector_store is None or not chunk_ids:
            return {}
        return await asyncio.to_thread(lookup_nodes, self.vector_store, chunk_ids, self._expr)

    async def _scoped_chunks(self, query: str) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, BaseNode]]:
        """LightRAG's answer, its chunks (inside the scope, at most ``top_k``) and their stored nodes."""
        fetch = self.top_k
        if self._expr:
            fetch = max(self.top_k, min(self.top_k * SCOPE_FETCH_FACTOR, MAX_GRAPH_CANDIDATES))
        data = await self.graph.arun(self.graph.aquery_data(query, mode=self.mode, top_k=fetch, chunk_top_k=fetch))
        chunks = [c for c in data.get("chunks", []) if c.get("chunk_id")][:fetch]
        stored = await self._lookup([c["chunk_id"] for c in chunks])
        if self._expr:
            chunks = [c for c in chunks if c["chunk_id"] in stored]
        return data, chunks[: self.top_k], stored

    async def _graph_nodes(self, query: str) -> list[NodeWithScore]:
        data, chunks, stored = await self._scoped_chunks(query)
        results: list[NodeWithScore] = []
        for rank, chunk in enumerate(chunks):
            node = stored.get(chunk["chunk_id"]) or _chunk_node(chunk)
            results.append(NodeWithScore(node=node, score=rank_score(rank)))
        if self.include_graph_elements and not self._expr:
            results.extend(self._element_nodes(data, stored))
        return results

    def _element_nodes(self, data: dict[str, Any], stored: dict[str, BaseNode]) -> list[NodeWithScore]:
        elements: list[NodeWithScore] = []
        for kind, items in (("entity", data.get("entities", [])), ("relation", data.get("relationships", []))):
            for rank, item in enumerate(items[: self.top_k]):
                source_ids = [s for s in str(item.get("source_id", "")).split(GRAPH_SEP) if s]
                first = next((stored[s] for s in source_ids if s in stored), None)
                if kind == "entity":
                    name = str(item.get("entity_name", ""))
                    text = f"{name} ({item.get('entity_type', '')}): {item.get('description', '')}"
                    node_id = f"entity:{name}"
                else:
                    name = f"{item.get('src_id', '')} -> {item.get('tgt_id', '')}"
                    text = f"{name}: {item.get('description', '')} [{item.get('keywords', '')}]"
                    node_id = f"relation:{name}"
                metadata = {
                    "doc": first.metadata.get("doc") if first else item.get("file_path"),
                    "page": first.metadata.get("page") if first else None,
                    "modality": kind,
                    "source_chunk_ids": source_ids,
                    "retriever": "graph",
                }
                elements.append(NodeWithScore(node=TextNode(id_=node_id, text=text, metadata=metadata), score=rank_score(rank)))
        return elements

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return self.graph.run(self._graph_nodes(checked_query(query_bundle).query_str))

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await self._graph_nodes(checked_query(query_bundle).query_str)
