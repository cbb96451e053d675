"""What a store holds, counted from the stores themselves (Milvus and the LightRAG graph), not from the manifest.

Example:
    >>> rag.stats()                                  # doctest: +SKIP
    {'docs': 2, 'nodes': {'text': 3, 'image': 1, 'table': 0, 'equation': 0}, 'entities': 41, 'relations': 77}
    >>> rag.stats(doc="milvus_faq.txt")["nodes"]     # doctest: +SKIP
    {'text': 3, 'image': 0, 'table': 0, 'equation': 0}
"""

from __future__ import annotations

from typing import Any, TypedDict

from lightrag.constants import GRAPH_FIELD_SEP
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.blocks import MODALITIES
from llama_index_mmrag.retrievers.filters import escape_string
from llama_index_mmrag.stores.milvus import count_rows, scan_rows


class StoreStats(TypedDict):
    """Counts of a store, or of one document in it.

    Args:
        docs: Documents with nodes in Milvus (1 or 0 for one document).
        nodes: Milvus nodes per modality (every modality listed, zeros included).
        entities: Graph entities (for one document: those with a source chunk of that document).
        relations: Graph relations (for one document: those with a source chunk of that document).
    """

    docs: int
    nodes: dict[str, int]
    entities: int
    relations: int


def doc_expression(doc: str) -> str:
    """The Milvus filter selecting one document's nodes (the name escaped, quotes and all).

    Args:
        doc: A document name.

    Example:
        >>> doc_expression('it\\'s "quoted".txt')
        'doc == "it\\'s \\\\"quoted\\\\".txt"'
    """
    return f"doc == {escape_string(doc)}"


def vector_counts(store: MilvusVectorStore, doc: str | None = None) -> tuple[int, dict[str, int]]:
    """``(documents, nodes per modality)`` counted in the Milvus collection.

    Args:
        store: The store.
        doc: Count one document's nodes only.
    """
    scope = doc_expression(doc) if doc is not None else ""
    nodes = {}
    for modality in MODALITIES:
        expr = f"modality == {escape_string(modality)}"
        nodes[modality] = count_rows(store, f"({scope}) and {expr}" if scope else expr)
    if doc is not None:
        return int(any(nodes.values())), nodes
    docs = {str(row.get("doc")) for row in scan_rows(store, ["doc"]) if row.get("doc") is not None}
    return len(docs), nodes


def doc_node_ids(store: MilvusVectorStore, doc: str) -> set[str]:
    """Ids of one document's nodes in Milvus.

    Args:
        store: The store.
        doc: The document name.
    """
    return {str(row["id"]) for row in scan_rows(store, ["id"], doc_expression(doc))}


def _sources(value: Any) -> list[str]:
    return [s for s in str(value or "").split(GRAPH_FIELD_SEP) if s]


async def _tracked(storage: Any, keys: list[str]) -> list[list[str] | None]:
    if storage is None or not keys:
        return [None] * len(keys)
    records = await storage.get_by_ids(keys)
    return [list(r["chunk_ids"]) if isinstance(r, dict) and r.get("chunk_ids") else None for r in records]


async def agraph_counts(rag: Any, chunk_ids: set[str] | None = None) -> tuple[int, int]:
    """``(entities, relations)`` in the LightRAG graph; with ``chunk_ids``, only those sourced from them.

    Sources are LightRAG's full chunk-tracking lists where kept (``entity_chunks`` / ``relation_chunks``),
    else the graph's own ``source_id`` (which LightRAG may cap).

    Args:
        rag: An initialised LightRAG instance.
        chunk_ids: Chunk ids of one document.
    """
    from lightrag.utils import make_relation_chunk_key

    graph = rag.chunk_entity_relation_graph
    nodes = await graph.get_all_nodes()
    edges = await graph.get_all_edges()
    if chunk_ids is None:
        return len(nodes), len(edges)
    names = [str(n["id"]) for n in nodes]
    tracked = await _tracked(getattr(rag, "entity_chunks", None), names)
    entities = sum(
        1 for node, full in zip(nodes, tracked) if not chunk_ids.isdisjoint(full or _sources(node.get("source_id")))
    )
    keys = [make_relation_chunk_key(*sorted((str(e["source"]), str(e["target"])))) for e in edges]
    tracked = await _tracked(getattr(rag, "relation_chunks", None), keys)
    relations = sum(
        1 for edge, full in zip(edges, tracked) if not chunk_ids.isdisjoint(full or _sources(edge.get("source_id")))
    )
    return entities, relations
