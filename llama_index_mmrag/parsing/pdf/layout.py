"""Layout analysis: lines into paragraphs, blocks into reading order.

Paragraphs are built spatially (a line joins the paragraph right above it when spacing, alignment, font
size, weight and math-ness agree), so the content-stream order of the PDF does not matter. Reading order
is a recursive XY-cut that prefers column cuts, which reads two-column pages column by column while
full-width titles, figures and tables cut the page into horizontal bands first.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from llama_index_mmrag.parsing.pdf.geometry import Box, horizontal_overlap, union_box
from llama_index_mmrag.parsing.pdf.text import Line

_BULLET = re.compile(
    r"^(?:[•◦▪●○■□►▸‣⁃✓✔➢→]|[-–—*]\s|\(?\d{1,2}[.)]\s|\(?[a-z][.)]\s|\([ivx]{1,4}\)\s)"
)
_SENTENCE_END = re.compile(r"[.!?:;\"”’)]$")
_HYPHENATED = re.compile(r"[A-Za-z]-$")
_COLUMN_GAP = 4.0
_ROW_OVERLAP = 1.5


@dataclass
class Paragraph:
    """Consecutive lines that belong together.

    Args:
        lines: The member lines, top to bottom.

    Example:
        >>> paragraph = Paragraph([Line("The terminal grew in the third quar-", (72, 100, 300, 111), 11.0),
        ...                        Line("ter of the year.", (72, 113, 160, 124), 11.0)])
        >>> paragraph.text, paragraph.bbox, paragraph.size
        ('The terminal grew in the third quarter of the year.', (72, 100, 300, 124), 11.0)
    """

    lines: list[Line] = field(default_factory=list)

    @property
    def bbox(self) -> Box:
        """Union of the member lines' boxes."""
        return union_box(line.bbox for line in self.lines)

    @property
    def text(self) -> str:
        """The member lines joined, with end-of-line hyphenation undone."""
        return join_lines([line.text for line in self.lines])

    @property
    def size(self) -> float:
        """Font size of the bulk of the text (character-weighted median)."""
        weighted = [line.size for line in self.lines for _ in range(max(1, len(line.text) // 8))]
        return float(statistics.median(weighted)) if weighted else 0.0

    @property
    def bold(self) -> bool:
        """Whether most characters are bold."""
        bold_chars = sum(len(line.text) for line in self.lines if line.bold)
        return bold_chars * 2 > sum(len(line.text) for line in self.lines)

    @property
    def math(self) -> bool:
        """Whether every line is display math."""
        return all(line.math for line in self.lines)


def join_lines(texts: list[str]) -> str:
    """Join line texts into one paragraph.

    A word hyphenated at a line end is glued back: without its hyphen before a lower-case letter
    ("con-" + "tainer"), with it otherwise ("LOGIC-" + "LM").

    Args:
        texts: The lines, top to bottom.
    """
    out = ""
    for text in texts:
        if not out:
            out = text
        elif _HYPHENATED.search(out):
            out = (out[:-1] if text[:1].islower() else out) + text
        else:
            out = f"{out} {text}"
    return out


def group_paragraphs(lines: list[Line], size_tolerance: float = 0.1) -> list[Paragraph]:
    """Group lines into paragraphs.

    Args:
        lines: The page's lines in any order.
        size_tolerance: Largest relative font-size difference within a paragraph (OCR sizes are estimates
            from box heights and need more room than text-layer sizes).

    Returns:
        Paragraphs, each with its lines top to bottom.
    """
    paragraphs: list[Paragraph] = []
    open_paragraphs: list[Paragraph] = []
    for line in sorted(_dedupe(lines), key=lambda item: (round(item.bbox[1], 1), item.bbox[0])):
        open_paragraphs = [p for p in open_paragraphs if line.bbox[1] - p.lines[-1].bbox[3] < 3 * max(line.height, 1.0)]
        target = _best_paragraph(open_paragraphs, line, size_tolerance)
        if target is None:
            target = Paragraph()
            paragraphs.append(target)
            open_paragraphs.append(target)
        target.lines.append(line)
    return paragraphs


def _dedupe(lines: list[Line]) -> list[Line]:
    """Drop lines printed twice at the same place (fake bold, drop shadows)."""
    seen: set[tuple[str, int, int]] = set()
    kept = []
    for line in lines:
        key = (line.text, round(line.bbox[0] / 2), round(line.bbox[1] / 2))
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept


def _best_paragraph(candidates: list[Paragraph], line: Line, size_tolerance: float) -> Paragraph | None:
    best, best_gap = None, float("inf")
    for paragraph in candidates:
        gap = line.bbox[1] - paragraph.lines[-1].bbox[3]
        if gap < best_gap and _continues(paragraph, line, size_tolerance):
            best, best_gap = paragraph, gap
    return best


def _continues(paragraph: Paragraph, line: Line, size_tolerance: float) -> bool:
    """Whether ``line`` continues ``paragraph`` (spacing, alignment and style agree, no paragraph break)."""
    last = paragraph.lines[-1]
    size = max(line.size, last.size, 1.0)
    gap = line.bbox[1] - last.bbox[3]
    height = max(line.height, last.height)
    if gap < -0.45 * min(line.height, last.height) or gap > 0.8 * height:
        return False
    if abs(line.size - last.size) > max(0.7, size_tolerance * size) or line.math != last.math:
        return False
    if line.bold != last.bold and _short(line if line.bold else last, paragraph):
        return False  # a bold heading next to body text; a bold lead-in sentence wrapping on may stay
    if horizontal_overlap(paragraph.bbox, line.bbox) <= 0.2 * min(line.width, last.width):
        return False
    return not _starts_new_paragraph(paragraph, line, size)


def _short(line: Line, paragraph: Paragraph) -> bool:
    """Whether a line stops well before the paragraph's right edge (as a heading does)."""
    left, right = min(paragraph.bbox[0], line.bbox[0]), max(paragraph.bbox[2], line.bbox[2])
    return line.width < 0.7 * (right - left)


def _starts_new_paragraph(paragraph: Paragraph, line: Line, size: float) -> bool:
    last = paragraph.lines[-1]
    if _BULLET.match(line.text):
        return True
    indent = line.bbox[0] - last.bbox[0]
    left = min(item.bbox[0] for item in paragraph.lines)
    if len(paragraph.lines) >= 2 and indent >= 0.8 * size and line.bbox[0] - left >= 0.8 * size:
        return True
    if len(paragraph.lines) >= 2 and _SENTENCE_END.search(last.text):
        right = max(item.bbox[2] for item in paragraph.lines)
        if right - last.bbox[2] > 4 * size:
            return True
    return False


def reading_order(boxes: list[Box]) -> list[int]:
    """Order boxes for reading with a recursive XY-cut that tries column cuts before row cuts.

    Args:
        boxes: The boxes of the page's blocks.

    Returns:
        Indices into ``boxes`` in reading order.
    """
    return _xy_cut(list(range(len(boxes))), boxes)


def _xy_cut(indices: list[int], boxes: list[Box]) -> list[int]:
    if len(indices) <= 1:
        return indices
    for axis in (0, 1):
        groups = _split(indices, boxes, axis)
        if len(groups) > 1:
            return [index for group in groups for index in _xy_cut(group, boxes)]
    return sorted(indices, key=lambda i: (boxes[i][1], boxes[i][0]))


def _split(indices: list[int], boxes: list[Box], axis: int) -> list[list[int]]:
    """Split boxes at the empty gaps of their projection on one axis (0: x, columns; 1: y, rows)."""
    low, high = axis, axis + 2
    order = sorted(indices, key=lambda i: boxes[i][low])
    groups = [[order[0]]]
    reach = boxes[order[0]][high]
    for index in order[1:]:
        starts_after = boxes[index][low] > reach + _COLUMN_GAP if axis == 0 else boxes[index][low] > reach - _ROW_OVERLAP
        if starts_after:
            groups.append([index])
        else:
            groups[-1].append(index)
        reach = max(reach, boxes[index][high])
    return groups
