"""The node schema: ContentBlock, node identity and chunk ids, block <-> node conversion, markdown tables.

The bottom of the package's data flow: everything that makes, reads or parses a block, a node id or a
provenance line imports it from here. Nothing here imports LlamaIndex, LightRAG or a store at import time.

Example:
    >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
    >>> block = ContentBlock(modality="text", text="Milvus stores vectors.", doc="faq.txt", doc_id="h",
    ...                      parser="mmrag", page=0)
    >>> blocks_to_nodes([block])[0].metadata["page"]
    0
"""

from __future__ import annotations

from llama_index_mmrag.schema.block import ContentBlock, clean_text, file_content_hash, with_raw_content
from llama_index_mmrag.schema.identity import (
    Provenance,
    chunk_id,
    graph_content,
    make_chunk_id,
    node_graph_content,
    owns_chunk_id,
    parse_provenance,
    resync_chunk_id,
    strip_provenance,
)
from llama_index_mmrag.schema.nodes import (
    HIDDEN_FROM_EMBEDDING,
    HIDDEN_FROM_LLM,
    block_from_node,
    block_metadata,
    blocks_to_nodes,
    hide_metadata,
    node_image,
    node_modality,
)

__all__ = [
    "HIDDEN_FROM_EMBEDDING",
    "HIDDEN_FROM_LLM",
    "ContentBlock",
    "Provenance",
    "block_from_node",
    "block_metadata",
    "blocks_to_nodes",
    "chunk_id",
    "clean_text",
    "file_content_hash",
    "graph_content",
    "hide_metadata",
    "make_chunk_id",
    "node_graph_content",
    "node_image",
    "node_modality",
    "owns_chunk_id",
    "parse_provenance",
    "resync_chunk_id",
    "strip_provenance",
    "with_raw_content",
]
