"""Page progress within a file: the parser reports each page it finishes to a bar the ingest opened.

The bar travels in a context variable, so the parser (several calls below, in a worker thread) needs no
argument for it, and a parse with no bar open reports to nobody.

Example:
    >>> with page_bar("report.pdf", enabled=False):
    ...     report_pages(done=1, total=3)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from tqdm.auto import tqdm

_BAR: ContextVar[tqdm | None] = ContextVar("mmrag_page_bar", default=None)


@contextlib.contextmanager
def page_bar(desc: str, total: int | None = None, enabled: bool = True) -> Iterator[tqdm]:
    """Open a page bar that :func:`report_pages` updates, in this context and the threads it starts.

    Args:
        desc: What the pages belong to (e.g. ``"parse report.pdf"``).
        total: Pages, when known now (the parser reports it otherwise).
        enabled: ``False`` draws nothing (the bar still counts).

    Example:
        >>> with page_bar("embed report.pdf", total=2, enabled=False) as bar:
        ...     report_pages(done=2)
        >>> bar.n
        2
    """
    bar = tqdm(total=total, desc=desc[:48], unit="page", leave=False, disable=not enabled)
    token = _BAR.set(bar)
    try:
        yield bar
    finally:
        _BAR.reset(token)
        bar.close()


def report_pages(done: int, total: int | None = None) -> None:
    """Tell the open page bar, if any, that ``done`` pages (of ``total``) are finished.

    Args:
        done: Pages finished so far.
        total: Pages in the file, if known.
    """
    bar = _BAR.get()
    if bar is None:
        return
    if total is not None and bar.total != total:
        bar.reset(total=total)  # reset, not an assignment: a notebook bar resizes its widget there
    bar.n = done
    bar.refresh()  # each page is drawn: pages are slow enough that this costs nothing
