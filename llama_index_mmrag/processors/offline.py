"""Deterministic, LLM-free descriptions of images, tables and equations that still help retrieval.

- image: caption + the text OCR reads in it + its file name + neighbouring text;
- table: caption + header row + row and column counts + the markdown body (pipe or HTML tables);
- equation: LaTeX (or its text form) + caption + neighbouring text.

:func:`offline_entity_info` gives the item's entity the way RAG-Anything's LLM would
(``entity_name`` / ``entity_type`` / ``summary``), derived from captions, headers, OCR text and LaTeX.

Example:
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> t = ContentBlock(modality="table", doc="r.pdf", doc_id="h", parser="mmrag",
    ...                  table_body="| Year | Revenue |\\n|---|---|\\n| 2020 | 5 |", captions=["Table 1: Revenue"])
    >>> print(describe_offline(t, context=""))
    Table: Table 1: Revenue
    Columns: Year, Revenue
    1 rows x 2 columns
    | Year | Revenue |
    |---|---|
    | 2020 | 5 |
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema import ContentBlock
from llama_index_mmrag.schema.tables import table_shape

CONTEXT_CHARS = 400
MAX_NAME_CHARS = 80
MAX_SUMMARY_TEXT_CHARS = 200


def neighbouring_text(blocks: Sequence[ContentBlock], index: int, max_chars: int = CONTEXT_CHARS) -> str:
    """Text of the text blocks just before and after ``blocks[index]`` on the same page.

    Args:
        blocks: A document's blocks in reading order.
        index: Position of the modal block.
        max_chars: Budget for each side.
    """
    target = blocks[index]

    def gather(indices: range) -> str:
        parts: list[str] = []
        used = 0
        for i in indices:
            block = blocks[i]
            if block.page != target.page:
                break
            if block.modality != "text":
                continue
            parts.append(block.text.strip())
            used += len(block.text)
            if used >= max_chars:
                break
        return " ".join(parts)

    before = gather(range(index - 1, -1, -1))[-max_chars:]
    after = gather(range(index + 1, len(blocks)))[:max_chars]
    return " ".join(p for p in (before, after) if p)


def _lines(*parts: str | None) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


def describe_offline(block: ContentBlock, context: str) -> str:
    """Return the LLM-free description of a modal block (text blocks are returned unchanged).

    A modality with its own ``describe_offline`` hook (:class:`~llama_index_mmrag.modalities.Modality`) is
    described by it; another modality without one by its label, caption, text and context.

    Args:
        block: An image, table or equation block (or one of another registered modality).
        context: Neighbouring text (see :func:`neighbouring_text`).
    """
    modality = MODALITIES.get(block.modality)
    if modality.describe_offline is not None:
        return modality.describe_offline(block, context)
    caption = " ".join(block.captions)
    if block.modality == "image":
        name = Path(block.img_path).stem.replace("_", " ").replace("-", " ") if block.img_path else ""
        return _lines(
            f"Image: {caption}" if caption else "Image",
            f"Text in the image: {block.text}" if block.text.strip() else None,
            f"File: {name}" if name else None,
            f"Context: {context}" if context else None,
        )
    if block.modality == "table":
        header, n_rows, n_cols = table_shape(block.table_body or "")
        return _lines(
            f"Table: {caption}" if caption else "Table",
            f"Columns: {', '.join(header)}" if header else None,
            f"{n_rows} rows x {n_cols} columns" if n_cols else None,
            block.table_body,
            " ".join(block.footnotes) or None,
        )
    if block.modality == "equation":
        return _lines(
            f"Equation: {block.latex or block.text}",
            f"Caption: {caption}" if caption else None,
            f"Context: {context}" if context else None,
        )
    if modality.is_modal:
        label = modality.label.capitalize()
        return _lines(
            f"{label}: {caption}" if caption else label,
            block.text,
            " ".join(block.footnotes) or None,
            f"Context: {context}" if context else None,
        )
    return block.text


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return cut + "…"


def _where(block: ContentBlock) -> str:
    return f"{block.doc} (page {block.page})" if block.page is not None else block.doc


def offline_entity_info(block: ContentBlock) -> dict[str, str]:
    """The entity of a modal item without an LLM, in RAG-Anything's ``entity_info`` shape.

    The name follows RAG-Anything's ``"<name> (<type>)"`` convention; the name is the caption when there is
    one, else the table's columns, the first line of text read in the image, or the equation itself, and
    always says which document the item is in (so two documents' "Table 1" stay two entities).

    Args:
        block: An image, table or equation block (``block.text`` holds an image's OCR text).

    Returns:
        ``{"entity_name", "entity_type", "summary"}``; ``entity_type`` is ``image``, ``table`` or ``equation``.

    Raises:
        ValueError: For a text block.

    Example:
        >>> t = ContentBlock(modality="table", doc="r.pdf", doc_id="h", parser="mmrag", page=2,
        ...                  table_body="| Year | Revenue |\\n|---|---|\\n| 2020 | 5 |")
        >>> info = offline_entity_info(t)
        >>> info["entity_name"], info["entity_type"]
        ('table of Year, Revenue in r.pdf (table)', 'table')
        >>> info["summary"]
        'A table in r.pdf (page 2) with 1 rows and 2 columns: Year, Revenue.'
    """
    if block.modality == "text":
        raise ValueError(
            f"{block.doc}: block {block.index} is text; only images, tables and equations have an item entity"
        )
    caption = " ".join(" ".join(c.split()) for c in block.captions if c.strip())
    where = _where(block)
    captioned = f" Caption: {_clip(caption, MAX_SUMMARY_TEXT_CHARS)}." if caption else ""
    if block.modality == "image":
        seen = next((line.strip() for line in block.text.splitlines() if line.strip()), "")
        stem = Path(block.img_path).stem.replace("_", " ").replace("-", " ") if block.img_path else ""
        base = caption or (f"image showing {seen}" if seen else "") or (f"image {stem}" if stem else "image")
        summary = f"An image in {where}.{captioned}"
        if block.text.strip():
            summary += f" Text in it: {_clip(' '.join(block.text.split()), MAX_SUMMARY_TEXT_CHARS)}."
    elif block.modality == "table":
        header, n_rows, n_cols = table_shape(block.table_body or "")
        base = caption or (f"table of {', '.join(header[:4])}" if header else "table")
        shape = f" with {n_rows} rows and {n_cols} columns" if n_cols else ""
        columns = f": {', '.join(header)}" if header else ""
        summary = f"A table in {where}{shape}{columns}.{captioned}"
    else:
        formula = (block.latex or block.text or "").strip()
        base = caption or (f"equation {_clip(formula, 60)}" if formula else "equation")
        summary = f"An equation in {where}: {_clip(formula, MAX_SUMMARY_TEXT_CHARS)}.{captioned}"
    name = f"{_clip(base, MAX_NAME_CHARS)} in {block.doc} ({block.modality})"
    return {"entity_name": name, "entity_type": block.modality, "summary": summary.strip()}
