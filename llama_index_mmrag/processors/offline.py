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

import html
import re
from collections.abc import Sequence
from pathlib import Path

from llama_index_mmrag.schema import ContentBlock

CONTEXT_CHARS = 400
MAX_NAME_CHARS = 80
MAX_SUMMARY_TEXT_CHARS = 200
SEPARATOR_ROW = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?$")
"""A markdown table's header separator row (``|---|:--:|``)."""
_HTML_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.IGNORECASE | re.DOTALL)
_HTML_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")


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


def html_rows(markup: str) -> list[list[str]]:
    """The cells of each ``<tr>`` of an HTML table, as plain text (tags dropped, entities unescaped).

    Args:
        markup: An HTML table, or text holding one.
    """
    rows: list[list[str]] = []
    for row in _HTML_ROW.findall(markup):
        cells = [" ".join(html.unescape(_HTML_TAG.sub(" ", cell)).split()) for cell in _HTML_CELL.findall(row)]
        if cells:
            rows.append(cells)
    return rows


def table_shape(markdown: str) -> tuple[list[str], int, int]:
    """Header cells, data-row count and column count of a markdown (pipe) or HTML table.

    Args:
        markdown: A pipe table, or an HTML ``<table>`` (MinerU's table format).

    Example:
        >>> table_shape("| Year | Revenue |\\n|---|---|\\n| 2020 | 5 |")
        (['Year', 'Revenue'], 1, 2)
        >>> table_shape("<table><tr><th>Index</th><th>Recall</th></tr><tr><td>HNSW</td><td>0.98</td></tr></table>")
        (['Index', 'Recall'], 1, 2)
    """
    if "<tr" in markdown.lower():
        cells = html_rows(markdown)
        if cells:
            header = cells[0]
            return [h for h in header if h], len(cells) - 1, max(len(r) for r in cells)
    rows = [line.strip() for line in markdown.splitlines() if line.strip().startswith("|") or line.count("|") >= 1]
    rows = [r for r in rows if not SEPARATOR_ROW.match(r)]
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
