"""Folder sync: make a store mirror a folder (new, changed, deleted and renamed files), each write all or nothing.

:class:`FolderSync` plans the sync (:mod:`llama_index_mmrag.ingestion.sync_plan`) and runs it through the store's
own writes (:class:`~llama_index_mmrag.index.DocumentIndex`, under its lock and journal):

- a file moved inside the folder (same name, same content) only gets its record's ``source_path`` updated;
- a renamed file (a new name, the content of a document of the folder whose file is gone) is a move of the
  stored document: its nodes are read back from Milvus, get the new name (and so new chunk ids) and their
  vectors again, and are written under the new name; the old name is deleted first (its entities are then
  embedded once), or after, when its nodes name files the store keeps for that content (images, overflowed
  text), which the delete of the last document of a content removes. Nothing is parsed or described again.
  (With an LLM building the graph, LightRAG keys documents by content hash, so the old name is deleted and the
  file ingested again.) A crash between the two writes leaves the old name gone and the file new (the next sync
  ingests it), or both names (the next sync deletes the old one);
- the documents of files gone from the folder are deleted (the journalled delete of ``mmrag delete``);
- new and changed files go through the ingestion pipeline, one file ahead.

Only documents ingested from the folder are deleted or renamed; a store's other documents are never touched.

Example:
    ``rag.sync`` runs it (``mmrag sync`` and ``mmrag watch`` too); the README's "Keep a folder in sync" runs this:

    >>> rag.sync("notes", show_progress=False).summary()                   # doctest: +SKIP
    'added 1, changed 0, deleted 0, renamed 0, unchanged 0, failed 0 (1 text node(s)) in 0.9 s'
    >>> Path("notes/milvus.txt").rename("notes/lite.txt")                   # doctest: +SKIP
    >>> rag.sync("notes", show_progress=False).renamed                     # doctest: +SKIP
    [('milvus.txt', 'lite.txt')]
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index_mmrag.ingestion.embed import embed_nodes
from llama_index_mmrag.ingestion.report import IngestReport
from llama_index_mmrag.ingestion.sync_plan import FileHashes, SyncPlan, plan_sync
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.inputs import LoadFailure
from llama_index_mmrag.schema import owns_chunk_id, resync_chunk_id

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode

    from llama_index_mmrag.index import DocumentIndex
    from llama_index_mmrag.ingestion.pipeline import DocumentPipeline
    from llama_index_mmrag.manifest import DocRecord

__all__ = ["FolderSync", "SyncReport"]

logger = logging.getLogger(__name__)


@dataclass
class SyncReport(IngestReport):
    """What a sync did: an :class:`~llama_index_mmrag.ingestion.report.IngestReport` (``ingested`` holds the added
    and changed documents, ``unchanged``, ``failures``, ``nodes``, ``seconds``) that also says which were added,
    changed, deleted and renamed.

    Args:
        added: Documents of new files.
        changed: Documents replaced by their file's new content.
        deleted: Documents whose file left the folder.
        renamed: ``(old name, new name)`` of documents whose file was renamed (moved, not parsed again).
        waiting: Files left as they are because they were still being written.

    Example:
        >>> SyncReport(added=["a.txt"], ingested=["a.txt"], deleted=["b.txt"], nodes={"text": 2}).summary()
        'added 1, changed 0, deleted 1, renamed 0, unchanged 0, failed 0 (2 text node(s)) in 0.0 s'
    """

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    renamed: list[tuple[str, str]] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)

    @property
    def wrote(self) -> bool:
        """Whether the sync changed the store (a document added, changed, deleted or renamed)."""
        return bool(self.added or self.changed or self.deleted or self.renamed)

    def summary(self) -> str:
        """One line for humans."""
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.nodes.items())) or "no"
        waiting = f", {len(self.waiting)} still being written" if self.waiting else ""
        return (
            f"added {len(self.added)}, changed {len(self.changed)}, deleted {len(self.deleted)}, "
            f"renamed {len(self.renamed)}, unchanged {len(self.unchanged)}, failed {len(self.failures)}{waiting} "
            f"({counts} node(s)) in {self.seconds:.1f} s"
        )


def _renamed_node(node: BaseNode, doc: str) -> BaseNode:
    """A stored node as the same content under the document name ``doc`` (new chunk id, no vector yet)."""
    moved = node.model_copy(deep=True)
    moved.metadata["doc"] = doc
    if owns_chunk_id(node):
        resync_chunk_id(moved)
    moved.embedding = None
    return moved


def _names_store_files(nodes: Sequence[BaseNode]) -> bool:
    """Whether nodes name files the store keeps for their content (an image, text that overflowed a row): the
    store deletes those with the last document of that content."""
    return any(key.endswith("_path") and value for node in nodes for key, value in node.metadata.items())


class FolderSync:
    """Make a store mirror one folder (see the module docstring); keeps the files' hashes between runs.

    Args:
        pipeline: The store's ingestion pipeline (it writes new and changed files).
        index: The store's document index (lock, journal, writes, deletes).
        folder: The folder to mirror (its subfolders too, hidden files skipped, as ``ingest`` reads a folder).

    Example:
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> sync = FolderSync(rag.pipeline, rag.index, Path("no-such-folder"))
        >>> engine_loop().run(sync.arun())
        Traceback (most recent call last):
        llama_index_mmrag.parsing.errors.ParseError: no-such-folder: does not exist; sync mirrors a folder ...
    """

    def __init__(self, pipeline: DocumentPipeline, index: DocumentIndex, folder: str | Path) -> None:
        self.pipeline = pipeline
        self.index = index
        self.folder = Path(folder)
        self.hashes = FileHashes()
        self._lock = asyncio.Lock()  # one sync of this folder at a time (on the engine loop)

    async def arun(self, skip: Collection[str | Path] = (), show_progress: bool = False) -> SyncReport:
        """Sync the folder now.

        Args:
            skip: Files to leave as they are this time (still being written): neither ingested nor deleted.
            show_progress: Draw the ingest progress bars.

        Raises:
            ParseError: If the folder does not exist or is not a folder (nothing is deleted then).
            StoreBusyError: If another process keeps the store's write lock.
        """
        async with self._lock:
            return await self._arun({Path(p).resolve() for p in skip}, show_progress)

    async def _arun(self, skip: set[Path], show_progress: bool) -> SyncReport:
        from llama_index_mmrag.parsing.inputs import expand_inputs

        started = time.perf_counter()
        if not self.folder.is_dir():
            what = "does not exist" if not self.folder.exists() else "is not a folder"
            raise ParseError(self.folder, f"{what}; sync mirrors a folder into the store: pass an existing folder")
        folder = self.folder.resolve()
        files, skipped = await asyncio.to_thread(expand_inputs, folder)
        store = self.index.storage_dir.resolve()
        # a store kept inside the folder is not a document
        files = [p for p in files if not p.is_relative_to(store)]
        skipped = [f for f in skipped if not f.path.resolve().is_relative_to(store)]
        waiting = [p for p in files if p in skip]
        async with self.index.writing():
            pass  # a write another process left unfinished is resolved, and the manifest re-read, before planning
        plan = await asyncio.to_thread(plan_sync, folder, files, self.index.manifest.docs(), self.hashes, skip)
        report = SyncReport(unchanged=list(plan.unchanged), failures=[*skipped, *plan.failures])
        report.waiting = [p.name for p in waiting]
        again = await self._amove(plan, report)
        await self._adelete(plan.delete, report)
        await self._aingest(plan, again, report, show_progress)
        if report.wrote and not report.ingested:  # an ingest seals its writes itself
            await self.index.aflush()
        report.seconds = time.perf_counter() - started
        return report

    # ---------------------------------------------------------------------------------------------- steps
    async def _amove(self, plan: SyncPlan, report: SyncReport) -> list[Path]:
        """Relocate and rename stored documents; returns the files to ingest instead (their move failed)."""
        again: list[Path] = []
        for record, path in plan.relocate:
            async with self.index.writing():
                current = self.index.manifest.get(record.doc)
                if current is not None and current.doc_id == record.doc_id:
                    self.index.manifest.record(current.model_copy(update={"source_path": str(path)}))
            report.unchanged.append(path.name)
        for record, path in plan.rename:
            try:
                moved = await self._arename(record, path)
            except Exception as exc:  # noqa: BLE001  (reported per file; the rest of the sync goes on)
                logger.warning("renaming %s to %s failed", record.doc, path.name, exc_info=True)
                report.failures.append(LoadFailure(path, f"rename of {record.doc} failed ({type(exc).__name__}: {exc})"))
                continue
            if moved:
                report.renamed.append((record.doc, path.name))
            else:
                again.append(path)
        return again

    async def _arename(self, record: DocRecord, path: Path) -> bool:
        """Move a stored document to the name of ``path``; ``False`` if it must be ingested again instead."""
        if self.index.graph.has_llm:  # LightRAG keys its documents by content hash: delete, then ingest again
            await self._adelete([record], SyncReport())
            return False
        stored = await asyncio.to_thread(self.index.vector_store.get_nodes, node_ids=list(record.node_ids))
        by_id = {n.node_id: n for n in stored}
        if not record.node_ids or set(by_id) != set(record.node_ids):  # not all of it is stored: parse it again
            await self._adelete([record], SyncReport())
            return False
        nodes = [_renamed_node(by_id[i], path.name) for i in record.node_ids]
        await asyncio.to_thread(embed_nodes, self.pipeline.embed_model, nodes)
        renamed = record.model_copy(
            update={"doc": path.name, "node_ids": [n.node_id for n in nodes], "source_path": str(path), "ingested_at": None}
        )
        async with self.index.writing():
            current = self.index.manifest.get(record.doc)
            if current is None or current.doc_id != record.doc_id or self.index.manifest.get(path.name) is not None:
                return False  # another writer changed either name meanwhile: the file is ingested as it is
            if _names_store_files(nodes):  # written first, so the delete keeps the files its content still has
                await self.index.awrite_document(renamed, nodes, None)
                await self.index.adelete_document(current)
            else:  # deleted first: its entities are embedded once, not again when the old name leaves them
                await self.index.adelete_document(current)
                await self.index.awrite_document(renamed, nodes, None)
        return True

    async def _adelete(self, records: Sequence[DocRecord], report: SyncReport) -> None:
        """Delete documents whose file left the folder (each all or nothing, under the lock)."""
        for record in records:
            async with self.index.writing():
                current = self.index.manifest.get(record.doc)
                if current is None or current.doc_id != record.doc_id or current.source_path != record.source_path:
                    continue  # another writer replaced or removed it meanwhile
                await self.index.adelete_document(current)
            report.deleted.append(record.doc)

    async def _aingest(self, plan: SyncPlan, again: list[Path], report: SyncReport, show_progress: bool) -> None:
        """Ingest new and changed files (and renamed ones that could not be moved) through the pipeline."""
        from llama_index_mmrag.ingestion.batch import aingest_files

        paths = [*plan.add, *again, *plan.change]
        if not paths:
            return
        ingested = await aingest_files(self.pipeline, paths, show_progress)
        changed = {p.name for p in plan.change}
        renamed_from = {p.name: old.doc for old, p in plan.rename}
        for name in ingested.ingested:
            if name in changed:
                report.changed.append(name)
            elif name in renamed_from and any(p.name == name for p in again):
                report.renamed.append((renamed_from[name], name))
            else:
                report.added.append(name)
        report.ingested.extend(ingested.ingested)
        report.unchanged.extend(ingested.unchanged)
        planned = set(paths)  # a planned file removed before it was read is gone, not failed: the next sync sees it
        report.failures.extend(f for f in ingested.failures if not (f.path in planned and not f.path.exists()))
        report.nodes = ingested.nodes
