"""Document-level decisions over the pages' blocks: running headers and footers, page numbers, logos
repeated on every page, and heading levels (which need the body font size of the whole document).

The page numbers printed in the header/footer band are dropped from the text, and what they say is kept: each
item of a page that has a printed label (the PDF's own page label, else a number consistent across the
document, see :mod:`llama_index_mmrag.parsing.pdf.page_labels`) carries it as ``page_label``.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index_mmrag.parsing.pdf.page import Block, PageResult
from llama_index_mmrag.parsing.pdf.page_labels import PAGE_NUMBER, page_labels, printed_number

_DIGITS = re.compile(r"\d+")
_NOT_WORD = re.compile(r"[^\w#]+")
_BULLET_START = re.compile(r"^[•◦▪●○■□►▸‣⁃✓✔➢→\-–—*]")
_LETTERS = re.compile(r"[^\W\d_]{2,}")
_MAX_HEADING_CHARS = 160
_MAX_HEADING_LINES = 3
_MAX_LEVEL = 4


def finalize(results: list[PageResult], pdf_labels: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Turn the pages' blocks into the document's content list.

    Args:
        results: One result per page, in page order.
        pdf_labels: The PDF's own page labels, one per page (``""`` where it defines none); empty if it has none.

    Returns:
        The content list in reading order, with running headers, footers, page numbers and repeated logos
        removed, ``text_level`` set on text items and ``page_label`` on the items of labelled pages.
    """
    pages = [result.blocks for result in results]
    labels = page_labels([_printed_numbers(blocks) for blocks in pages], pdf_labels)
    dropped = _running_furniture(pages) | _repeated_images(pages)
    kept = [[block for block in blocks if id(block) not in dropped] for blocks in pages]
    kept = [page if page or not original else original for page, original in zip(kept, pages)]
    _delete_unused_images(pages, kept)
    _assign_heading_levels([block for page in kept for block in page])
    for page, label in zip(kept, labels):
        if label is not None:
            for block in page:
                block.item["page_label"] = label
    return [block.item for page in kept for block in page]


def _printed_numbers(blocks: list[Block]) -> list[str]:
    """The page numbers printed in a page's header/footer band (the lines :data:`PAGE_NUMBER` drops)."""
    numbers = []
    for block in blocks:
        if block.margin is not None and block.item["type"] in ("text", "equation"):
            number = printed_number(block.item["text"])
            if number is not None:
                numbers.append(number)
    return numbers


def _running_furniture(pages: list[list[Block]]) -> set[int]:
    """Blocks in the header/footer band that are page numbers or repeat on enough pages."""
    keys: dict[int, tuple[str, str]] = {}
    counts: Counter[tuple[str, str]] = Counter()
    dropped: set[int] = set()
    for blocks in pages:
        seen: set[tuple[str, str]] = set()
        for block in blocks:
            if block.margin is None or block.item["type"] not in ("text", "equation"):
                continue
            text = block.item["text"].strip()
            if PAGE_NUMBER.match(text):
                dropped.add(id(block))
                continue
            key = (block.margin, _normalise(text))
            keys[id(block)] = key
            seen.add(key)
        counts.update(seen)
    needed = _repeat_threshold(len(pages))
    dropped.update(block_id for block_id, key in keys.items() if counts[key] >= needed and key[1])
    return dropped


def _normalise(text: str) -> str:
    return _NOT_WORD.sub(" ", _DIGITS.sub("#", text.lower())).strip()


def _repeat_threshold(n_pages: int) -> int:
    """How many pages a header/footer line must appear on: 2 in short documents, else 3 and 20% of pages."""
    if n_pages <= 4:
        return 2
    return max(3, math.ceil(0.2 * n_pages))


def _repeated_images(pages: list[list[Block]]) -> set[int]:
    """Image blocks whose picture and place repeat across pages (logos, decorations)."""
    counts: Counter[str] = Counter()
    for blocks in pages:
        counts.update({block.signature for block in blocks if block.signature})
    needed = max(3, _repeat_threshold(len(pages)))
    return {
        id(block)
        for blocks in pages
        for block in blocks
        if block.signature and counts[block.signature] >= needed and block.item["image_caption"] == []
    }


def _delete_unused_images(pages: list[list[Block]], kept: list[list[Block]]) -> None:
    used = {block.item.get("img_path") for page in kept for block in page}
    for page in pages:
        for block in page:
            path = block.item.get("img_path")
            if path and path not in used:
                Path(path).unlink(missing_ok=True)  # owned: an image this parse saved (_save_png) and then dropped


def _assign_heading_levels(blocks: list[Block]) -> None:
    """Mark headings: short text blocks set larger than the body text, or bold at body size.

    Larger sizes get smaller levels (1 is the largest); bold body-size headings come one level below the
    smallest enlarged size. Levels stop at 4.
    """
    texts = [block for block in blocks if block.item["type"] == "text"]
    body = _body_size(texts)
    if body <= 0:
        return
    candidates = [block for block in texts if _heading_shape(block)]
    larger = [block for block in candidates if block.size >= max(body + 1.0, 1.12 * body)]
    larger_ids = {id(block) for block in larger}
    sizes = sorted({round(block.size * 2) / 2 for block in larger}, reverse=True)
    rank = {size: index + 1 for index, size in enumerate(sizes)}
    for block in larger:
        block.item["text_level"] = min(rank[round(block.size * 2) / 2], _MAX_LEVEL)
    for block in candidates:
        if id(block) not in larger_ids and block.bold and block.size >= body - 0.5 and len(block.item["text"]) <= 100:
            block.item["text_level"] = min(len(sizes) + 1, _MAX_LEVEL)


def _body_size(texts: list[Block]) -> float:
    weighted = [block.size for block in texts for _ in range(max(1, len(block.item["text"]) // 40))]
    return float(statistics.median(weighted)) if weighted else 0.0


def _heading_shape(block: Block) -> bool:
    text = block.item["text"].strip()
    return (
        0 < block.n_lines <= _MAX_HEADING_LINES
        and len(text) <= _MAX_HEADING_CHARS
        and not text.endswith((".", ",", ";"))
        and not _BULLET_START.match(text)
        and bool(_LETTERS.search(text))
    )
