"""Stores built once and copied: a test that starts from a store someone already built copies its folder instead
of ingesting the same files again.

A copy is taken of a *closed* store: :func:`wait_until_closed` waits until its local Milvus Lite server has let go
of the database (the server stops a few seconds after its last user, see ``MMRAG_LITE_IDLE_S``). A copy keeps the
store's graph workspace, so a copy and its original (or two copies) cannot be open in one process at once
(``WorkspaceInUseError``): each test opens one copy at a time.
"""

from __future__ import annotations

import fcntl
import shutil
import time
from pathlib import Path

__all__ = ["copy_store", "wait_until_closed"]


def wait_until_closed(store: Path, timeout_s: float = 300) -> None:
    """Wait until no process has the store's Milvus Lite database open (Milvus Lite holds a ``flock`` on
    ``milvus.db/LOCK`` while it does).

    Args:
        store: The store's folder.
        timeout_s: A ceiling for a busy machine, never a timing claim.

    Raises:
        TimeoutError: If the database is still open after ``timeout_s``.
    """
    lock = store / "milvus.db" / "LOCK"
    deadline = time.monotonic() + timeout_s
    with lock.open("a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the Milvus Lite database of {store} is still open") from None
                time.sleep(0.1)
                continue
            fcntl.flock(handle, fcntl.LOCK_UN)
            return


def copy_store(store: Path, to: Path) -> Path:
    """Copy a closed store's folder to ``to`` (which must not exist) and return ``to``.

    Args:
        store: The store's folder, closed (see :func:`wait_until_closed`).
        to: Where the copy goes.
    """
    assert not (store / "milvus.db.serve.json").exists(), f"the store {store} is still served: close it first"
    shutil.copytree(store, to)
    return to
