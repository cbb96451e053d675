"""A document's graph chunks read back from its Milvus rows, without LlamaIndex.

Removing a document from the graph rebuilds the document's kg from its chunks as stored
(:func:`~llama_index_mmrag.graph.kg_loader.adelete_kg`). The chunks come from the rows the LlamaIndex Milvus store
wrote: the node's text in the ``text`` field and the node itself (metadata included) as JSON in ``_node_content``.
Reading those two fields gives the same chunk as deserialising the node with LlamaIndex and calling
:func:`~llama_index_mmrag.graph.store.node_to_graph_chunk`, without importing LlamaIndex (about 2 CPU-seconds of a
``mmrag delete`` that has nothing else to do with it).

Example:
    >>> row = {"id": "chunk-1", "text": "Milvus stores vectors.", "doc_id": "d1",
    ...        "_node_content": '{"metadata": {"doc": "faq.txt", "page": 0, "modality": "text"}}'}
    >>> chunk = row_graph_chunk(row)
    >>> chunk.content
    '[faq.txt, page 0, text]\\nMilvus stores vectors.'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llama_index_mmrag.graph.extract import GraphChunk
from llama_index_mmrag.schema.identity import graph_content
from llama_index_mmrag.stores.milvus import Rows

__all__ = ["StoredChunks", "graph_chunk", "read_stored_chunks", "row_graph_chunk"]

TEXT_FIELD = "text"
"""Where the LlamaIndex Milvus store keeps a node's text (its ``text_key``, which this package never changes)."""
NODE_FIELD = "_node_content"
"""Where it keeps the node serialised as JSON, metadata included (LlamaIndex's ``node_to_metadata_dict``)."""
_FIELDS = ["id", TEXT_FIELD, NODE_FIELD, "doc_id"]
_IDS_PER_QUERY = 500


def graph_chunk(chunk_id: str, text: str, metadata: Mapping[str, Any]) -> GraphChunk:
    """The graph chunk of a node: its id, graph content and provenance (one rule for nodes and stored rows).

    Args:
        chunk_id: The node id.
        text: The node's text (``node.get_content()``).
        metadata: The node's metadata (``doc``, and ``page``, ``modality``, ``caption``, ``table_headers``, a
            modal item's ``entity_name`` and ``entity_summary``, a page image's ``image_kind``).

    Example:
        >>> graph_chunk("c1", "| a | b |", {"doc": "r.pdf", "page": 2, "modality": "table",
        ...             "caption": "Table 1", "table_headers": ["a", "b"]}).headers
        ('a', 'b')
    """
    modality = metadata.get("modality", "text")
    caption = metadata.get("caption")
    return GraphChunk(
        chunk_id=chunk_id,
        content=graph_content(
            text, metadata["doc"], metadata.get("page"), modality,
            start_s=metadata.get("start_s"), end_s=metadata.get("end_s"),
        ),
        doc=metadata["doc"],
        page=metadata.get("page"),
        modality=modality,
        captions=(caption,) if caption else (),
        headers=tuple(metadata.get("table_headers") or ()),
        entity_name=str(metadata.get("entity_name") or ""),
        entity_summary=str(metadata.get("entity_summary") or ""),
        restates_page=metadata.get("image_kind") == "page",
    )


def _node_json(row: Mapping[str, Any]) -> dict[str, Any]:
    raw = row.get(NODE_FIELD)
    if not raw:
        raise ValueError(f"Milvus row {row.get('id')!r} has no {NODE_FIELD} (not written by this package's store)")
    node = json.loads(raw)
    if not isinstance(node, dict) or not isinstance(node.get("metadata"), dict):
        raise ValueError(f"Milvus row {row.get('id')!r} has a {NODE_FIELD} without metadata")
    return node


def row_graph_chunk(row: Mapping[str, Any]) -> GraphChunk:
    """The graph chunk of one stored row (``id``, ``text``, ``_node_content``), as :func:`graph_chunk` of the node.

    Args:
        row: A row of the nodes' collection.

    Raises:
        ValueError: If the row holds no serialised node with metadata.
    """
    return graph_chunk(str(row["id"]), str(row.get(TEXT_FIELD) or ""), _node_json(row)["metadata"])


@dataclass(frozen=True)
class StoredChunks:
    """What :func:`read_stored_chunks` read.

    Args:
        chunks: The graph chunks of the rows found, in the order of the ids asked for.
        ref_doc_ids: The LlamaIndex document ids (``ref_doc_id``) of those rows: LightRAG's document ids when
            an LLM built the graph.

    Example:
        >>> ids = rag.manifest.get("milvus_faq.txt").node_ids[:2]
        >>> stored = read_stored_chunks(rag.vector_store, ids)      # the nodes' rows in Milvus, as graph chunks
        >>> [chunk.chunk_id for chunk in stored.chunks] == ids, {chunk.doc for chunk in stored.chunks}
        (True, {'milvus_faq.txt'})
    """

    chunks: list[GraphChunk]
    ref_doc_ids: list[str]


def read_stored_chunks(rows: Rows, ids: Sequence[str]) -> StoredChunks:
    """The graph chunks of the nodes stored under ``ids`` (ids with no row are skipped).

    Args:
        rows: The nodes' collection.
        ids: Node ids.

    Raises:
        ValueError: If a row holds no serialised node with metadata.
    """
    found: dict[str, Mapping[str, Any]] = {}
    for start in range(0, len(ids), _IDS_PER_QUERY):
        part = list(ids[start : start + _IDS_PER_QUERY])
        for row in rows.client.query(collection_name=rows.collection_name, ids=part, output_fields=_FIELDS):
            found[str(row["id"])] = row
    ordered = [found[i] for i in dict.fromkeys(ids) if i in found]
    return StoredChunks(
        chunks=[row_graph_chunk(row) for row in ordered],
        ref_doc_ids=list(dict.fromkeys(str(r["doc_id"]) for r in ordered if r.get("doc_id"))),
    )

