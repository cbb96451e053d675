"""Watch a folder and keep a store in sync with it (``mmrag watch``), on ``watchfiles``' file events.

:class:`FolderWatcher` syncs the folder once, then after every batch of file events: the events of a burst (a
copy of 500 files) are grouped (``debounce_ms``), and a file still being written (its size or modification
time changed within ``settle_s``) is left out of that sync and picked up once it has settled. Each sync is a
full :class:`~llama_index_mmrag.ingestion.sync.FolderSync` of the folder (files the events did not name are
recognised by their ``stat``, not read again), so an event missed or merged never leaves the store behind: the
next sync catches up. Queries from other processes keep working meanwhile (readers take no lock).

Example:
    >>> watcher = FolderWatcher("notes", lambda skip: rag.async_("notes", skip=skip, show_progress=False))  # doctest: +SKIP
    >>> watcher.run()   # until Ctrl-C (SIGINT) or SIGTERM                                                 # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llama_index_mmrag.ingestion.sync import SyncReport

__all__ = ["FolderWatcher", "StopSignal", "still_being_written"]

logger = logging.getLogger(__name__)

SyncCall = Callable[[frozenset[Path]], Awaitable["SyncReport"]]
"""Syncs the folder, leaving the given files as they are (``lambda skip: rag.async_(folder, skip=skip)``)."""


class StopSignal(Protocol):
    """Anything with ``is_set()`` (a :class:`threading.Event`): the watcher stops once it is set.

    Example:
        >>> import threading
        >>> from llama_index_mmrag.ingestion.sync import SyncReport
        >>> Path("notes").mkdir()
        >>> syncs = []
        >>> async def sync(skip: frozenset[Path]) -> SyncReport:     # in real use, the facade's folder sync
        ...     syncs.append(sorted(skip))
        ...     return SyncReport()
        >>> stop = threading.Event()
        >>> stop.set()                                 # set before it starts: one sync, then the watcher returns
        >>> asyncio.run(FolderWatcher("notes", sync).arun(stop))
        >>> syncs
        [[]]
    """

    def is_set(self) -> bool:
        """Whether to stop."""


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns


async def still_being_written(paths: Iterable[Path], settle_s: float) -> set[Path]:
    """The files among ``paths`` whose size or modification time changes within ``settle_s`` seconds (or whose
    modification time is more recent than that): files a writer has not finished yet.

    Args:
        paths: Files (missing ones and folders are ignored).
        settle_s: How long a file must stay unchanged.

    Example:
        >>> import tempfile
        >>> done = Path(tempfile.mkdtemp()) / "done.txt"
        >>> _ = done.write_text("written")
        >>> os.utime(done, (time.time() - 60, time.time() - 60))     # last written a minute ago
        >>> asyncio.run(still_being_written([done], settle_s=0.05))
        set()
    """
    files = [p for p in paths if p.is_file()]
    if not files:
        return set()
    before = {p: _stamp(p) for p in files}
    await asyncio.sleep(settle_s)
    now = time.time_ns()
    busy: set[Path] = set()
    for path in files:
        after = _stamp(path)
        if after is None:
            continue  # gone meanwhile: the sync sees it gone
        if after != before[path] or now - after[1] < settle_s * 1e9:
            busy.add(path)
    return busy


def _visible(folder: Path, ignore: Collection[Path]) -> Callable[[Any, str], bool]:
    """watchfiles' default filter (editor swap files, ``.git``, caches), no hidden file or folder (a folder is
    read without them, so their changes need no sync) and nothing under ``ignore`` (the store itself, when it is
    kept inside the watched folder: its own writes must not trigger syncs)."""
    from watchfiles import DefaultFilter

    default = DefaultFilter()

    def keep(change: Any, path: str) -> bool:
        where = Path(path)
        if any(where.is_relative_to(skipped) for skipped in ignore):
            return False
        try:
            parts = where.relative_to(folder).parts
        except ValueError:
            parts = where.parts
        return default(change, path) and not any(part.startswith(".") for part in parts)

    return keep


class FolderWatcher:
    """Keep a store in sync with a folder as its files change.

    Args:
        folder: The folder to watch (and its subfolders).
        sync: Syncs the folder leaving the given files as they are (they are still being written).
        debounce_ms: The longest a batch of events is grouped before a sync (a burst is one sync, or a few).
        settle_s: How long a file's size and modification time must stay unchanged before it is ingested.
        on_report: Called with each sync's report (the command line prints the ones that changed the store).
        ignore: Folders whose changes are not events (the store, when it lives inside the watched folder).

    Example:
        >>> FolderWatcher("notes", sync=lambda skip: rag.async_("notes", skip=skip), debounce_ms=0)
        Traceback (most recent call last):
        ValueError: debounce_ms must be at least 1 (got 0): the events of a burst are grouped over that many milliseconds
    """

    def __init__(
        self,
        folder: str | Path,
        sync: SyncCall,
        *,
        debounce_ms: int = 300,
        settle_s: float = 0.5,
        on_report: Callable[[SyncReport], None] | None = None,
        ignore: Iterable[str | Path] = (),
    ) -> None:
        if debounce_ms < 1:
            raise ValueError(
                f"debounce_ms must be at least 1 (got {debounce_ms}): the events of a burst are grouped over that "
                f"many milliseconds"
            )
        if settle_s < 0:
            raise ValueError(f"settle_s must be 0 or more (got {settle_s}): how long a file must stay unchanged")
        self.folder = Path(folder)
        self.sync = sync
        self.debounce_ms = debounce_ms
        self.settle_s = settle_s
        self.on_report = on_report
        self.ignore = [Path(p).resolve() for p in ignore]
        self._waiting: set[Path] = set()

    async def arun(self, stop: StopSignal | None = None) -> None:
        """Sync once, then after every batch of events, until ``stop`` is set (a sync under way finishes first).

        Args:
            stop: Set it to stop watching (``None``: until cancelled).

        Raises:
            ParseError: If the folder does not exist (from the first sync).
        """
        from watchfiles import awatch

        await self._async_once(set(), first=True)
        folder = self.folder.resolve()
        watching = False
        async for changes in awatch(
            folder, watch_filter=_visible(folder, self.ignore), debounce=self.debounce_ms, step=50, stop_event=stop,
            rust_timeout=1000, yield_on_timeout=True, recursive=True,
        ):
            touched = {Path(path) for _, path in changes}
            if touched or self._waiting or not watching:
                # the first batch (at the latest a timeout of 1 s) comes once the watcher runs: syncing then catches
                # what changed between the first sync's listing and the start of the watch, which no event reports
                await self._async_once(touched | self._waiting)
            watching = True

    async def _async_once(self, touched: Collection[Path], first: bool = False) -> None:
        """One sync, leaving out the touched files that are still being written."""
        busy = await still_being_written(touched, self.settle_s) if touched else set()
        try:
            report = await self.sync(frozenset(busy))
        except Exception as exc:
            if first:
                raise
            # the store is unchanged for the file in flight (each write is all or nothing): try again next time
            logger.warning("syncing %s failed (%s); it is tried again on the next change", self.folder, exc)
            self._waiting = set(touched) or {self.folder.resolve()}  # a folder entry: the next tick syncs again
            return
        self._waiting = busy
        if self.on_report is not None:
            self.on_report(report)

    def run(self) -> None:
        """Watch until Ctrl-C (SIGINT) or SIGTERM, in the main thread: the first signal stops after the sync under
        way, a second one at once (a write cut short is rolled back by the store's journal)."""
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            if stop.is_set():
                raise KeyboardInterrupt
            logger.warning("stopping: the sync under way finishes first (press Ctrl-C again to stop at once)")
            stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            asyncio.run(self.arun(stop))
        except KeyboardInterrupt:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
