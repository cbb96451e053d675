"""ContentBlock, the one record that crosses layers.

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
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator

from llama_index_mmrag.modalities import MODALITIES


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


def _folded(text: str) -> str:
    return " ".join(text.split()).casefold()


def with_raw_content(description: str, raw_parts: Iterable[str]) -> str:
    """A modal item's searchable text: its description, then each part of its own content the description does
    not already hold (compared case- and spacing-blind), so a table's cells, an equation's LaTeX and the words
    read in an image stay searchable (BM25 reads this text) whatever a model chose to repeat.

    Args:
        description: The item's description (a model's, or the offline one, which already holds its content).
        raw_parts: The item's own content, part by part (:attr:`ContentBlock.raw_parts`).

    Example:
        >>> print(with_raw_content("A table of quarterly volumes.", ["Table 1: Volume", "| Q1 | 117 |"]))
        A table of quarterly volumes.
        <BLANKLINE>
        Table 1: Volume
        | Q1 | 117 |
        >>> with_raw_content("Table: Table 1: Volume | Q1 | 117 |", ["Table 1: Volume", "| Q1 | 117 |"])  # held
        'Table: Table 1: Volume | Q1 | 117 |'
    """
    held = _folded(description)
    missing: list[str] = []
    for part in raw_parts:
        folded = _folded(part)
        if folded and folded not in held:
            missing.append(part.strip())
            held += " " + folded  # a part said once, even if it occurs twice
    if not missing:
        return description
    return "\n\n".join(p for p in (description.strip(), "\n".join(missing)) if p)


class ContentBlock(BaseModel):
    """One parsed piece of a document with its provenance.

    Args:
        modality: A registered modality (:data:`llama_index_mmrag.modalities.MODALITIES`): ``text``,
            ``image``, ``table``, ``equation`` or one registered later.
        text: Text of a text block; the OCR or text form of other blocks.
        doc: The document's file name.
        doc_id: The document's content hash.
        page: 0-based page index, ``None`` where unknown.
        page_label: The page's printed label ("3", "iv", "3806"), where the document defines one (a PDF's own
            page labels, or its consistently printed page numbers); ``None`` elsewhere and for other formats.
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
        text_read: Whether an image's text has been read already (by the parser's OCR, or from a PDF's text
            layer; ``text`` may then be empty). An image not read yet is read once, by the describer.
        image_kind: What an image is when it is not a figure: ``"page"`` for a page image (the whole page
            rendered, see :mod:`llama_index_mmrag.parsing.pdf.page_image`).
        page_image: Absolute path of the page image of the block's page, where the page has one.
        start_s: Where the block starts in an audio or video file, in seconds (a recording has no pages:
            ``page`` is ``None`` and the time span is its provenance).
        end_s: Where it ends, in seconds.

    Example:
        >>> block = ContentBlock(modality="table", doc="report.pdf", doc_id="h1", parser="mmrag", page=2,
        ...                      table_body="| Region | Q3 |\\n| --- | --- |\\n| North | 120 |", captions=["Table 1: Volumes"])
        >>> item = block.to_content_item()                  # RAG-Anything's content-list item
        >>> item["type"], item["page_idx"], item["table_caption"]
        ('table', 2, ['Table 1: Volumes'])
        >>> ContentBlock(modality="video", doc="talk.mp4", doc_id="h2", parser="mmrag")
        Traceback (most recent call last):
        pydantic_core._pydantic_core.ValidationError: 1 validation error for ContentBlock
        modality
          ...unknown modality 'video'...
    """

    modality: str
    text: str = ""
    doc: str
    doc_id: str
    page: int | None = None
    page_label: str | None = None
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
    text_read: bool = False
    image_kind: str | None = None
    page_image: str | None = None
    start_s: float | None = None
    end_s: float | None = None

    @field_validator("modality")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in MODALITIES:
            raise ValueError(f"unknown modality {value!r}; choose from {', '.join(MODALITIES)}")
        return value

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
            ValueError: If the item's type is not a registered modality.
        """
        kind = item.get("type")
        if kind not in MODALITIES:
            raise ValueError(
                f"{doc}: content item {index} has unsupported type {kind!r}; choose from {', '.join(MODALITIES)} "
                "(or register a modality, see llama_index_mmrag.modalities)"
            )
        page = item.get("page_idx")
        bbox = item.get("bbox")
        common: dict[str, Any] = {
            "modality": kind,
            "doc": doc,
            "doc_id": doc_id,
            "page": int(page) if page is not None and item.get("start_s") is None else None,  # a recording: no page
            "page_label": clean_text(str(item["page_label"])) or None if item.get("page_label") is not None else None,
            "bbox": [float(v) for v in bbox] if bbox else None,
            "parser": parser,
            "index": index,
            "page_image": item.get("page_image") or None,
            "start_s": float(item["start_s"]) if item.get("start_s") is not None else None,
            "end_s": float(item["end_s"]) if item.get("end_s") is not None else None,
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
                text_read="ocr_text" in item,
                image_kind=item.get("image_kind") or None,
                captions=texts("image_caption"),
                footnotes=texts("image_footnote"),
                **common,
            )
        if kind == "table":
            return cls(table_body=text("table_body"), captions=texts("table_caption"), footnotes=texts("table_footnote"), **common)
        if kind == "equation":
            return cls(latex=text("latex"), text=text("text"), **common)
        # any other registered modality: its text, and captions and footnotes under "<type>_caption" etc.
        return cls(text=text("text"), captions=texts(f"{kind}_caption"), footnotes=texts(f"{kind}_footnote"), **common)

    def to_content_item(self) -> dict[str, Any]:
        """Return the RAG-Anything content-list item for this block (for ``insert_content_list``)."""
        item: dict[str, Any] = {"type": self.modality, "page_idx": self.page if self.page is not None else 0}
        if self.modality == "text":
            item.update(text=self.text, text_level=self.text_level)
        elif self.modality == "image":
            item.update(img_path=self.img_path, image_caption=self.captions, image_footnote=self.footnotes)
            if self.image_kind:
                item["image_kind"] = self.image_kind
        elif self.modality == "table":
            item.update(table_body=self.table_body, table_caption=self.captions, table_footnote=self.footnotes)
        elif self.modality == "equation":
            item.update(latex=self.latex, text=self.text)
        else:
            item.update({"text": self.text, f"{self.modality}_caption": self.captions, f"{self.modality}_footnote": self.footnotes})
        if self.page_image:
            item["page_image"] = self.page_image
        if self.page_label:
            item["page_label"] = self.page_label
        if self.start_s is not None:
            item.update(start_s=self.start_s, end_s=self.end_s)
        return item

    @property
    def raw_parts(self) -> list[str]:
        """The item's own content from the document, part by part: its captions, then a table's body, an
        equation's LaTeX (else its text form) or the text read in an image (another modality: its text), then
        its footnotes. Empty for a text block.

        Example:
            >>> ContentBlock(modality="equation", latex="E = mc^2", doc="p.pdf", doc_id="h", parser="mmrag").raw_parts
            ['E = mc^2']
        """
        if self.modality == "text":
            return []
        if self.modality == "table":
            body = self.table_body
        elif self.modality == "equation":
            body = self.latex or self.text
        else:
            body = self.text
        return [p.strip() for p in (*self.captions, body, *self.footnotes) if p and p.strip()]

    @property
    def searchable_text(self) -> str:
        """The text that represents this block in search: its description when one exists, followed by the
        parts of its own content the description does not hold (:func:`with_raw_content`)."""
        if self.modality == "text":
            return self.text
        if self.description:
            return with_raw_content(self.description, self.raw_parts)
        if self.modality == "image":
            return _join([*self.captions, self.text, *self.footnotes])
        if self.modality == "table":
            return _join([*self.captions, self.table_body, *self.footnotes])
        if self.modality == "equation":
            return _join([self.latex, self.text])
        return _join([*self.captions, self.text, *self.footnotes])

    def provenance(self) -> dict[str, Any]:
        """Metadata every node made from this block carries (``page_label`` where its page has a printed label,
        ``page_image_path`` where it has a page image)."""
        provenance: dict[str, Any] = {
            "doc": self.doc,
            "doc_id": self.doc_id,
            "page": self.page,
            "bbox": self.bbox,
            "modality": self.modality,
            "parser": self.parser,
            "block_index": self.index,
        }
        if self.page_label:
            provenance["page_label"] = self.page_label
        if self.page_image:
            provenance["page_image_path"] = self.page_image
        if self.start_s is not None:  # a recording's block: its time span instead of a page
            provenance.update(start_s=self.start_s, end_s=self.end_s)
        return provenance
