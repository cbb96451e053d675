"""Put a modal description on a node: its text (what gets embedded), entity metadata, and an id that still
matches LightRAG's.

Node ids in this package are LightRAG's ids of the chunk's graph content
(:func:`llama_index_mmrag.schema.make_chunk_id` over :func:`~llama_index_mmrag.schema.graph_content`), so
Milvus and the graph share them. When a description replaces the text of a node made by
:func:`~llama_index_mmrag.schema.blocks_to_nodes`, :func:`apply_description` recomputes the id the same way
(:func:`~llama_index_mmrag.schema.resync_chunk_id`).

Example:
    >>> import asyncio
    >>> from llama_index_mmrag.processors.describer import ModalDescriber
    >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
    >>> table = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
    ...                      table_body="| Index | Recall |\\n|---|---|\\n| HNSW | 0.98 |")
    >>> results = asyncio.run(ModalDescriber().adescribe([table]))  # before blocks_to_nodes
    >>> nodes = blocks_to_nodes([table])
    >>> annotate_nodes(nodes, results)  # entity metadata on the nodes it matched
    1
    >>> nodes[0].metadata["entity_name"]
    'table of Index, Recall in bench.pdf (table)'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from llama_index.core.schema import BaseNode

from llama_index_mmrag.schema import block_from_node, hide_metadata, owns_chunk_id, resync_chunk_id, with_raw_content
from llama_index_mmrag.processors.describer import ModalDescriber, ModalDescription
from llama_index_mmrag.processors.items import items_from_nodes

def apply_description(node: BaseNode, description: ModalDescription, *, set_text: bool = True) -> BaseNode:
    """Write a description onto a node, in place.

    The node's text becomes the description followed by whatever of the item's own content (captions, a table's
    body, an equation's LaTeX, the text read in an image, footnotes) the description does not already hold
    (``set_text``; :func:`~llama_index_mmrag.schema.with_raw_content`), so that content stays searchable by BM25
    whatever a model wrote. The metadata gets ``entity_name``, ``entity_type``, ``entity_summary``,
    ``description_model`` (and ``table_headers`` for tables), hidden from embeddings and LLM prompts where they
    would only add noise; a ``blocks_to_nodes`` node's id follows its new text
    (:func:`~llama_index_mmrag.schema.resync_chunk_id`).

    Args:
        node: The node of the described item.
        description: Its description.
        set_text: Replace the node's text with the description (and the content it does not hold).

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
    hide_metadata(node)
    if not set_text:
        return node
    block, _ = block_from_node(node)  # read after the update above: the item's body, captions, footnotes, OCR text
    text = with_raw_content(description.description, block.raw_parts)
    if node.get_content() != text:
        node.set_content(text)
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


async def adescribe_nodes(
    describer: ModalDescriber,
    nodes: Sequence[BaseNode],
    modalities: Iterable[str] | None = None,
    *,
    needed: Callable[[BaseNode], bool] | None = None,
) -> list[ModalDescription]:
    """Describe the modal nodes of a list and write each description onto its node (the one place ingestion
    describes: the facade's pipeline and the modal transforms of an ``IngestionPipeline`` both call it).

    Each description becomes its node's text, with the entity metadata (:func:`apply_description`).

    Args:
        describer: Who describes (model or offline, cache, concurrency, the OCR rule).
        nodes: Nodes in document order (text nodes of the same document give context).
        modalities: Which modalities to describe; every registered modal one when ``None``.
        needed: Describe only the nodes for which it is true (all by default).

    Returns:
        The descriptions, in node order.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> table = TextNode(text="| a | b |\\n|---|---|\\n| 1 | 2 |", metadata={"modality": "table", "doc": "t.md"})
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> [d.modality for d in engine_loop().run(adescribe_nodes(ModalDescriber(), [table]))]
        ['table']
        >>> table.metadata["description_model"]
        'offline'
    """
    items = items_from_nodes(nodes) if modalities is None else items_from_nodes(nodes, modalities)
    if needed is not None:
        items = [item for item in items if needed(nodes[item.order])]
    results = await describer.adescribe_items(items)
    for item, result in zip(items, results):
        apply_description(nodes[item.order], result, set_text=True)
    return results
