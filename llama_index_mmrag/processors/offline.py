"""Deterministic, LLM-free descriptions of images, tables and equations that still help retrieval.

- image: caption + the text OCR reads in it + its file name + neighbouring text;
- table: caption + header row + row and column counts + the markdown body;
- equation: LaTeX (or its text form) + caption + neighbouring text.

Example:
    >>> from llama_index_mmrag.blocks import ContentBlock
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

import re
from collections.abc import Sequence
from pathlib import Path

from llama_index_mmrag.blocks import ContentBlock

CONTEXT_CHARS = 400
_SEPARATOR_ROW = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")


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


def table_shape(markdown: str) -> tuple[list[str], int, int]:
    """Header cells, data-row count and column count of a markdown table.

    Args:
        markdown: A pipe table.
    """
    rows = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|") or line.count("|") >= 1]
    rows = [r for r in rows if not _SEPARATOR_ROW.match(r)]
    if not rows:
        return [], 0, 0
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    return [h for h in header if h], len(rows) - 1, len(header)


def _lines(*parts: str | None) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


def describe_offline(block: ContentBlock, context: str) -> str:
    """Return the LLM-free description of a modal block (text blocks are returned unchanged).

    Args:
        block: An image, table or equation block.
        context: Neighbouring text (see :func:`neighbouring_text`).
    """
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
    return block.text
