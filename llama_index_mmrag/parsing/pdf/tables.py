"""Ruled tables found with pdfplumber's table finder, turned into markdown.

pdfplumber's own page parsing re-reads the content stream in pure Python (about 0.2 s for a dense page,
ten times the rest of the page's analysis), so the ruling lines come from pdfium's path objects instead
and are handed to pdfplumber's ``TableFinder`` as explicit lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pdfplumber.table import Table, TableFinder

from llama_index_mmrag.parsing.pdf.geometry import Box, PageGeometry
from llama_index_mmrag.parsing.pdf.graphics import Graphic, path_edges

TABLE_CAPTION = re.compile(r"^\s*(?:Table|TABLE|Tab\.)\s*[A-Z]?[0-9IVX]+[A-Za-z]?(?:[.:\-–—\s]|$)")
_TABLE_SETTINGS: dict[str, Any] = {"vertical_strategy": "explicit", "horizontal_strategy": "explicit"}
_WORDISH = re.compile(r"[^\W\d_]{2,}")
_MIN_FILLED_SHARE = 0.3
_MAX_MEAN_CELL_CHARS = 160


@dataclass
class TableRegion:
    """A table found on a page.

    Args:
        bbox: Displayed box in points, top-left origin.
        rows: Cell texts, row by row; the first row is the header.

    Example:
        >>> table = TableRegion(bbox=(72, 300, 400, 360), rows=[["Region", "Q3"], ["North", "120"], ["South", "95"]])
        >>> table.n_rows, table.n_cols
        (3, 2)
        >>> print(table.markdown())
        | Region | Q3 |
        | --- | --- |
        | North | 120 |
        | South | 95 |
    """

    bbox: Box
    rows: list[list[str]]

    @property
    def n_rows(self) -> int:
        """Number of rows, header included."""
        return len(self.rows)

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return max((len(row) for row in self.rows), default=0)

    def markdown(self) -> str:
        """The table as a GitHub-flavoured markdown table (first row as header)."""
        return rows_to_markdown(self.rows)


CharBoxes = list[tuple[int, str, Box]]


def table_edges(graphics: list[Graphic], geometry: PageGeometry) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The horizontal and vertical straight segments of a page's paths, as pdfplumber edge objects.

    Args:
        graphics: The page's graphic objects (their page still open).
        geometry: The page's displayed frame.

    Returns:
        ``(horizontal, vertical)`` edges in displayed coordinates.
    """
    horizontal: list[dict[str, Any]] = []
    vertical: list[dict[str, Any]] = []
    for graphic in graphics:
        for x0, top, x1, bottom in path_edges(graphic, geometry):
            edge = {
                "object_type": "line_edge",
                "x0": x0,
                "x1": x1,
                "top": top,
                "bottom": bottom,
                "doctop": top,
                "width": x1 - x0,
                "height": bottom - top,
                "orientation": "h" if x1 - x0 >= bottom - top else "v",
            }
            (horizontal if edge["orientation"] == "h" else vertical).append(edge)
    return horizontal, vertical


def find_tables(graphics: list[Graphic], geometry: PageGeometry, chars: Callable[[Box], CharBoxes]) -> list[TableRegion]:
    """Find the ruled tables of a page with pdfplumber's table finder.

    pdfplumber's ``TableFinder`` (the "lines" algorithm: snap and join edges, intersect them, build cells,
    group cells into tables) runs on the ruling segments pdfium reports, handed over as explicit lines, so
    pdfplumber never has to re-parse the page; cell text comes from pdfium's character boxes.

    Args:
        graphics: The page's graphic objects (their page still open).
        geometry: The page's displayed frame.
        chars: Returns ``(index, char, box)`` for the text-layer characters whose centre lies in a box.

    Returns:
        Tables with at least two rows and two columns and enough filled cells.
    """
    horizontal, vertical = table_edges(graphics, geometry)
    if len(horizontal) < 2 or len(vertical) < 2:
        return []
    settings = {
        **_TABLE_SETTINGS,
        "explicit_horizontal_lines": horizontal,
        "explicit_vertical_lines": vertical,
    }
    finder = TableFinder(_PageFrame((0.0, 0.0, geometry.width, geometry.height)), settings)
    regions = []
    for table in finder.tables:
        if len(table.cells) < 4:
            continue
        rows = _clean_rows(_cell_texts(table, chars(table.bbox)))
        if _is_real_table(rows):
            regions.append(TableRegion(tuple(float(v) for v in table.bbox), rows))  # type: ignore[arg-type]
    return regions


@dataclass(frozen=True)
class _PageFrame:
    """The one page attribute pdfplumber's table finder reads when every line is given explicitly."""

    bbox: Box


def _cell_texts(table: Table, chars: CharBoxes) -> list[list[str | None]]:
    """Put every character into the cell holding its centre; keep pdfium's order inside a cell."""
    rows = table.rows
    members: dict[tuple[int, int], list[tuple[int, str]]] = {}
    for index, char, (x0, y0, x1, y1) in chars:
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        for r, row in enumerate(rows):
            if not row.bbox[1] <= cy < row.bbox[3]:
                continue
            for c, cell in enumerate(row.cells):
                if cell is not None and cell[0] <= cx < cell[2] and cell[1] <= cy < cell[3]:
                    members.setdefault((r, c), []).append((index, char))
                    break
            break
    texts: list[list[str | None]] = []
    for r, row in enumerate(rows):
        texts.append([None if cell is None else _join_chars(members.get((r, c), [])) for c, cell in enumerate(row.cells)])
    return texts


def _join_chars(items: list[tuple[int, str]]) -> str:
    out: list[str] = []
    previous = None
    for index, char in items:
        if previous is not None and index != previous + 1:
            out.append(" ")
        out.append(char)
        previous = index
    return "".join(out)


def _clean_rows(raw_rows: list[list[str | None]]) -> list[list[str]]:
    rows = [[" ".join((cell or "").split()) for cell in row] for row in raw_rows]
    rows = [row for row in rows if any(row)]
    if not rows:
        return []
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    keep = [c for c in range(width) if any(row[c] for row in rows)]
    return [[row[c] for c in keep] for row in rows]


def _is_real_table(rows: list[list[str]]) -> bool:
    if len(rows) < 2 or max(len(row) for row in rows) < 2:
        return False
    cells = [cell for row in rows for cell in row]
    filled = [cell for cell in cells if cell]
    if len(filled) < _MIN_FILLED_SHARE * len(cells) or len(filled) < 3:
        return False
    if sum(1 for cell in filled if _WORDISH.search(cell)) < 2:
        return False  # numbers only: the value labels of a bar chart, not a table
    return sum(len(cell) for cell in filled) / len(filled) <= _MAX_MEAN_CELL_CHARS


def rows_to_markdown(rows: list[list[str]]) -> str:
    """Render rows as a markdown table; the first row becomes the header.

    Args:
        rows: Cell texts, row by row.
    """
    if not rows:
        return ""
    width = max(len(row) for row in rows)

    def render(row: list[str]) -> str:
        cells = [cell.replace("|", "\\|") for cell in row] + [""] * (width - len(row))
        return "| " + " | ".join(cells) + " |"

    lines = [render(rows[0]), "| " + " | ".join(["---"] * width) + " |"]
    lines.extend(render(row) for row in rows[1:])
    return "\n".join(lines)
