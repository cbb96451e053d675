"""Block -> node conversion (the only one) and the metadata keys nodes hide from embeddings and LLM prompts.

Example:
    >>> from llama_index_mmrag.schema.block import ContentBlock
    >>> blocks = [ContentBlock(modality="text", text="Milvus stores vectors.", doc="faq.txt", doc_id="h",
    ...                        parser="mmrag", page=0),
    ...           ContentBlock(modality="table", table_body="| Index | Recall |", doc="faq.txt", doc_id="h",
    ...                        parser="mmrag", page=0, index=1)]
    >>> [(n.metadata["modality"], n.node_id == n.metadata["chunk_id"]) for n in blocks_to_nodes(blocks)]
    [('text', True), ('table', True)]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema.block import ContentBlock
from llama_index_mmrag.schema.identity import chunk_id

if TYPE_CHECKING:  # LlamaIndex is imported where nodes are built, so reading provenance does not import it
    from llama_index.core.schema import BaseNode

HIDDEN_FROM_EMBEDDING: tuple[str, ...] = (
    "doc_id",
    "bbox",
    "parser",
    "chunk_id",
    "image_path",
    "block_index",
    "table_body",
    "table_headers",
    "description_model",
    "entity_type",
    "entity_summary",
)
"""Metadata keys that help a reader (or the store) but would only add noise to an embedding."""
HIDDEN_FROM_LLM: tuple[str, ...] = (
    "doc_id",
    "bbox",
    "parser",
    "chunk_id",
    "block_index",
    "table_body",
    "table_headers",
    "description_model",
    "entity_type",
)
"""Metadata keys an answering LLM does not need (``image_path`` stays: a multimodal LLM may open it)."""


def _with(keys: Sequence[str], extra: Sequence[str]) -> list[str]:
    return [*keys, *(k for k in extra if k not in keys)]


def hide_metadata(node: BaseNode) -> BaseNode:
    """Add :data:`HIDDEN_FROM_EMBEDDING` and :data:`HIDDEN_FROM_LLM` to a node's excluded keys, in place.

    Args:
        node: Any LlamaIndex node; keys it already hides stay hidden.

    Returns:
        The node.
    """
    node.excluded_embed_metadata_keys = _with(node.excluded_embed_metadata_keys, HIDDEN_FROM_EMBEDDING)
    node.excluded_llm_metadata_keys = _with(node.excluded_llm_metadata_keys, HIDDEN_FROM_LLM)
    return node


def _chunk_id(text: str, block: ContentBlock) -> str:
    return chunk_id(text, block.doc, block.page, block.modality)


def block_metadata(block: ContentBlock) -> dict[str, Any]:
    """The metadata of the node (or document) of one block: its provenance, its caption, and its modality's
    structured body (an image's ``image_path``, a table's ``table_body``, an equation's ``latex``).

    Args:
        block: The block.

    Example:
        >>> table = ContentBlock(modality="table", table_body="| a |", captions=["Table 1"], doc="r.pdf",
        ...                      doc_id="h", parser="mmrag", page=2)
        >>> {k: v for k, v in block_metadata(table).items() if k in ("caption", "table_body", "page")}
        {'page': 2, 'caption': 'Table 1', 'table_body': '| a |'}
    """
    metadata = block.provenance()
    if block.captions:
        metadata["caption"] = " ".join(block.captions)
    modality = MODALITIES.get(block.modality)
    if modality.node == "image":
        metadata["image_path"] = block.img_path
    elif modality.body_key is not None:
        metadata[modality.body_key] = getattr(block, modality.body_key, None)
    return metadata


def _modal_node(block: ContentBlock) -> BaseNode:
    from llama_index.core.schema import ImageNode, TextNode

    chunk_id = _chunk_id(block.searchable_text, block)
    metadata = block_metadata(block) | {"chunk_id": chunk_id}
    if MODALITIES.get(block.modality).node == "image":
        return ImageNode(id_=chunk_id, text=block.searchable_text, image_path=block.img_path, metadata=metadata)
    return TextNode(id_=chunk_id, text=block.searchable_text, metadata=metadata)


def _text_runs(blocks: Sequence[ContentBlock]) -> list[list[ContentBlock]]:
    """Group consecutive text blocks of one page, so chunks never straddle pages."""
    runs: list[list[ContentBlock]] = []
    for block in blocks:
        if runs and runs[-1][-1].modality == "text" and block.modality == "text" and runs[-1][-1].page == block.page:
            runs[-1].append(block)
        else:
            runs.append([block])
    return runs


def blocks_to_nodes(blocks: Sequence[ContentBlock], *, chunk_size: int = 256, chunk_overlap: int = 32) -> list[BaseNode]:
    """Turn a document's blocks into LlamaIndex nodes, one node type per modality, pages kept.

    Text blocks of one page are joined and split into chunks of about ``chunk_size`` tokens; each
    image becomes an ``ImageNode`` and each table or equation a ``TextNode`` carrying its structured
    body in metadata. Node ids are LightRAG's ids of the chunks' graph content (see
    :func:`~llama_index_mmrag.schema.identity.make_chunk_id`), so Milvus and the graph share them; the source document is the ``doc_id``.

    Args:
        blocks: The blocks of one document, in reading order.
        chunk_size: Target chunk size in tokens.
        chunk_overlap: Overlap between consecutive chunks in tokens.
    """
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

    splitter = SentenceSplitter(chunk_size=chunk_size, chunk_overlap=chunk_overlap)
    nodes: list[BaseNode] = []
    for run in _text_runs(blocks):
        first = run[0]
        if first.modality != "text":
            nodes.append(_modal_node(first))
            continue
        page_text = "\n\n".join(b.text.strip() for b in run if b.text.strip())
        for piece in splitter.split_text(page_text):
            chunk_id = _chunk_id(piece, first)
            metadata = first.provenance() | {"chunk_id": chunk_id, "bbox": _union_bbox(run)}
            nodes.append(TextNode(id_=chunk_id, text=piece, metadata=metadata))
    nodes = list({node.node_id: node for node in reversed(nodes)}.values())[::-1]  # same content, same page: once
    for node in nodes:
        node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=node.metadata["doc_id"])
        hide_metadata(node)
    return nodes


def _union_bbox(run: Sequence[ContentBlock]) -> list[float] | None:
    boxes = [b.bbox for b in run if b.bbox]
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
