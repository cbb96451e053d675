"""Block <-> node conversion (the only one, both ways) and the metadata keys nodes hide from embeddings and LLM
prompts.

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

import base64
import binascii
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

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
    "image_kind",
    "page_image_path",
    "page_label",
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
    "page_image_path",
)
"""Metadata keys an answering LLM does not need (``image_path`` stays: a multimodal LLM may open it; a page image
is handed to it as a picture by the image postprocessor)."""


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
    return chunk_id(text, block.doc, block.page, block.modality, start_s=block.start_s, end_s=block.end_s)


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
        if block.image_kind:
            metadata["image_kind"] = block.image_kind
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
    """Group consecutive text blocks of one page (of one time span, in a recording), so chunks never straddle
    pages or time spans."""
    runs: list[list[ContentBlock]] = []
    for block in blocks:
        last = runs[-1][-1] if runs else None
        if (
            last is not None
            and last.modality == "text"
            and block.modality == "text"
            and (last.page, last.start_s, last.end_s) == (block.page, block.start_s, block.end_s)
        ):
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


# ---------------------------------------------------------------------------------------- node -> block


def node_modality(node: BaseNode) -> str:
    """A node's modality: its ``modality`` metadata, else ``image`` for image nodes, else ``text``.

    Args:
        node: Any LlamaIndex node.
    """
    declared = node.metadata.get("modality")
    if isinstance(declared, str) and declared in MODALITIES:
        return declared
    from llama_index.core.schema import ImageNode

    if isinstance(node, ImageNode) or getattr(node, "image_resource", None) is not None:
        return "image"
    return "text"


def node_image(node: BaseNode) -> tuple[str | None, bytes | None]:
    """An image node's file path and inline bytes (either may be ``None``).

    Reads ``ImageNode.image`` (base64, or a ``data:`` URL) / ``image_path`` / ``image_url`` (a ``data:`` or
    ``file:`` URL; web URLs are not fetched), ``Node.image_resource`` (``ImageDocument``) and the
    ``image_path`` metadata key, in that order.

    Args:
        node: A node.
    """
    from llama_index.core.schema import ImageNode

    path: str | None = None
    data: bytes | None = None
    if isinstance(node, ImageNode):
        path = node.image_path
        if node.image:
            data = _b64(node.image)
        url = str(node.image_url or "")
        if data is None and url.startswith("data:"):
            data = _b64(url)
        elif not path and url.startswith("file:"):
            path = url2pathname(urlparse(url).path)
    resource = getattr(node, "image_resource", None)
    if resource is not None:
        path = path or (str(resource.path) if resource.path else None)
        if data is None and resource.data:
            data = _b64(resource.data)
    meta_path = node.metadata.get("image_path")
    path = path or (str(meta_path) if meta_path else None)
    return path, data


def _b64(value: str | bytes) -> bytes | None:
    """Decode base64 (or the payload of a ``data:...;base64,`` URL); ``None`` when it is not base64."""
    if isinstance(value, str) and value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _page(meta: dict[str, Any]) -> int | None:
    page = meta.get("page")
    if isinstance(page, int):
        return page
    label = meta.get("page_label")
    if isinstance(label, str) and label.strip().isdigit():
        return int(label) - 1
    return None


def _captions(meta: dict[str, Any], key: str = "caption") -> list[str]:
    caption = meta.get(key)
    if isinstance(caption, str) and caption.strip():
        return [caption.strip()]
    if isinstance(caption, list):
        return [str(c) for c in caption if str(c).strip()]
    return []


def block_from_node(node: BaseNode) -> tuple[ContentBlock, bytes | None]:
    """Read a node back into a content block (and inline image bytes, when the node carries them).

    Works for the nodes of :func:`llama_index_mmrag.schema.blocks_to_nodes`, the documents of
    ``RAGAnythingReader`` and foreign nodes (``ImageNode``, ``ImageDocument``, nodes with ``table_body`` /
    ``latex`` metadata). A table's body is its ``table_body`` metadata, else its text; an equation's LaTeX is
    its ``latex`` metadata, else its text; an image's OCR text is its ``ocr_text`` metadata (else empty, and the
    image counts as not read yet); footnotes are the ``footnote`` metadata.

    Args:
        node: Any LlamaIndex node.
    """
    meta = node.metadata
    modality = node_modality(node)
    doc = str(
        meta.get("doc") or meta.get("file_name") or Path(str(meta.get("file_path") or "")).name or node.ref_doc_id or ""
    )
    common: dict[str, Any] = {
        "modality": modality,
        "doc": doc,
        "doc_id": str(meta.get("doc_id") or node.ref_doc_id or doc),
        "page": _page(meta),
        "parser": str(meta.get("parser") or "llama-index"),
        "index": int(meta.get("block_index") or 0),
        "captions": _captions(meta),
        "footnotes": _captions(meta, "footnote"),
        "start_s": meta.get("start_s") if isinstance(meta.get("start_s"), (int, float)) else None,
        "end_s": meta.get("end_s") if isinstance(meta.get("end_s"), (int, float)) else None,
        "page_image": str(meta["page_image_path"]) if meta.get("page_image_path") else None,
        "page_label": str(meta["page_label"]) if meta.get("page_label") else None,
    }
    text = node.get_content()
    kind = MODALITIES.get(modality)
    if kind.node == "image":
        path, data = node_image(node)
        read = "ocr_text" in meta  # the parser read the image's text (it may have found none)
        kind_of_image = str(meta["image_kind"]) if meta.get("image_kind") else None
        block = ContentBlock(img_path=path, text=str(meta.get("ocr_text") or ""), text_read=read, image_kind=kind_of_image, **common)
        return block, data
    if kind.body_key is not None:  # a table's markdown, an equation's LaTeX: its metadata, else its text
        return ContentBlock(**{kind.body_key: str(meta.get(kind.body_key) or text)}, **common), None
    return ContentBlock(text=text, **common), None
