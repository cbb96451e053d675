"""Markdown (pipe) and HTML tables as the package reads them: one separator-row rule, one row parser.

Example:
    >>> body = "| Index | Recall |\\n|:---|---:|\\n| HNSW | 0.98 |"
    >>> table_rows(body)
    [['Index', 'Recall'], ['HNSW', '0.98']]
    >>> table_shape(body)
    (['Index', 'Recall'], 1, 2)
    >>> split_markdown_table(body)
    (['| Index | Recall |', '|:---|---:|'], ['| HNSW | 0.98 |'])
"""

from __future__ import annotations

import html
import re

SEPARATOR_ROW = re.compile(r"^\s*[|+]?\s*:?-+:?\s*(?:[|+]\s*:?-+:?\s*)*[|+]?\s*$")
"""A markdown table's header separator row (``|---|:--:|``, ``---|---``, a grid table's ``+---+---+``)."""
_HTML_ROW = re.compile(r"<tr[^>]*>(.*?)</tr>", re.IGNORECASE | re.DOTALL)
_HTML_CELL = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]+>")


def is_separator_row(line: str) -> bool:
    """Whether a line is a table's separator (rule) row.

    Args:
        line: One line of text.

    Example:
        >>> is_separator_row("| --- | :-: |"), is_separator_row("| a | b |")
        (True, False)
    """
    return SEPARATOR_ROW.match(line) is not None


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


def table_rows(text: str) -> list[list[str]]:
    """The rows of the first table in a text, header first: an HTML table's ``<tr>`` cells, else the first run
    of lines holding a ``|`` (separator rows skipped, blank lines end it); ``[]`` when there is none.

    Args:
        text: A table, or text holding one (a caption or description lines may come first).
    """
    if "<tr" in text.lower():
        return html_rows(text)
    rows: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if is_separator_row(line):
            continue
        if "|" not in line:
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def table_shape(text: str) -> tuple[list[str], int, int]:
    """Header cells (empty ones dropped), data-row count and column count of a pipe or HTML table.

    Args:
        text: A pipe table, or an HTML ``<table>`` (MinerU's table format).

    Example:
        >>> table_shape("<table><tr><th>Index</th><th>Recall</th></tr><tr><td>HNSW</td><td>0.98</td></tr></table>")
        (['Index', 'Recall'], 1, 2)
    """
    rows = table_rows(text)
    if not rows:
        return [], 0, 0
    return [h for h in rows[0] if h], len(rows) - 1, max(len(r) for r in rows)


def split_markdown_table(body: str) -> tuple[list[str], list[str]] | None:
    """``(header lines, data rows)`` of a pipe table (its header line and separator row, then the rows), or
    ``None`` when ``body`` is not a pipe table.

    Args:
        body: A table's markdown.
    """
    lines = [line for line in body.splitlines() if line.strip()]
    if len(lines) < 3 or not lines[0].lstrip().startswith("|") or not is_separator_row(lines[1]):
        return None
    return lines[:2], lines[2:]
