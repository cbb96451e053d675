"""Page progress within a file: the parser reports each page it finishes to a bar the ingest opened.

The bar travels in a context variable, so the parser (several calls below, in a worker thread) needs no
argument for it, and a parse with no bar open reports to nobody. The bar is drawn from the first report on
(when the number of pages is known), so a file read without page reports (text, an image) draws none.

Example:
    >>> with page_bar("parse report.pdf", enabled=False) as bar:
    ...     report_pages(done=0, total=3)
    ...     report_pages(done=3)
    >>> bar.done, bar.total
    (3, 3)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from tqdm.auto import tqdm


class PageBar:
    """A page counter drawn as a ``tqdm`` bar once it knows the number of pages.

    Args:
        desc: What the pages belong to (e.g. ``"parse report.pdf"``).
        enabled: ``False`` counts without drawing.
    """

    def __init__(self, desc: str, enabled: bool = True) -> None:
        self.desc = desc[:48]
        self.enabled = enabled
        self.done = 0
        self.total: int | None = None
        self._bar: tqdm | None = None
        self._lock = threading.Lock()  # the parser reports from a worker thread

    def update(self, done: int, total: int | None = None) -> None:
        """Record ``done`` pages finished (of ``total``, when given) and redraw.

        Args:
            done: Pages finished so far.
            total: Pages in the file, if known.
        """
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if not self.enabled or self.total is None:
                return
            if self._bar is None:
                self._bar = tqdm(total=self.total, desc=self.desc, unit="page", leave=False)
            elif self._bar.total != self.total:
                self._bar.reset(total=self.total)  # reset, not an assignment: a notebook bar resizes its widget
            self._bar.n = done
            self._bar.refresh()  # each page is drawn: pages are slow enough that this costs nothing

    def close(self) -> None:
        """Remove the bar."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


_BAR: ContextVar[PageBar | None] = ContextVar("mmrag_page_bar", default=None)


@contextlib.contextmanager
def page_bar(desc: str, enabled: bool = True) -> Iterator[PageBar]:
    """Open a page bar that :func:`report_pages` updates, in this context and the threads it starts.

    Args:
        desc: What the pages belong to (e.g. ``"embed report.pdf"``).
        enabled: ``False`` draws nothing (the bar still counts).

    Example:
        >>> with page_bar("embed report.pdf", enabled=False) as bar:
        ...     report_pages(done=2, total=2)
        >>> bar.done
        2
    """
    bar = PageBar(desc, enabled)
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
    if bar is not None:
        bar.update(done, total)
