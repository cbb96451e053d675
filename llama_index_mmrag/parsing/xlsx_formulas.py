"""Formula cells of an XLSX workbook that carry no stored result.

An XLSX file stores each formula next to the value it last computed (``<c><f>A2+B2</f><v>15</v></c>``), and
readers (Docling's, through openpyxl's ``data_only=True``) show that cached value. Files written by libraries
that never calculate (openpyxl, many exporters) store the formula alone: the cell then reads as empty. Nothing
here evaluates formulas, so :func:`uncached_formula_cells` finds those cells, streaming the sheets' XML straight
from the package (bounded memory on any sheet size), so that the parser can warn naming the file and cells.

Example:
    >>> from openpyxl import Workbook
    >>> book = Workbook()
    >>> sheet = book.active
    >>> sheet.title = "Budget"
    >>> for row in (["item", "monthly", "yearly"], ["rent", 10, "=B2*12"], ["power", 3, "=B3*12"]):
    ...     sheet.append(row)
    >>> book.save("budget.xlsx")                  # openpyxl stores formulas without their results
    >>> uncached_formula_cells(Path("budget.xlsx"))
    {'Budget': ['C2', 'C3']}
"""

from __future__ import annotations

import logging
import posixpath
import zipfile
from pathlib import Path
from xml.etree.ElementTree import iterparse

logger = logging.getLogger(__name__)

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_PKG_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_CELLS_NAMED = 20
"""A warning names at most this many cells (then says how many more there are)."""


def _sheet_parts(package: zipfile.ZipFile) -> list[tuple[str, str]]:
    """``(sheet name, part path)`` of every worksheet, in workbook order."""
    targets: dict[str, str] = {}
    with package.open("xl/_rels/workbook.xml.rels") as rels:
        for _, element in iterparse(rels):
            if element.tag == f"{_PKG_REL}Relationship":
                target = element.get("Target", "")
                part = target.lstrip("/") if target.startswith("/") else posixpath.normpath(f"xl/{target}")
                targets[element.get("Id", "")] = part
    sheets: list[tuple[str, str]] = []
    with package.open("xl/workbook.xml") as workbook:
        for _, element in iterparse(workbook):
            if element.tag == f"{_MAIN}sheet":
                part = targets.get(element.get(f"{_REL}id", ""))
                if part and part.startswith("xl/worksheets/"):
                    sheets.append((element.get("name", part), part))
    return sheets


def _uncached_in_sheet(package: zipfile.ZipFile, part: str) -> list[str]:
    cells: list[str] = []
    with package.open(part) as sheet:
        for _, element in iterparse(sheet):
            if element.tag != f"{_MAIN}c":
                if element.tag == f"{_MAIN}row":
                    element.clear()  # keeps memory bounded by one row
                continue
            if element.find(f"{_MAIN}f") is not None:
                value = element.find(f"{_MAIN}v")
                empty = value is None or not (value.text or "")
                # An empty cached string result is written as t="str" with an empty <v>: that is a value.
                if empty and not (value is not None and element.get("t") == "str"):
                    cells.append(element.get("r", "?"))
    return cells


def uncached_formula_cells(path: str | Path) -> dict[str, list[str]]:
    """Formula cells with no stored result, per sheet (sheets without any are left out).

    Args:
        path: An XLSX file.

    Returns:
        ``{sheet name: [cell references]}`` in workbook and sheet order; empty when every formula has its value
        or the package cannot be read this way (the parser reports a damaged file itself).
    """
    found: dict[str, list[str]] = {}
    try:
        with zipfile.ZipFile(path) as package:
            for name, part in _sheet_parts(package):
                if part in package.NameToInfo:
                    cells = _uncached_in_sheet(package, part)
                    if cells:
                        found[name] = cells
    except (OSError, KeyError, zipfile.BadZipFile, SyntaxError) as exc:  # SyntaxError: ElementTree's ParseError
        logger.debug("%s: formula cells not checked (%s)", path, exc)
        return {}
    return found


def warn_uncached_formulas(path: str | Path) -> dict[str, list[str]]:
    """Log a warning naming the file and the formula cells that will read as empty, if there are any.

    Args:
        path: An XLSX file.

    Returns:
        What :func:`uncached_formula_cells` found.
    """
    found = uncached_formula_cells(path)
    if not found:
        return found
    named = [f"{sheet}!{cell}" for sheet, cells in found.items() for cell in cells]
    total = len(named)
    listed = ", ".join(named[:MAX_CELLS_NAMED]) + (f" and {total - MAX_CELLS_NAMED} more" if total > MAX_CELLS_NAMED else "")
    logger.warning(
        "%s: %d formula cell(s) have no stored result and are read as empty: %s. The file was saved by a program "
        "that does not calculate formulas; open it in Excel or LibreOffice, save it, and ingest it again to "
        "index their values",
        Path(path).name,
        total,
        listed,
    )
    return found
