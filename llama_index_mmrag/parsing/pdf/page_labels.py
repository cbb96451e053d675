"""Printed page labels: the page number a reader sees on each page, where the document defines one.

Readers name pages by what is printed on them ("the map on page 3"), which differs from the physical index
when a document has a cover, front matter, roman numerals or an article printed 3806-3824. A page's label
comes, in this order, from

1. the PDF's own page labels (``/PageLabels``), when it has any: they are the document's own word;
2. else the numbers printed alone in the header/footer band (the blocks the document pass drops as page
   numbers), accepted only where they are consistent across the document, so that a stray number in a footer
   (a year, a total, a phone extension) never becomes a label:

   * arabic numbers: the offset ``number - index`` carried by the most pages wins when at least
     :data:`MIN_RUN_PAGES` pages carry it and they are at least :data:`MIN_AGREEMENT` of the pages that print
     any arabic number in a margin. Its run spans the first to the last page that carries it; inside the run,
     a page that prints no number in its margins (a full-page figure, a chapter opener) takes
     ``index + offset`` too, a page that prints another number takes none;
   * roman numerals (front matter: i, ii, iii...): the same rule, with at least :data:`MIN_ROMAN_PAGES`
     pages, all before the arabic run, and no gap filled.

   Pages outside those runs (a cover, a back cover) have no label.

Example:
    >>> page_labels([[], ["ii"], ["1"], ["2"], [], ["4"]], pdf_labels=[])
    [None, None, '1', '2', '3', '4']
    >>> page_labels([["2024"], ["2024"], ["2024"]], pdf_labels=[])     # the same number on every page: a year
    [None, None, None]
    >>> page_labels([[], [], []], pdf_labels=["A", "B", "1"])        # the PDF's own labels win
    ['A', 'B', '1']
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["MIN_AGREEMENT", "MIN_ROMAN_PAGES", "MIN_RUN_PAGES", "PAGE_NUMBER", "page_labels", "printed_number"]

MIN_RUN_PAGES = 3
"""Pages that must print a number at one offset from their index before those numbers become labels."""

MIN_ROMAN_PAGES = 2
"""Pages that must print a roman numeral at one offset before those numerals become labels."""

MIN_AGREEMENT = 0.6
"""Share of the pages printing a number in a margin that must agree on the winning offset."""

MAX_LABEL_CHARS = 64
"""Longest PDF page label kept (longer ones are cut)."""

PAGE_NUMBER = re.compile(
    r"^(?:page|p\.|seite|pág\.?)?\s*[-–—(\[]?\s*(\d{1,4}|[ivxlcdm]{1,7})\s*[-–—)\]]?"
    r"(?:\s*(?:of|/|de|von)\s*\d{1,4})?$",
    re.I,
)
"""A header or footer line that is a page number ("3", "- 3 -", "Page 3 of 10", "iv"); its group is the number."""
_ROMAN = re.compile(r"^m{0,3}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printed_number(text: str) -> str | None:
    """The page number a margin line prints ("3", "- 3 -", "Page 3 of 10", "iv"), ``None`` for anything else.

    Args:
        text: One header or footer line.

    Example:
        >>> printed_number("Page 3 of 10"), printed_number("xii"), printed_number("Figure 3"), printed_number("Table")
        ('3', 'xii', None, None)
    """
    match = PAGE_NUMBER.match(text.strip())
    if match is None:
        return None
    value = match.group(1)
    if value.isdigit():
        return value
    return value if _roman_value(value) is not None else None


def page_labels(printed: Sequence[Sequence[str]], pdf_labels: Sequence[str]) -> list[str | None]:
    """Each page's label (see the module docstring for the rules), ``None`` where it has none.

    Args:
        printed: Per page, in page order, the numbers its margins print (:func:`printed_number` of its header
            and footer lines).
        pdf_labels: The PDF's own page labels, one per page (``""`` where it defines none); empty when unknown.

    Example:
        >>> page_labels([[], ["i"], ["ii"], ["1"], ["2"], ["3"]], pdf_labels=[])
        [None, 'i', 'ii', '1', '2', '3']
    """
    n_pages = len(printed)
    own = [_clean(label) for label in pdf_labels]
    if len(own) == n_pages and any(own):
        return [label or None for label in own]
    labels: list[str | None] = [None] * n_pages
    arabic = [[int(v) for v in values if v.isdigit()] for values in printed]
    run = _run(arabic, MIN_RUN_PAGES)
    roman_end = n_pages
    if run is not None:
        offset, first, last = run
        for index in range(first, last + 1):
            if index + offset in arabic[index] or (not printed[index] and index + offset > 0):
                labels[index] = str(index + offset)
        roman_end = first
    roman = [[_roman_value(v) or 0 for v in values if not v.isdigit()] for values in printed[:roman_end]]
    roman_run = _run(roman, MIN_ROMAN_PAGES)
    if roman_run is not None:
        offset, first, last = roman_run
        upper = all(v.isupper() for values in printed[first : last + 1] for v in values if not v.isdigit())
        for index in range(first, last + 1):
            if index + offset in roman[index]:
                labels[index] = _roman_text(index + offset, upper)
    return labels


def _run(numbers: Sequence[Sequence[int]], min_pages: int) -> tuple[int, int, int] | None:
    """``(offset, first page, last page)`` of the offset most pages agree on, or ``None`` without a clear one."""
    votes: Counter[int] = Counter()
    for index, values in enumerate(numbers):
        votes.update({value - index for value in values if value > 0})
    printing = sum(1 for values in numbers if any(value > 0 for value in values))
    if not votes:
        return None
    (offset, support), *rest = votes.most_common(2)
    if support < min_pages or support < MIN_AGREEMENT * printing or (rest and rest[0][1] == support):
        return None
    pages = [index for index, values in enumerate(numbers) if index + offset in values]
    return offset, pages[0], pages[-1]


def _roman_value(text: str) -> int | None:
    lowered = text.lower()
    if not lowered or not _ROMAN.match(lowered) or not (text.islower() or text.isupper()):
        return None
    total = 0
    for current, following in zip(lowered, [*lowered[1:], ""]):
        value = _ROMAN_VALUES[current]
        total += -value if following and _ROMAN_VALUES[following] > value else value
    return total


def _roman_text(value: int, upper: bool) -> str:
    parts = ((1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"), (50, "l"), (40, "xl"),
             (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"))
    text = ""
    for amount, symbol in parts:
        while value >= amount:
            text, value = text + symbol, value - amount
    return text.upper() if upper else text


def _clean(label: str) -> str:
    """A PDF label as stored: control characters removed, spaces trimmed, at most :data:`MAX_LABEL_CHARS`."""
    return _CONTROL.sub("", label).strip()[:MAX_LABEL_CHARS]
