"""What a folder sync has to do: compare a folder's files with the documents a store holds from it.

A store may hold documents from several folders (and from single files). A document *belongs* to the synced
folder when the file it was ingested from (its record's ``source_path``) lies inside that folder; only those
are ever deleted or renamed by a sync of it. Documents are keyed by file name, so a file of the folder whose
name is stored from another place that still exists is reported as a conflict, never replaced.

A file whose name is not stored and whose content (hash) is that of a document of the folder whose file is gone
is a *rename*: the stored document moves to the new name without being parsed again.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "new.txt").write_text("Milvus stores vectors.")
    >>> gone = DocRecord(doc="old.txt", doc_id=document_hash(folder / "new.txt"), parser="mmrag",
    ...                  source_path=str(folder / "old.txt"))
    >>> plan = plan_sync(folder, [folder / "new.txt"], [gone], FileHashes())
    >>> [(old.doc, new.name) for old, new in plan.rename], plan.add, plan.delete
    ([('old.txt', 'new.txt')], [], [])
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from llama_index_mmrag.manifest import DocRecord
from llama_index_mmrag.parsing.inputs import LoadFailure
from llama_index_mmrag.parsing.media.transcripts import document_hash, transcript_of

__all__ = ["FileHashes", "SyncPlan", "belongs_to", "plan_sync"]


class FileHashes:
    """Document hashes of files (a recording's with its transcript's), computed again only when a file's (or its
    transcript's) size, times or inode changed.

    A watcher syncs a folder many times; the files it did not touch are then recognised from their ``stat``
    without being read again.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = path.write_text("one")
        >>> hashes = FileHashes()
        >>> hashes.get(path) == document_hash(path)
        True
    """

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[int, ...], str]] = {}

    def get(self, path: Path) -> str:
        """The :func:`~llama_index_mmrag.parsing.media.transcripts.document_hash` of a file (its documents'
        ``doc_id``).

        Args:
            path: The file.

        Raises:
            OSError: If the file cannot be read.
        """
        stamp = _stamp(path)
        transcript = transcript_of(path)
        if transcript is not None:  # a recording is read with its transcript: an edit of either changes it
            try:
                stamp += _stamp(transcript)
            except OSError:
                pass
        known = self._known.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
        digest = document_hash(path)
        self._known[path] = (stamp, digest)
        return digest

    def forget(self, keep: Collection[Path]) -> None:
        """Drop what is known of files other than ``keep`` (those no longer in the folder).

        Args:
            keep: The files to remember.
        """
        for path in set(self._known) - set(keep):
            del self._known[path]


def _stamp(path: Path) -> tuple[int, ...]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


def belongs_to(record: DocRecord, folder: Path) -> bool:
    """Whether a stored document was ingested from a file inside ``folder`` (resolved).

    Args:
        record: The document's record.
        folder: The synced folder, resolved.
    """
    return record.source_path is not None and Path(record.source_path).is_relative_to(folder)


@dataclass
class SyncPlan:
    """The writes that make a store mirror a folder.

    Args:
        add: Files whose name is not stored.
        change: Files of the folder stored at other content.
        delete: Documents of the folder whose file is gone.
        rename: Documents of the folder whose file is gone, each with the new file of the same content.
        relocate: Documents stored at the same content whose file moved (inside the folder, or from a place
            that no longer exists), each with its file now: only the record's ``source_path`` changes.
        unchanged: Names of files stored at their content.
        failures: Files that cannot be synced, each with the reason.

    Example:
        >>> folder = Path("inbox")
        >>> folder.mkdir()
        >>> for name, text in (("faq.txt", "Milvus stores vectors."), ("notes.txt", "Lite runs in one process.")):
        ...     _ = (folder / name).write_text(text)
        >>> stored = DocRecord(doc="faq.txt", doc_id=document_hash(folder / "faq.txt"), parser="mmrag",
        ...                    source_path=str((folder / "faq.txt").resolve()))
        >>> plan = plan_sync(folder.resolve(), sorted(folder.resolve().iterdir()), [stored], FileHashes())
        >>> [path.name for path in plan.add], plan.unchanged, plan.delete, plan.failures
        (['notes.txt'], ['faq.txt'], [], [])
    """

    add: list[Path] = field(default_factory=list)
    change: list[Path] = field(default_factory=list)
    delete: list[DocRecord] = field(default_factory=list)
    rename: list[tuple[DocRecord, Path]] = field(default_factory=list)
    relocate: list[tuple[DocRecord, Path]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)


def _lives_elsewhere(record: DocRecord) -> bool:
    """Whether a document of another place still has its file there (or its place is unknown)."""
    return record.source_path is None or Path(record.source_path).exists()


def _stored_from_elsewhere(record: DocRecord, folder: Path, path: Path) -> bool:
    """Whether the stored document of ``path``'s name was ingested from another file that still exists (not
    from ``path`` itself: a link in the folder to a file outside it is stored from that file)."""
    return not belongs_to(record, folder) and record.source_path != str(path) and _lives_elsewhere(record)


def _elsewhere_reason(record: DocRecord) -> str:
    return (
        f"a document named {record.doc} is already stored from {record.source_path or 'another place'}, which "
        f"still exists, and documents are keyed by file name; rename one of the two files (or delete the stored "
        f"one with `mmrag delete {record.doc}`)"
    )


def plan_sync(
    folder: Path,
    files: Sequence[Path],
    records: Sequence[DocRecord],
    hashes: FileHashes,
    skip: Collection[Path] = (),
) -> SyncPlan:
    """Compare a folder's files with the store's records and say what to write.

    Args:
        folder: The synced folder, resolved.
        files: Its files (resolved, names unique), as :func:`~llama_index_mmrag.parsing.inputs.expand_inputs`
            lists them.
        records: Every document the store holds.
        hashes: The content hashes known from earlier syncs.
        skip: Files left as they are this time (still being written): neither ingested nor deleted.

    Returns:
        The plan; a file that cannot be read is a failure, and its stored document is kept.
    """
    plan = SyncPlan()
    by_name = {r.doc: r for r in records}
    listed = {path.name for path in files} | {Path(p).name for p in skip}
    new: list[tuple[Path, str]] = []
    for path in files:
        if path in skip:
            continue
        record = by_name.get(path.name)
        if record is not None and _stored_from_elsewhere(record, folder, path):
            plan.failures.append(LoadFailure(path, _elsewhere_reason(record)))
            continue
        try:
            digest = hashes.get(path)
        except FileNotFoundError:  # removed since the folder was listed: it is gone, as if never listed
            listed.discard(path.name)
            continue
        except OSError as exc:
            plan.failures.append(LoadFailure(path, f"cannot be read ({exc.strerror or exc}); check its permissions"))
            continue
        if record is None:
            new.append((path, digest))
        elif record.doc_id != digest:
            plan.change.append(path)
        elif record.source_path != str(path):
            plan.relocate.append((record, path))
        else:
            plan.unchanged.append(path.name)
    gone = [r for r in records if belongs_to(r, folder) and r.doc not in listed]
    by_content: dict[str, list[DocRecord]] = {}
    for record in gone:
        by_content.setdefault(record.doc_id, []).append(record)
    for path, digest in new:
        same = by_content.get(digest)
        if same:
            plan.rename.append((same.pop(0), path))
        else:
            plan.add.append(path)
    renamed = {old.doc for old, _ in plan.rename}
    plan.delete = [r for r in gone if r.doc not in renamed]
    hashes.forget(files)
    return plan
