"""StoreLock: one writer per store across processes (``flock`` on ``<store>/write.lock``).

The kernel releases the lock when its holder dies, so a crashed writer never blocks the next one.

Example:
    >>> from pathlib import Path
    >>> lock = StoreLock(Path("/tmp/mmrag-doctest.lock"))
    >>> lock.try_acquire(), lock.held
    (True, True)
    >>> lock.release()
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from llama_index_mmrag.errors import StoreError

logger = logging.getLogger(__name__)


class StoreBusyError(StoreError, RuntimeError):
    """Another process is writing to the store and did not finish within the wait.

    Example:
        >>> writer = StoreLock(Path("write.lock"))  # held by another ingest or delete
        >>> writer.try_acquire()
        True
        >>> try:
        ...     asyncio.run(StoreLock(Path("write.lock")).acquire(timeout=0.1))
        ... except StoreBusyError as exc:
        ...     print(exc)
        the store lock write.lock is held by process ... (another ingest or delete); wait for it to finish, ...
        >>> writer.release()
    """


class StoreLock:
    """An exclusive, inter-process writer lock on a store (``flock`` on a lock file).

    The kernel drops the lock when the holding process exits or is killed. Where ``fcntl`` is missing
    (Windows) the lock is a no-op and one writer per store is the caller's responsibility.

    Args:
        path: The lock file (created if needed).

    Example:
        >>> lock = StoreLock(Path("/tmp/mmrag-doctest.lock"))
        >>> lock.try_acquire(), lock.held
        (True, True)
        >>> lock.release()
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never blocks.

        Returns:
            True if the lock is now held by this object.
        """
        if self._fd is not None:
            return True
        try:
            import fcntl
        except ImportError:  # Windows: no flock
            self._fd = -1
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        _HELD_LOCK_FDS.add(fd)
        return True

    def holder(self) -> str:
        """The pid written by the current holder, or ``"unknown"``."""
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    async def acquire(self, timeout: float = 600.0, poll: float = 0.05) -> None:
        """Wait (without blocking the event loop) until the lock is free, then take it.

        Args:
            timeout: Seconds to wait before giving up.
            poll: Seconds between attempts.

        Raises:
            StoreBusyError: If another process still holds the lock after ``timeout``.
        """
        deadline = time.monotonic() + timeout
        waiting = False
        while not self.try_acquire():
            if not waiting:
                waiting = True
                logger.warning(
                    "waiting for process %s to finish writing the store %s (another ingest or delete); "
                    "this one goes on when it is done",
                    self.holder(), self.path.parent,
                )
            if time.monotonic() > deadline:
                raise StoreBusyError(
                    f"the store lock {self.path} is held by process {self.holder()} (another ingest or delete); "
                    f"wait for it to finish, or stop it, and try again"
                )
            await asyncio.sleep(poll)

    def release(self) -> None:
        """Release the lock (a no-op when not held)."""
        fd, self._fd = self._fd, None
        if fd is None or fd < 0:
            return
        import fcntl

        _HELD_LOCK_FDS.discard(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


_HELD_LOCK_FDS: set[int] = set()


def _close_locks_in_child() -> None:
    """A forked child (a parser worker) must not keep the parent's write lock alive after the parent dies: it
    closes its copies of the lock descriptors (never unlocks them, which would release the parent's lock)."""
    for fd in list(_HELD_LOCK_FDS):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD_LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_locks_in_child)
