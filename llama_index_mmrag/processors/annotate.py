"""Put a modal description on a node: its text (what gets embedded), entity metadata, and an id that still
matches LightRAG's.

Node ids in this package are LightRAG's ids of the chunk's graph content
(:func:`llama_index_mmrag.schema.make_chunk_id` over :func:`~llama_index_mmrag.schema.graph_content`), so
Milvus and the graph share them. When a description replaces the text of a node made by
:func:`~llama_index_mmrag.schema.blocks_to_nodes`, :func:`apply_description` recomputes the id the same way.

Example:
    >>> results = await describer.adescribe(parsed.blocks)   # before blocks_to_nodes   # doctest: +SKIP
    >>> nodes = blocks_to_nodes(parsed.blocks)                                           # doctest: +SKIP
    >>> annotate_nodes(nodes, results)                        # entity metadata on nodes  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.schema import BaseNode

from llama_index_mmrag.schema import graph_content, make_chunk_id
from llama_index_mmrag.processors.describer import ModalDescription

HIDDEN_FROM_EMBEDDING: tuple[str, ...] = (
    "description_model",
    "entity_type",
    "entity_summary",
    "table_headers",
    "table_body",
    "image_path",
)
"""Metadata keys this module adds that would only add noise to an embedding."""
HIDDEN_FROM_LLM: tuple[str, ...] = ("description_model", "entity_type", "table_headers", "table_body")
"""Metadata keys this module adds that an answering LLM does not need."""


def _hide(keys: list[str], extra: Sequence[str]) -> list[str]:
    return keys + [k for k in extra if k not in keys]


def owns_chunk_id(node: BaseNode) -> bool:
    """Whether the node's id is this package's chunk id of its content (made by ``blocks_to_nodes``)."""
    meta = node.metadata
    return meta.get("chunk_id") == node.node_id and "doc" in meta and "modality" in meta


def resync_chunk_id(node: BaseNode) -> str:
    """Give a ``blocks_to_nodes`` node the chunk id of its current text (and ``chunk_id`` metadata).

    Args:
        node: A node for which :func:`owns_chunk_id` is true.

    Returns:
        The node's (possibly new) id.
    """
    meta = node.metadata
    new_id = make_chunk_id(graph_content(node.get_content(), meta["doc"], meta.get("page"), meta["modality"]))
    node.id_ = new_id
    meta["chunk_id"] = new_id
    return new_id


def apply_description(node: BaseNode, description: ModalDescription, *, set_text: bool = True) -> BaseNode:
    """Write a description onto a node, in place.

    The node's text becomes the description (``set_text``), the metadata gets ``entity_name``,
    ``entity_type``, ``entity_summary``, ``description_model`` (and ``table_headers`` for tables), hidden from
    embeddings and LLM prompts where they would only add noise; a ``blocks_to_nodes`` node's id follows
    its new text (:func:`resync_chunk_id`).

    Args:
        node: The node of the described item.
        description: Its description.
        set_text: Replace the node's text with the description.

    Returns:
        The node.
    """
    meta = node.metadata
    meta.update(description.node_metadata())
    if description.modality == "table" and description.body and not meta.get("table_body"):
        meta["table_body"] = description.body
    if description.modality == "equation" and description.body and not meta.get("latex"):
        meta["latex"] = description.body
    if description.modality == "image" and description.image_path and not meta.get("image_path"):
        meta["image_path"] = description.image_path
    node.excluded_embed_metadata_keys = _hide(list(node.excluded_embed_metadata_keys), HIDDEN_FROM_EMBEDDING)
    node.excluded_llm_metadata_keys = _hide(list(node.excluded_llm_metadata_keys), HIDDEN_FROM_LLM)
    if set_text and node.get_content() != description.description:
        node.set_content(description.description)
        if owns_chunk_id(node):
            resync_chunk_id(node)
    return node


def annotate_nodes(nodes: Sequence[BaseNode], descriptions: Sequence[ModalDescription]) -> int:
    """Attach descriptions made for blocks to the nodes built from those blocks (matched by doc and block).

    Use after ``blocks_to_nodes`` over blocks that :meth:`ModalDescriber.adescribe` described: the node
    texts already are the descriptions (and the ids match them); this adds the entity metadata.

    Args:
        nodes: Nodes from :func:`~llama_index_mmrag.schema.blocks_to_nodes`.
        descriptions: What :meth:`~llama_index_mmrag.processors.describer.ModalDescriber.adescribe` returned.

    Returns:
        How many nodes were annotated.
    """
    by_block = {(d.doc_id, d.block_index, d.modality): d for d in descriptions}
    count = 0
    for node in nodes:
        meta = node.metadata
        match = by_block.get((meta.get("doc_id"), meta.get("block_index"), meta.get("modality")))
        if match is not None:
            apply_description(node, match, set_text=False)
            count += 1
    return count
