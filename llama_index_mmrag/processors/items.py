"""Modal items: one image, table or equation to describe, from a ContentBlock or a LlamaIndex node.

A :class:`ModalItem` carries everything a describer needs: the block (the package's one record), the
RAG-Anything content-list item, the document's content list and the item's position in it (for
RAG-Anything's context-aware prompts), the neighbouring text (for the offline description), and the image
bytes when a node carries them inline.

Nodes are read back into blocks with :func:`~llama_index_mmrag.schema.block_from_node`, so ``ContentBlock``\\ s
(the facade's ingestion) and nodes (an ``IngestionPipeline`` or a query) go through one code path.

Example:
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> blocks = [
    ...     ContentBlock(modality="text", text="Revenue grew.", doc="r.pdf", doc_id="h", parser="p", page=0),
    ...     ContentBlock(modality="table", table_body="| Year | Revenue |", doc="r.pdf", doc_id="h", parser="p",
    ...                  page=0, index=1),
    ... ]
    >>> [item.block.modality for item in items_from_blocks(blocks)]
    ['table']
    >>> items_from_blocks(blocks)[0].neighbour_text
    'Revenue grew.'
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_index.core.schema import BaseNode

from llama_index_mmrag.errors import InputError
from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema import ContentBlock, block_from_node
from llama_index_mmrag.processors.offline import neighbouring_text

_IMAGE_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tiff",
}


class ModalItemError(InputError, ValueError):
    """A modal item cannot be described: its image is missing or unreadable, or it has no content.

    Example:
        >>> empty = ContentBlock(modality="table", doc="r.pdf", doc_id="h", parser="mmrag", page=2, table_body=" ")
        >>> try:
        ...     ModalItem(block=empty, content={}, source=[], position=0).payload()
        ... except ModalItemError as exc:
        ...     print(exc)
        r.pdf, page 2, table: the table is empty; nothing to describe.
    """


@dataclass
class ModalItem:
    """One image, table or equation to describe.

    Args:
        block: The item as a content block (provenance, captions, body).
        content: The RAG-Anything content-list item handed to its modal processor.
        source: The document's content list (RAG-Anything reads the surrounding text from it).
        position: The item's index in ``source``.
        neighbour_text: Text just before and after the item on its page (for the offline description).
        image_bytes: An image's bytes when the node carried them inline (no file to read).
        node_id: The node's id when the item came from a node.
        order: The item's position in the list of blocks (or nodes) it was read from.

    Example:
        >>> from llama_index_mmrag.schema import ContentBlock
        >>> blocks = [ContentBlock(modality="text", text="Recall of each index type:", doc="bench.pdf", doc_id="h",
        ...                        parser="mmrag", page=2),
        ...           ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2, index=1,
        ...                        table_body="| index | recall |\\n| --- | --- |\\n| HNSW | 0.98 |")]
        >>> [item] = items_from_blocks(blocks)
        >>> item.modality, item.label, item.position
        ('table', 'bench.pdf, page 2, table', 1)
        >>> item.content["type"], item.item_info
        ('table', {'page_idx': 2, 'index': 1, 'type': 'table'})
    """

    block: ContentBlock
    content: dict[str, Any]
    source: list[dict[str, Any]]
    position: int
    neighbour_text: str = ""
    image_bytes: bytes | None = None
    node_id: str | None = None
    order: int = 0

    @property
    def modality(self) -> str:
        """``image``, ``table`` or ``equation``."""
        return self.block.modality

    @property
    def item_info(self) -> dict[str, Any]:
        """What RAG-Anything's context extractor needs to find the item's surroundings."""
        return {"page_idx": self.block.page or 0, "index": self.position, "type": self.modality}

    @property
    def label(self) -> str:
        """Where the item is, for error messages: ``report.pdf, page 3, image /tmp/fig.png``."""
        page = f"page {self.block.page}" if self.block.page is not None else "page ?"
        what = f"image {self.block.img_path}" if self.modality == "image" and self.block.img_path else self.modality
        return f"{self.block.doc or '<no doc>'}, {page}, {what}"

    def read_image(self) -> bytes:
        """The image's bytes (inline ones, else the file's).

        Raises:
            ModalItemError: When there is no image, or its file cannot be read.
        """
        if self.image_bytes is not None:
            return self.image_bytes
        if not self.block.img_path:
            raise ModalItemError(
                f"{self.label}: the image has no file path and no inline data; give the node an image_path or its "
                "base64 image (web URLs are not fetched), or re-parse the document."
            )
        try:
            self.image_bytes = Path(self.block.img_path).read_bytes()
        except OSError as exc:
            raise ModalItemError(
                f"{self.label}: cannot read the image file ({exc.strerror or exc}); re-parse the document or "
                "check that the parsed-images folder is still there."
            ) from exc
        return self.image_bytes

    def payload(self) -> bytes | str:
        """The content that identifies the item: image bytes, table body, or LaTeX.

        Raises:
            ModalItemError: When an image cannot be read or a table / equation is empty.
        """
        if self.modality == "image":
            return self.read_image()
        body = (self.block.table_body if self.modality == "table" else (self.block.latex or self.block.text)) or ""
        if not body.strip():
            raise ModalItemError(f"{self.label}: the {self.modality} is empty; nothing to describe.")
        return body

    def ensure_image_file(self) -> str:
        """A path to the image on disk, writing inline bytes to a temporary file when there is none.

        RAG-Anything's image processor reads the image from a path.
        """
        path = self.block.img_path
        if path and Path(path).is_file():
            return path
        data = self.read_image()
        from raganything.image_signature import SIGNATURE_BYTES, image_mime_type

        suffix = _IMAGE_EXTENSIONS.get(image_mime_type(data[:SIGNATURE_BYTES]) or "", ".img")
        folder = Path(tempfile.gettempdir()) / "mmrag-images"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{hashlib.sha256(data).hexdigest()[:32]}{suffix}"
        if not target.exists():
            target.write_bytes(data)
        self.block.img_path = str(target)
        self.content["img_path"] = str(target)
        return str(target)


def rag_anything_item(blocks: Sequence[ContentBlock], position: int, source: list[dict[str, Any]]) -> dict[str, Any]:
    """The RAG-Anything content-list item of ``blocks[position]``, with its section path.

    Equations carry their LaTeX in ``text`` with ``text_format="latex"`` (MinerU's shape, which RAG-Anything
    reads first); the heading path above the item goes in ``_section_path`` (used by the image prompt).

    Args:
        blocks: A document's blocks in reading order.
        position: The item's position.
        source: ``[b.to_content_item() for b in blocks]``.
    """
    from raganything.utils import extract_section_path_from_content_list

    block = blocks[position]
    item = dict(source[position])
    if block.modality == "equation":
        formula = (block.latex or block.text or "").strip()
        item["text"] = formula
        item["text_format"] = "latex" if block.latex else ""
    section = extract_section_path_from_content_list(source, position)
    if section:
        item["_section_path"] = section
    return item


def items_from_blocks(
    blocks: Sequence[ContentBlock],
    modalities: Iterable[str] | None = None,
    *,
    inline_images: Sequence[bytes | None] | None = None,
    node_ids: Sequence[str | None] | None = None,
) -> list[ModalItem]:
    """The modal items of a list of blocks, each with its document's content list and neighbouring text.

    Blocks may come from several documents; each item's context comes from its own document (``doc_id``).

    Args:
        blocks: Blocks in reading order.
        modalities: Which modalities to return; every registered modal one when ``None``.
        inline_images: Per block, inline image bytes (nodes that carry the image, not a file).
        node_ids: Per block, the id of the node it came from.
    """
    wanted = set(MODALITIES.modal_names() if modalities is None else modalities)
    by_doc: dict[str, list[int]] = {}
    for i, block in enumerate(blocks):
        by_doc.setdefault(f"{block.doc_id}\x00{block.doc}", []).append(i)
    items: list[ModalItem] = []
    for indices in by_doc.values():
        doc_blocks = [blocks[i] for i in indices]
        source = [b.to_content_item() for b in doc_blocks]
        for position, i in enumerate(indices):
            block = blocks[i]
            if block.modality not in wanted or block.modality == "text":
                continue
            item = ModalItem(
                block=block,
                content=rag_anything_item(doc_blocks, position, source),
                source=source,
                position=position,
                neighbour_text=neighbouring_text(doc_blocks, position),
                image_bytes=inline_images[i] if inline_images is not None else None,
                node_id=node_ids[i] if node_ids is not None else None,
                order=i,
            )
            items.append(item)
    return sorted(items, key=lambda item: item.order)


# ------------------------------------------------------------------------------------------------ nodes


def items_from_nodes(nodes: Sequence[BaseNode], modalities: Iterable[str] | None = None) -> list[ModalItem]:
    """The modal items of a list of nodes; text nodes of the same document give them context.

    Args:
        nodes: Nodes in document order (as a reader or node parser produced them).
        modalities: Which modalities to return; every registered modal one when ``None``.
    """
    converted = [block_from_node(node) for node in nodes]
    return items_from_blocks(
        [block for block, _ in converted],
        modalities,
        inline_images=[data for _, data in converted],
        node_ids=[node.node_id for node in nodes],
    )
