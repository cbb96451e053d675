"""LightRAGRetriever: LightRAG graph retrieval as a LlamaIndex retriever, with page provenance.

LightRAG returns entities, relationships and chunks without scores; this retriever turns them into
nodes with rank-based scores, maps chunks back to the Milvus nodes that share their ids (so they carry
``doc``, ``page`` and ``modality``), and links entities and relations to their source chunks.

Example:
    >>> retriever = LightRAGRetriever.from_rag(rag, mode="hybrid")   # doctest: +SKIP
    >>> for n in retriever.retrieve("Which components store data?"):  # doctest: +SKIP
    ...     print(n.metadata["doc"], n.metadata["page"], n.metadata["modality"])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode

from llama_index_mmrag.graph.store import GRAPH_MODES, GraphStore
from llama_index_mmrag.retrievers.arguments import check_top_k
from llama_index_mmrag.retrievers.question import checked_query

if TYPE_CHECKING:
    from llama_index_mmrag.rag import MultimodalRAG

NodeLookup = Callable[[Sequence[str]], Awaitable[dict[str, BaseNode]]]
GRAPH_SEP = "<SEP>"


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


class LightRAGRetriever(BaseRetriever):
    """Retrieves from the LightRAG knowledge graph in mode ``local``, ``global``, ``hybrid``, ``mix`` or ``naive``.

    Args:
        graph: The graph store (owns the LightRAG instance).
        mode: LightRAG query mode.
        top_k: How many chunks (and entities / relations) to retrieve.
        node_lookup: Async function mapping chunk ids to the stored nodes (for provenance).
        include_graph_elements: Also return entity and relation nodes (``modality`` ``entity`` /
            ``relation``), each linked to its source chunks through ``source_chunk_ids``.
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> retriever = LightRAGRetriever(graph, mode="local", top_k=5)   # doctest: +SKIP
    """

    def __init__(
        self,
        graph: GraphStore,
        mode: str = "hybrid",
        top_k: int = 10,
        node_lookup: NodeLookup | None = None,
        include_graph_elements: bool = False,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if mode not in GRAPH_MODES:
            raise ValueError(f"unknown graph mode {mode!r}; choose one of {', '.join(GRAPH_MODES)}")
        check_top_k(top_k)
        self.graph = graph
        self.mode = mode
        self.top_k = top_k
        self._node_lookup = node_lookup
        self.include_graph_elements = include_graph_elements
        super().__init__(callback_manager=callback_manager)

    @classmethod
    def from_rag(cls, rag: MultimodalRAG, mode: str = "hybrid", top_k: int | None = None, **kwargs: Any) -> LightRAGRetriever:
        """Build the retriever over a :class:`~llama_index_mmrag.rag.MultimodalRAG`'s graph and nodes.

        Args:
            rag: The facade.
            mode: LightRAG query mode.
            top_k: How many results; the facade's ``top_k`` setting when unset.
            **kwargs: Further constructor arguments.
        """
        return cls(rag.graph, mode=mode, top_k=rag.settings.top_k if top_k is None else top_k, node_lookup=rag.alookup_nodes, **kwargs)

    async def _graph_nodes(self, query: str) -> list[NodeWithScore]:
        data = await self.graph.arun(self.graph.aquery_data(query, mode=self.mode, top_k=self.top_k))
        chunks = [c for c in data.get("chunks", []) if c.get("chunk_id")][: self.top_k]
        stored = await self._node_lookup([c["chunk_id"] for c in chunks]) if self._node_lookup and chunks else {}
        results: list[NodeWithScore] = []
        for rank, chunk in enumerate(chunks):
            node = stored.get(chunk["chunk_id"]) or _chunk_node(chunk)
            results.append(NodeWithScore(node=node, score=rank_score(rank)))
        if self.include_graph_elements:
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
