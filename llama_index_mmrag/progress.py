"""Progress within a file: the parser reports each page it finishes, the embedding each page embedded, the
graph each batch of vectors written, to a bar the ingest opened.

The bar travels in a context variable, so the code that does the work (several calls below, in a worker thread
or an asyncio task) needs no argument for it, and work with no bar open reports to nobody. The bar is drawn
from the first report on (when the total is known), so a file read without page reports (text, an image)
draws none.

Example:
    >>> with progress_bar("parse report.pdf", enabled=False) as bar:
    ...     report_progress(done=0, total=3)
    ...     report_progress(done=3)
    >>> bar.done, bar.total
    (3, 3)
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextvars import ContextVar

from tqdm.auto import tqdm


class ProgressBar:
    """A counter (of pages, vectors, ...) drawn as a ``tqdm`` bar once it knows its total.

    Args:
        desc: What is counted (e.g. ``"parse report.pdf"``).
        enabled: ``False`` counts without drawing.
        unit: What one step is (``"page"``, ``"vector"``).

    Example:
        >>> bar = ProgressBar("parse report.pdf", enabled=False)   # counts without drawing
        >>> bar.update(1, total=4)
        >>> bar.advance(2)
        >>> bar.done, bar.total
        (3, 4)
    """

    def __init__(self, desc: str, enabled: bool = True, unit: str = "page") -> None:
        self.desc = desc[:48]
        self.enabled = enabled
        self.unit = unit
        self.done = 0
        self.total: int | None = None
        self._bar: tqdm | None = None
        self._lock = threading.Lock()  # the parser reports from a worker thread

    def update(self, done: int, total: int | None = None) -> None:
        """Record ``done`` steps finished (of ``total``, when given) and redraw.

        Args:
            done: Steps finished so far.
            total: Steps in all, if known.
        """
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if not self.enabled or self.total is None:
                return
            if self._bar is None:
                self._bar = tqdm(total=self.total, desc=self.desc, unit=self.unit, leave=False)
            elif self._bar.total != self.total:
                self._bar.reset(total=self.total)  # reset, not an assignment: a notebook bar resizes its widget
            self._bar.n = done
            self._bar.refresh()  # each step is drawn: steps are slow enough that this costs nothing

    def advance(self, steps: int) -> None:
        """Record ``steps`` more steps finished and redraw.

        Args:
            steps: Steps finished since the last report.
        """
        with self._lock:
            done = self.done + steps
        self.update(done)

    def close(self) -> None:
        """Remove the bar."""
        with self._lock:
            if self._bar is not None:
                self._bar.close()
                self._bar = None


_BAR: ContextVar[ProgressBar | None] = ContextVar("mmrag_progress_bar", default=None)


@contextlib.contextmanager
def progress_bar(desc: str, enabled: bool = True, unit: str = "page") -> Iterator[ProgressBar]:
    """Open a bar that :func:`report_progress` updates, in this context and the threads and tasks it starts.

    Args:
        desc: What is counted (e.g. ``"embed report.pdf"``).
        enabled: ``False`` draws nothing (the bar still counts).
        unit: What one step is (``"page"``, ``"vector"``).

    Example:
        >>> with progress_bar("graph report.pdf", enabled=False, unit="vector") as bar:
        ...     report_progress(done=0, total=40)
        ...     advance_progress(16)
        >>> bar.done, bar.total
        (16, 40)
    """
    bar = ProgressBar(desc, enabled, unit)
    token = _BAR.set(bar)
    try:
        yield bar
    finally:
        _BAR.reset(token)
        bar.close()


def report_progress(done: int, total: int | None = None) -> None:
    """Tell the open bar, if any, that ``done`` steps (of ``total``) are finished.

    Args:
        done: Steps finished so far.
        total: Steps in all, if known.
    """
    bar = _BAR.get()
    if bar is not None:
        bar.update(done, total)


def advance_progress(steps: int) -> None:
    """Tell the open bar, if any, that ``steps`` more steps are finished.

    Args:
        steps: Steps finished since the last report.
    """
    bar = _BAR.get()
    if bar is not None:
        bar.advance(steps)
