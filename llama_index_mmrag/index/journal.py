"""The write-ahead journal of a store: the pending write, the graph's files it rolls back to, and their last good
copy.

See :mod:`llama_index_mmrag.index` for the protocol.

Example:
    >>> journal = Journal(Path("/tmp/mmrag-doctest-store"), Path("/tmp/mmrag-doctest-store/lightrag"))
    >>> journal.pending() is None
    True
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from llama_index_mmrag.graph.change_log import LOG_SUFFIX
from llama_index_mmrag.graph.file_copies import (
    BEFORE_WRITE,
    JOURNAL,
    LAST_GOOD,
    LOG_LENGTHS,
    PENDING,
    copied_log,
    looks_whole,
    restore_sources,
)
from llama_index_mmrag.manifest import DocRecord, fsync_dir, write_json_atomic

logger = logging.getLogger(__name__)


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

    Example:
        >>> record = DocRecord(doc="report.pdf", doc_id="h1", parser="mmrag", node_ids=["chunk-1", "chunk-2"])
        >>> write = PendingWrite(op="ingest", doc="report.pdf", doc_id="h1", node_ids=record.node_ids, record=record)
        >>> write.stage, write.replaces is None, write.pid == os.getpid()
        ('started', True, True)
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


def _link_or_copy(src: str, dst: str) -> str:
    """``dst`` as a hard link to ``src`` (a copy where the file system has no links)."""
    try:
        os.link(src, dst)
        return dst
    except OSError:
        return _copy_durably(src, dst)


def _is_log(path: Path) -> bool:
    return path.name.endswith(LOG_SUFFIX)


def _same_inode(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _write_durably(path: Path, content: bytes) -> None:
    """``path`` replaced by ``content`` (a temporary file renamed into place, fsynced)."""
    staged = path.with_name(f".copy-{path.name}")
    with open(staged, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staged, path)


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
    """The write-ahead journal of a store: one pending write, the graph's files as they were before it, and the
    last good copy of the graph's files.

    What a document write adds to the journal does not grow with the store: the graph's files before the write
    are kept as hard links (every save replaces a file whole, so a link keeps the version it was made to), and
    the pending record names only the write's own nodes. The last good copy, a real copy, is refreshed by
    :meth:`keep_last_good` once per batch of writes, not after each.

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
        self.folder = storage_dir / JOURNAL
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
        return self.folder / LAST_GOOD

    def restore_sources(self) -> list[Path]:
        """Folders mirroring the graph's working dir that a damaged graph file may be restored from, newest first
        (see :func:`~llama_index_mmrag.graph.file_copies.restore_sources`)."""
        return restore_sources(self.folder)

    def keep_last_good(self) -> None:
        """Keep the graph's files as they are now as the last good copy, to restore a file found damaged later
        (:mod:`llama_index_mmrag.graph.file_storage`). Called with no write pending, under the store lock: at the
        end of a batch of ingests, after a delete and after a recovery.

        Only the files that changed since the last copy are copied (each to a temporary name, then renamed into
        place): a save replaces a file whole, so a file whose size and modification time are those of its copy
        is the copied file. A change log grows by appends until a compaction replaces it: while it is the file
        (inode) last copied, only what was appended since is appended to its copy. The copy is a real copy, not
        a link: damage to a file in place (a writer that truncates, a bad disk block) must not reach it.
        """
        if not self.graph_dir.is_dir():
            return
        self._fold_if_removing()
        good = self.last_good_path
        live = {p.relative_to(self.graph_dir): p for p in self._graph_files(self.graph_dir)}
        logs_seen = self._read_good_logs()
        for relative, path in live.items():
            target = good / relative
            if _is_log(path):
                self._keep_good_log(path, target, logs_seen, relative.as_posix())
                continue
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
        write_json_atomic(self._good_logs_path, {k: v for k, v in logs_seen.items() if Path(k) in live}, tmp_prefix=".good-logs-")

    @property
    def _good_logs_path(self) -> Path:
        """Which log file (inode) and how much of it the last good copy of each change log holds."""
        return self.folder / "graph-good-logs.json"

    def _read_good_logs(self) -> dict[str, list[int]]:
        try:
            seen = json.loads(self._good_logs_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return seen if isinstance(seen, dict) else {}

    @staticmethod
    def _keep_good_log(path: Path, target: Path, seen: dict[str, list[int]], key: str) -> None:
        """Bring the last good copy of the change log ``path`` up to date: append what was appended since the
        last copy where ``path`` is the log copied then, else copy it whole. ``seen[key]`` records the log's
        inode and the length copied."""
        info = path.stat()
        inode, copied = seen.get(key, [None, -1])
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            copy_size = target.stat().st_size
        except OSError:
            copy_size = -2
        if inode == info.st_ino and copied == copy_size <= info.st_size:
            if copied < info.st_size:
                with open(path, "rb") as source, open(target, "ab") as copy:
                    source.seek(copied)
                    copy.write(source.read(info.st_size - copied))
                    copy.flush()
                    os.fsync(copy.fileno())
        else:
            with open(path, "rb") as source:
                _write_durably(target, source.read(info.st_size))
        seen[key] = [info.st_ino, info.st_size]

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
        return self.folder / PENDING

    @property
    def snapshot_path(self) -> Path:
        """The graph's files as they were before the pending write (hard links, see :meth:`begin`)."""
        return self.folder / BEFORE_WRITE

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
        """Keep the graph's files as they are before ``write``, then record it (in that order: a record always has
        its files to roll back to).

        The files are kept as hard links, not copies: the graph's storages replace a file whole when they write
        it whole (a new file renamed over the old one, :mod:`llama_index_mmrag.graph.file_storage`), so a link
        keeps the version it was made to whatever the write saves; a change log grows by appends (a link to it
        sees them), so its length is recorded beside the links, and rolling back cuts it back to that length.
        Beginning a write costs the same in a store of any size. (Where the file system has no hard links, the
        files are copied.)

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
            tree = staging / "tree"
            shutil.copytree(self.graph_dir, tree, copy_function=_link_or_copy)
            lengths = {p.relative_to(tree).as_posix(): p.stat().st_size for p in self._graph_files(tree) if _is_log(p)}
            write_json_atomic(staging / LOG_LENGTHS, lengths, tmp_prefix=".lengths-")
            for folder in (tree, *(p for p in tree.rglob("*") if p.is_dir())):
                fsync_dir(folder)
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
        # file by file, each copied aside and renamed into place (a reader in another process sees each file old
        # or restored, never missing or half-written); a file the write did not replace is left as it is, and a
        # change log still the file it was is cut back to its length before the write (a reader ignores what
        # follows a whole line, and the write was never committed)
        keep = self._graph_files(tree) if tree.is_dir() else []
        kept = {p.relative_to(tree) for p in keep}
        for path in keep:
            relative = path.relative_to(tree)
            target = self.graph_dir / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if _is_log(path):
                content = copied_log(tree, relative)
                if _same_inode(path, target):
                    if target.stat().st_size != len(content):
                        os.truncate(target, len(content))
                        with open(target, "rb+") as handle:
                            os.fsync(handle.fileno())
                    continue
                _write_durably(target, content)
            elif _same_inode(path, target):
                continue
            else:
                staged = target.with_name(f".restore-{target.name}")
                _copy_durably(str(path), str(staged))
                os.replace(staged, target)
            fsync_dir(target.parent)
        for path in self._graph_files(self.graph_dir) if self.graph_dir.is_dir() else []:
            if path.relative_to(self.graph_dir) not in kept:
                path.unlink(missing_ok=True)  # owned: a graph file the rolled-back write created

    def _fold_if_removing(self) -> None:
        """Where the pending write removes a document (a delete, or an ingest replacing a stored version), write
        the graph's files whole and empty their change logs: the logs hold earlier versions of what changed, and
        no text of a removed document may stay in the store."""
        try:
            write = self.pending()
        except RuntimeError:
            return
        if write is not None and (write.op == "delete" or write.replaces is not None):
            from llama_index_mmrag.graph.file_storage import fold_change_logs  # LightRAG: only when folding

            fold_change_logs(self.graph_dir)

    def clear(self) -> None:
        """Forget the pending write (its effects are committed or rolled back). The last good copy is refreshed
        separately (:meth:`keep_last_good`), before this where a write must leave no older copy behind. A write
        that removed a document first has the graph's change logs folded into their files (see
        :meth:`_fold_if_removing`)."""
        self._fold_if_removing()
        self.pending_path.unlink(missing_ok=True)  # owned: <store>/journal/pending.json
        if self.folder.is_dir():
            fsync_dir(self.folder)
        shutil.rmtree(self.snapshot_path, ignore_errors=True)  # owned: <store>/journal/graph-before
        shutil.rmtree(self.folder / "graph-staging", ignore_errors=True)  # owned: <store>/journal/graph-staging
        for leftover in self.folder.glob(".pending-*") if self.folder.is_dir() else ():
            leftover.unlink(missing_ok=True)  # owned: .pending-* temporaries of write_json_atomic in <store>/journal
