"""One process at a time creates a store's collections.

Two processes opening a new store at the same moment (two ``mmrag ingest`` started together) would both find its
collections missing and both create them; Milvus Lite then fails the second creation ("File exists"). Creating
(or opening) the collections under an exclusive ``flock`` on ``<store>/collections.lock`` makes the second process
find what the first created. The lock is held for the creation only, never while a store is in use.

Example:
    >>> with creating_collections(Path("/tmp/mmrag-doctest-store")):
    ...     pass
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["creating_collections"]

_IN_PROCESS = threading.Lock()  # flock on two descriptors of one process would block itself: one at a time here


@contextmanager
def creating_collections(storage_dir: Path) -> Iterator[None]:
    """Hold the store's collection-creation lock (exclusive across processes) for the ``with`` block.

    Args:
        storage_dir: The store's folder (created if needed).
    """
    try:
        import fcntl
    except ImportError:  # Windows: one process per store is the caller's rule there
        yield
        return
    storage_dir.mkdir(parents=True, exist_ok=True)
    with _IN_PROCESS:
        fd = os.open(storage_dir / "collections.lock", os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing drops the flock
