"""Which store folder each LightRAG workspace's in-process memory belongs to.

LightRAG keeps the key-value stores of a workspace (chunks, documents, per-entity chunk lists) in memory that
every instance of that workspace in a process shares, and reads them from the files only once per process.
A store's workspace is a recorded id, not its path (:class:`~llama_index_mmrag.manifest.StoreIdentity`), so
a store and a copy of it have the same one. This registry keeps them apart in one process:

- a store opened after a copy of it was closed in this process makes LightRAG re-read its own files (the
  memory holds the other folder's data);
- a store opened while a copy of it is open in this process is refused with a clear error (one memory cannot
  hold two folders' data, and writing either would write the other's into its files).

Example:
    >>> class Owner: ...
    >>> a, b = Owner(), Owner()
    >>> claim_workspace("mmrag_doctest", Path("/stores/a"), a)      # first use in this process: nothing to reload
    False
    >>> release_workspace("mmrag_doctest", a)
    >>> claim_workspace("mmrag_doctest", Path("/stores/b"), b)      # a copy, after the original was closed
    True
    >>> release_workspace("mmrag_doctest", b)
"""

from __future__ import annotations

import threading
import weakref
from pathlib import Path

from llama_index_mmrag.errors import StoreError

__all__ = ["WorkspaceInUseError", "claim_workspace", "release_workspace"]

_lock = threading.Lock()
_users: dict[str, tuple[Path, weakref.WeakSet[object]]] = {}
"""Workspace -> the folder its open users read, and those users (stores not closed yet)."""
_loaded_from: dict[str, Path] = {}
"""Workspace -> the folder whose files LightRAG's memory of it was last read from, in this process."""


class WorkspaceInUseError(StoreError, RuntimeError):
    """A copy of the store, with the same graph workspace, is open in this process.

    Example:
        >>> class Opened: ...
        >>> original, copy = Opened(), Opened()
        >>> claim_workspace("demo-workspace", Path("/stores/original"), original)
        False
        >>> try:  # what opening a copy of an open store meets
        ...     claim_workspace("demo-workspace", Path("/stores/copy"), copy)
        ... except WorkspaceInUseError as exc:
        ...     print(exc)
        the store /stores/copy has the same graph workspace (demo-workspace) as the store /stores/original, ...
        >>> release_workspace("demo-workspace", original)
    """


def claim_workspace(workspace: str, folder: Path, user: object) -> bool:
    """Record that ``user`` opens LightRAG's workspace ``workspace`` for the store in ``folder``.

    Args:
        workspace: The store's graph workspace.
        folder: The store's folder (resolved).
        user: The object that opens it (held weakly: one dropped without closing stops counting).

    Returns:
        Whether LightRAG's memory of this workspace holds another folder's data, so the store must re-read
        its own files once its storages are initialised.

    Raises:
        WorkspaceInUseError: If a store in another folder with the same workspace (a copy) is open here.
    """
    with _lock:
        held = _users.get(workspace)
        if held is not None and held[0] != folder and len(held[1]):
            raise WorkspaceInUseError(
                f"the store {folder} has the same graph workspace ({workspace}) as the store {held[0]}, which is "
                f"open in this process: one is a copy of the other. Close the open one first (rag.close()), or "
                f"open this one in another process"
            )
        if held is None or held[0] != folder:
            held = (folder, weakref.WeakSet())
            _users[workspace] = held
        held[1].add(user)
        stale = _loaded_from.get(workspace, folder) != folder
        _loaded_from[workspace] = folder
        return stale


def release_workspace(workspace: str, user: object) -> None:
    """Record that ``user`` closed its store (LightRAG's memory of the workspace stays, marked as its folder's).

    Args:
        workspace: The store's graph workspace.
        user: The object that claimed it.
    """
    with _lock:
        held = _users.get(workspace)
        if held is not None:
            held[1].discard(user)
