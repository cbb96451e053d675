"""A store's image, table and equation items as the graph holds them (for the LLM-path ingestion tests)."""

from __future__ import annotations

from typing import Any

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.extract import GraphChunk
from llama_index_mmrag.graph.stored_chunks import read_stored_chunks
from llama_index_mmrag.modalities import MODALITIES


def modal_chunks(rag: MultimodalRAG, doc: str) -> list[GraphChunk]:
    """A stored document's modal items, as graph chunks read back from Milvus (their entity name included)."""
    record = rag.manifest.get(doc)
    assert record is not None, doc
    chunks = read_stored_chunks(rag.vector_store, record.node_ids).chunks
    return [c for c in chunks if MODALITIES.get(c.modality).is_modal]


def graph_entity(rag: MultimodalRAG, name: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """An entity of the store's graph (``None`` when absent) and its edges."""

    async def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        graph = (await rag.graph._rag_instance()).chunk_entity_relation_graph
        node = await graph.get_node(name)
        pairs = await graph.get_node_edges(name) or []
        return node, [await graph.get_edge(a, b) or {} for a, b in pairs]

    return rag.graph.run(read())


def assert_item_in_graph(rag: MultimodalRAG, chunk: GraphChunk) -> str:
    """The item's entity is in the graph, sourced at its node, of its modality's type, with ``belongs_to`` edges.

    Returns:
        The entity's name in the graph.
    """
    name = " ".join(chunk.entity_name.casefold().split())
    node, edges = graph_entity(rag, name)
    assert node is not None, f"{chunk.modality} entity {name!r} is not in the graph"
    assert chunk.chunk_id in node["source_id"].split("<SEP>")
    assert node["entity_type"] == MODALITIES.get(chunk.modality).entity_type
    assert any("belongs_to" in edge.get("keywords", "") for edge in edges), (name, edges)
    return name
