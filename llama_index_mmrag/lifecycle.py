"""Lifecycle of a store: all-or-nothing document writes, crash recovery, and one writer at a time.

Every write of a document (ingest, replace, delete) goes through a write-ahead journal in
``<storage_dir>/journal``:

1. the graph's files (LightRAG's working dir: GraphML and JSON key-value stores) are copied aside (a file
   unchanged since the last good copy, see 4, is linked to that copy instead);
2. a *pending* record (operation, document, content hash, node ids, the manifest record to commit) is written
   atomically;
3. the stores are written: an ingest upserts its Milvus rows, then updates the graph (a replaced version's
   contribution out, the new one in); a delete updates the graph. After the graph part the record is marked
   ``graph_done``, and only then are rows removed from Milvus (a delete's, or those only the replaced version
   had);
4. the manifest is written (the commit point), then the journal is cleared, after copying the graph's files
   that changed to ``journal/graph-good``: the last good copy a graph file found damaged on load is restored
   from (:mod:`llama_index_mmrag.graph.file_storage`; its storages save every file atomically, so only damage
   from outside, a truncating writer or a bad disk, needs it).

A pending record found later (after ``kill -9``, a power cut, an exception) is resolved before anything else
writes to the store. Before ``graph_done`` the write is **rolled back**: the graph's files are restored from the
copy, the live LightRAG instance re-reads them, LightRAG's vector collections are reconciled with the restored
graph, and (ingest) the rows only the new version has are deleted from Milvus, so a replaced version is intact
again. From ``graph_done`` on it is **rolled forward**: the rows to remove are removed and the manifest is
written. Either way the store ends as if the write had never started, or had completed.

Writers are serialised across processes by an exclusive ``flock`` on ``<storage_dir>/write.lock`` (released by
the kernel when its holder dies, so a crashed writer never blocks the next one), and recovery only runs while
holding it: a journal being written by a live process is never mistaken for a crash.

Example:
    >>> journal = Journal(Path("/tmp/mmrag-doctest-store"), Path("/tmp/mmrag-doctest-store/lightrag"))
    >>> journal.pending() is None
    True
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from llama_index_mmrag.manifest import DocRecord, fsync_dir, write_json_atomic

logger = logging.getLogger(__name__)

CRASH_ENV = "MMRAG_TEST_CRASH_AT"
"""Test hook: ``<point>`` or ``<point>:<n>`` makes the process SIGKILL itself at the n-th pass of that point."""
CRASH_POINTS = (
    "after_journal",
    "mid_vectors",
    "after_vectors",
    "after_graph",
    "after_manifest",
    "delete_after_graph",
)
"""The points :func:`crash_point` is called at, in write order."""

_crash_counts: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here when :data:`CRASH_ENV` names this point (a test hook; a no-op
    otherwise).

    Args:
        name: One of :data:`CRASH_POINTS`.

    Example:
        >>> crash_point("after_vectors")   # MMRAG_TEST_CRASH_AT unset: nothing happens
    """
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] += 1
    if _crash_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


class StoreBusyError(RuntimeError):
    """Another process is writing to the store and did not finish within the wait."""


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


class PendingWrite(BaseModel):
    """The write-ahead record of one document write in flight.

    Args:
        op: ``"ingest"`` (add or replace) or ``"delete"``.
        doc: The document's name.
        doc_id: Its content hash.
        node_ids: Ids of the nodes written (ingest) or removed (delete), in Milvus and in the graph.
        record: The manifest record to commit (ingest) or being removed (delete).
        replaces: The stored version an ingest replaces (a changed file), if any.
        replaced_ids: That version's node ids (removed from Milvus once the new version's graph is in).
        stage: ``"started"`` (roll back on recovery) or ``"graph_done"`` (roll forward).
        started_at: Unix time the write began.
        pid: The writing process.
    """

    op: Literal["ingest", "delete"]
    doc: str
    doc_id: str
    node_ids: list[str] = Field(default_factory=list)
    record: DocRecord
    replaces: DocRecord | None = None
    replaced_ids: list[str] = Field(default_factory=list)
    stage: Literal["started", "graph_done"] = "started"
    started_at: float = Field(default_factory=time.time)
    pid: int = Field(default_factory=os.getpid)


def _copy_durably(src: str, dst: str) -> str:
    shutil.copy2(src, dst)
    with open(dst, "rb") as handle:
        os.fsync(handle.fileno())
    return dst


def looks_whole(path: Path) -> bool:
    """Whether a graph file ends as a whole one does (GraphML with its closing tag, JSON with its closing
    bracket): a cheap check against a file cut short (before it becomes the last good copy, when it is loaded).

    Args:
        path: A GraphML or JSON file of the graph (other files are taken as whole).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - 64))
            tail = handle.read().rstrip()
    except OSError:
        return False
    if path.suffix == ".graphml":
        return tail.endswith(b"</graphml>")
    if path.suffix == ".json":
        return tail.endswith((b"}", b"]"))
    return True


def _same_file_version(path: Path, copy: Path) -> bool:
    """Whether ``copy`` (made with :func:`_copy_durably`, which keeps the modification time) is a copy of the
    current version of ``path``: the graph's files are replaced whole on every save, so a new version has a new
    modification time."""
    try:
        a, b = path.stat(), copy.stat()
    except OSError:
        return False
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


class Journal:
    """The write-ahead journal of a store: one pending write and a copy of the graph's files taken before it.

    Args:
        storage_dir: The store.
        graph_dir: LightRAG's working dir (its file-backed storages are copied and restored).

    Example:
        >>> journal = Journal(Path("/tmp/mmrag-doctest-j"), Path("/tmp/mmrag-doctest-j/lightrag"))
        >>> write = PendingWrite(op="ingest", doc="a.txt", doc_id="h", node_ids=["chunk-1"],
        ...                      record=DocRecord(doc="a.txt", doc_id="h", parser="mmrag"))
        >>> journal.begin(write); journal.pending().doc
        'a.txt'
        >>> journal.clear(); journal.pending() is None
        True
    """

    def __init__(self, storage_dir: Path, graph_dir: Path) -> None:
        self.folder = storage_dir / "journal"
        self.graph_dir = graph_dir

    @classmethod
    def from_folder(cls, folder: Path) -> Journal:
        """The journal whose folder is ``folder`` (``<store>/journal``; the graph is ``<store>/lightrag``).

        Args:
            folder: The journal's folder.
        """
        return cls(folder.parent, folder.parent / "lightrag")

    @property
    def last_good_path(self) -> Path:
        """The graph's files as of the last committed write (see :meth:`keep_last_good`)."""
        return self.folder / "graph-good"

    def restore_sources(self) -> list[Path]:
        """Folders mirroring the graph's working dir that a damaged graph file may be restored from, best first:
        the last committed copy, then the copy taken before a pending write."""
        sources = [self.last_good_path]
        if self.pending_path.exists():
            sources.append(self.snapshot_path / "tree")
        return [s for s in sources if s.is_dir()]

    def keep_last_good(self) -> None:
        """Keep the graph's files as they are now as the last good copy (when a write is committed or rolled
        back), to restore a file found damaged later (:mod:`llama_index_mmrag.graph.file_storage`).

        Only the files that changed since the last copy are copied (each to a temporary name, then renamed into
        place): a save replaces a file whole, so a file whose size and modification time are those of its copy
        is the copied file. The copy is a real copy, not a link: damage to a file in place (a writer that
        truncates, a bad disk block) must not reach it.
        """
        if not self.graph_dir.is_dir():
            return
        good = self.last_good_path
        live = {p.relative_to(self.graph_dir): p for p in self._graph_files(self.graph_dir)}
        for relative, path in live.items():
            target = good / relative
            if _same_file_version(path, target):
                continue
            if not looks_whole(path):  # damaged in place since it was saved: keep the good copy it has
                logger.warning("the store file %s looks damaged; its last good copy is kept", path)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(f".copy-{target.name}")
            _copy_durably(str(path), str(staged))
            os.replace(staged, target)
        for path in self._graph_files(good) if good.is_dir() else []:
            if path.relative_to(good) not in live:
                path.unlink(missing_ok=True)  # owned: the copy of a graph file that no longer exists
        for folder in {(good / r).parent for r in live}:
            fsync_dir(folder)

    @staticmethod
    def _graph_files(root: Path) -> list[Path]:
        """The graph's files under ``root`` (no temporaries of an unfinished save, no kept damaged copies)."""
        return sorted(
            p for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".damaged")
        )

    @property
    def pending_path(self) -> Path:
        """The pending record's file."""
        return self.folder / "pending.json"

    @property
    def snapshot_path(self) -> Path:
        """The copy of the graph's files taken before the pending write."""
        return self.folder / "graph-before"

    def pending(self) -> PendingWrite | None:
        """The write in flight (or interrupted), if any.

        Raises:
            RuntimeError: If the record exists but cannot be read (it is written atomically, so only outside
                tampering does this).
        """
        try:
            text = self.pending_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return PendingWrite.model_validate_json(text)
        except ValueError as exc:
            raise RuntimeError(
                f"the store's write journal {self.pending_path} is unreadable ({exc}); move it away to open the "
                f"store, then check the last ingested document with `mmrag stats --doc NAME`"
            ) from exc

    def begin(self, write: PendingWrite) -> None:
        """Copy the graph's files aside, then record the write (in that order: a record always has its copy).

        Args:
            write: The write about to start.

        Raises:
            RuntimeError: If another write is still pending (resolve it first).
        """
        if self.pending_path.exists():
            raise RuntimeError(f"a write is already pending in {self.folder}; recover the store before writing")
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = self.folder / "graph-staging"
        shutil.rmtree(staging, ignore_errors=True)  # owned: <store>/journal/graph-staging, the journal's own
        shutil.rmtree(self.snapshot_path, ignore_errors=True)  # owned: <store>/journal/graph-before, the journal's own
        staging.mkdir()
        if self.graph_dir.is_dir():
            # a file unchanged since the last good copy is linked to that copy (never written in place) instead
            # of being copied again: only what the last write changed is copied twice
            def copy_or_link(src: str, dst: str) -> str:
                good = self.last_good_path / Path(src).relative_to(self.graph_dir)
                if _same_file_version(Path(src), good):
                    try:
                        os.link(good, dst)
                        return dst
                    except OSError:
                        pass
                return _copy_durably(src, dst)

            shutil.copytree(self.graph_dir, staging / "tree", copy_function=copy_or_link)
        fsync_dir(staging)
        os.replace(staging, self.snapshot_path)
        write_json_atomic(self.pending_path, write.model_dump(mode="json"), tmp_prefix=".pending-")

    def mark_graph_done(self, write: PendingWrite) -> PendingWrite:
        """Record that the graph part of ``write`` is complete (recovery then rolls forward).

        Args:
            write: The pending write.
        """
        done = write.model_copy(update={"stage": "graph_done"})
        write_json_atomic(self.pending_path, done.model_dump(mode="json"), tmp_prefix=".pending-")
        return done

    def restore_graph(self) -> None:
        """Put the graph's files back as they were before the pending write.

        Raises:
            RuntimeError: If the copy is missing.
        """
        if not self.snapshot_path.is_dir():
            raise RuntimeError(
                f"the graph copy {self.snapshot_path} of the interrupted write is missing; the graph cannot be "
                f"rolled back: rebuild the store"
            )
        tree = self.snapshot_path / "tree"
        # file by file, each copied aside and renamed into place: a reader in another process sees each file
        # old or restored, never missing or half-written
        keep = self._graph_files(tree) if tree.is_dir() else []
        kept = {p.relative_to(tree) for p in keep}
        for path in keep:
            target = self.graph_dir / path.relative_to(tree)
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(f".restore-{target.name}")
            _copy_durably(str(path), str(staged))
            os.replace(staged, target)
            fsync_dir(target.parent)
        for path in self._graph_files(self.graph_dir) if self.graph_dir.is_dir() else []:
            if path.relative_to(self.graph_dir) not in kept:
                path.unlink(missing_ok=True)  # owned: a graph file the rolled-back write created

    def clear(self) -> None:
        """Forget the pending write (its effects are committed or rolled back), keeping the graph's files as the
        last good copy first (a crash in between leaves the write pending: recovery resolves it and copies again)."""
        self.keep_last_good()
        self.pending_path.unlink(missing_ok=True)  # owned: <store>/journal/pending.json
        if self.folder.is_dir():
            fsync_dir(self.folder)
        shutil.rmtree(self.snapshot_path, ignore_errors=True)  # owned: <store>/journal/graph-before
        shutil.rmtree(self.folder / "graph-staging", ignore_errors=True)  # owned: <store>/journal/graph-staging
        for leftover in self.folder.glob(".pending-*") if self.folder.is_dir() else ():
            leftover.unlink(missing_ok=True)  # owned: .pending-* temporaries of write_json_atomic in <store>/journal
