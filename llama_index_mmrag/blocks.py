"""ContentBlock, the one record that crosses layers, and its mapping to LlamaIndex nodes.

A ContentBlock is a RAG-Anything content-list item (``type``, ``page_idx``, ``text`` / ``img_path`` /
``table_body`` / ``latex``, captions) plus provenance (``doc``, ``doc_id``, ``page``, ``bbox``, ``parser``).
Everything downstream reads provenance from it; nothing re-derives it.

Example:
    >>> block = ContentBlock.from_content_item(
    ...     {"type": "text", "text": "Milvus is a vector database.", "page_idx": 0},
    ...     doc="faq.txt", doc_id="ab12", parser="mmrag", index=0)
    >>> block.modality, block.page
    ('text', 0)
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:  # LlamaIndex is imported where nodes are built, so reading provenance does not import it
    from llama_index.core.schema import BaseNode

Modality = Literal["text", "image", "table", "equation"]
MODALITIES: tuple[str, ...] = ("text", "image", "table", "equation")

# Metadata keys that help a reader but would only add noise to an embedding or an LLM prompt.
_HIDDEN_FROM_EMBEDDING = ["doc_id", "bbox", "parser", "chunk_id", "image_path", "block_index", "table_body"]
_HIDDEN_FROM_LLM = ["doc_id", "bbox", "parser", "chunk_id", "block_index", "table_body"]


def file_content_hash(path: str | Path) -> str:
    """Return the SHA-256 hex digest of a file's bytes (a document's ``doc_id``).

    Args:
        path: The file to hash.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def graph_content(text: str, doc: str, page: int | None, modality: str) -> str:
    """The text a chunk has in the LightRAG graph: its provenance, then its text.

    The provenance line makes the chunk unique per document and page (LightRAG ids chunks by content)
    and tells an LLM reading graph context where the evidence is.

    Args:
        text: The node's text.
        doc: The document's file name.
        page: 0-based page, ``None`` where unknown.
        modality: The node's modality.
    """
    where = f"page {page}" if page is not None else "page ?"
    return f"[{doc}, {where}, {modality}]\n{text}"


def make_chunk_id(content: str) -> str:
    """Return the id a chunk has in Milvus and in LightRAG: LightRAG's own id of its graph content.

    Args:
        content: The chunk's graph content (see :func:`graph_content`).
    """
    from lightrag.utils import compute_mdhash_id, sanitize_text_for_encoding

    return compute_mdhash_id(sanitize_text_for_encoding(content), prefix="chunk-")


_NOT_XML_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def clean_text(text: str) -> str:
    """Drop control characters, lone surrogates and non-characters that parsers leave in PDF text.

    They break the graph's GraphML files and Milvus's UTF-8 strings; tabs and newlines are kept.

    Args:
        text: Parsed text.
    """
    return _NOT_XML_TEXT.sub("", text)


def _join(parts: Iterable[str | None]) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


class ContentBlock(BaseModel):
    """One parsed piece of a document with its provenance.

    Args:
        modality: ``text``, ``image``, ``table`` or ``equation``.
        text: Text of a text block; the OCR or text form of other blocks.
        doc: The document's file name.
        doc_id: The document's content hash.
        page: 0-based page index, ``None`` where unknown.
        bbox: ``[x0, y0, x1, y1]`` on the page, top-left origin, ``None`` where unknown.
        parser: Name of the parser that produced the block.
        index: Position of the block in the document's content list.
        text_level: Heading level of a text block (0 for body text).
        img_path: Absolute path of an image file.
        table_body: A table as markdown.
        latex: An equation's LaTeX (or its text form).
        captions: Captions of an image or a table.
        footnotes: Footnotes of an image or a table.
        description: A modal processor's description of an image, table or equation.
    """

    modality: Modality
    text: str = ""
    doc: str
    doc_id: str
    page: int | None = None
    bbox: list[float] | None = None
    parser: str
    index: int = 0
    text_level: int = 0
    img_path: str | None = None
    table_body: str | None = None
    latex: str | None = None
    captions: list[str] = Field(default_factory=list)
    footnotes: list[str] = Field(default_factory=list)
    description: str | None = None

    @classmethod
    def from_content_item(
        cls, item: dict[str, Any], *, doc: str, doc_id: str, parser: str, index: int
    ) -> ContentBlock:
        """Build a block from a RAG-Anything content-list item.

        Args:
            item: The content-list dict (``type``, ``page_idx``, ...).
            doc: The document's file name.
            doc_id: The document's content hash.
            parser: The parser that produced ``item``.
            index: Position of the item in the content list.

        Raises:
            ValueError: If the item's type is not one of the four modalities.
        """
        kind = item.get("type")
        if kind not in MODALITIES:
            raise ValueError(f"{doc}: content item {index} has unsupported type {kind!r}")
        page = item.get("page_idx")
        bbox = item.get("bbox")
        common: dict[str, Any] = {
            "modality": kind,
            "doc": doc,
            "doc_id": doc_id,
            "page": int(page) if page is not None else None,
            "bbox": [float(v) for v in bbox] if bbox else None,
            "parser": parser,
            "index": index,
        }
        def text(key: str) -> str:
            return clean_text(str(item.get(key) or ""))

        def texts(key: str) -> list[str]:
            return [clean_text(str(v)) for v in item.get(key) or [] if str(v).strip()]

        if kind == "text":
            return cls(text=text("text"), text_level=int(item.get("text_level") or 0), **common)
        if kind == "image":
            return cls(
                img_path=item.get("img_path"),
                text=text("ocr_text"),
                captions=texts("image_caption"),
                footnotes=texts("image_footnote"),
                **common,
            )
        if kind == "table":
            return cls(table_body=text("table_body"), captions=texts("table_caption"), footnotes=texts("table_footnote"), **common)
        return cls(latex=text("latex"), text=text("text"), **common)

    def to_content_item(self) -> dict[str, Any]:
        """Return the RAG-Anything content-list item for this block (for ``insert_content_list``)."""
        item: dict[str, Any] = {"type": self.modality, "page_idx": self.page if self.page is not None else 0}
        if self.modality == "text":
            item.update(text=self.text, text_level=self.text_level)
        elif self.modality == "image":
            item.update(img_path=self.img_path, image_caption=self.captions, image_footnote=self.footnotes)
        elif self.modality == "table":
            item.update(table_body=self.table_body, table_caption=self.captions, table_footnote=self.footnotes)
        else:
            item.update(latex=self.latex, text=self.text)
        return item

    @property
    def searchable_text(self) -> str:
        """The text that represents this block in search: its description when one exists."""
        if self.modality == "text":
            return self.text
        if self.description:
            return self.description
        if self.modality == "image":
            return _join([*self.captions, self.text, *self.footnotes])
        if self.modality == "table":
            return _join([*self.captions, self.table_body, *self.footnotes])
        return _join([self.latex, self.text])

    def provenance(self) -> dict[str, Any]:
        """Metadata every node made from this block carries."""
        return {
            "doc": self.doc,
            "doc_id": self.doc_id,
            "page": self.page,
            "bbox": self.bbox,
            "modality": self.modality,
            "parser": self.parser,
            "block_index": self.index,
        }


def _chunk_id(text: str, block: ContentBlock) -> str:
    return make_chunk_id(graph_content(text, block.doc, block.page, block.modality))


def _modal_node(block: ContentBlock) -> BaseNode:
    from llama_index.core.schema import ImageNode, TextNode

    chunk_id = _chunk_id(block.searchable_text, block)
    metadata = block.provenance() | {"chunk_id": chunk_id}
    if block.captions:
        metadata["caption"] = " ".join(block.captions)
    if block.modality == "image":
        metadata["image_path"] = block.img_path
        node: BaseNode = ImageNode(
            id_=chunk_id, text=block.searchable_text, image_path=block.img_path, metadata=metadata
        )
    else:
        if block.modality == "table":
            metadata["table_body"] = block.table_body
        if block.modality == "equation":
            metadata["latex"] = block.latex
        node = TextNode(id_=chunk_id, text=block.searchable_text, metadata=metadata)
    return node


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
    :func:`make_chunk_id`), so Milvus and the graph share them; the source document is the ``doc_id``.

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
        node.excluded_embed_metadata_keys = list(_HIDDEN_FROM_EMBEDDING)
        node.excluded_llm_metadata_keys = list(_HIDDEN_FROM_LLM)
    return nodes


def _union_bbox(run: Sequence[ContentBlock]) -> list[float] | None:
    boxes = [b.bbox for b in run if b.bbox]
    if not boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]
