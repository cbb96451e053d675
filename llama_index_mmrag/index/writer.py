"""DocumentIndex: the write steps of the protocol (:mod:`llama_index_mmrag.index`), over Milvus, the graph and the
manifest, under the journal and the store lock.

Example:
    >>> rag.index.journal.pending() is None, rag.index.lock.held   # no write in flight, none holding the lock
    (True, False)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from llama_index_mmrag.index.crash import crash_point
from llama_index_mmrag.index.journal import Journal, PendingWrite
from llama_index_mmrag.index.lock import StoreLock
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.stats import doc_node_ids
from llama_index_mmrag.stores.milvus import Rows, delete_ids, flush_collections

if TYPE_CHECKING:
    from llama_index.core.schema import BaseNode
    from llama_index.core.vector_stores.types import MetadataFilters

    from llama_index_mmrag.graph.store import GraphStore

logger = logging.getLogger(__name__)


class NodeRows(Rows, Protocol):
    """Rows that documents are written to: the nodes' collection, which also adds nodes and reads them back (a
    LlamaIndex ``MilvusVectorStore`` is one).

    Example:
        >>> ids = rag.manifest.get("milvus_faq.txt").node_ids[:1]
        >>> [node.metadata["doc"] for node in rag.vector_store.get_nodes(node_ids=ids)]   # the facade's rows are one
        ['milvus_faq.txt']
    """

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Write embedded nodes (upserts)."""

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kwargs: Any
    ) -> list[BaseNode]:
        """Read stored nodes back by id."""


StoreT = TypeVar("StoreT", bound=Rows)
"""What a :class:`DocumentIndex` holds the nodes' rows in: any :class:`~llama_index_mmrag.stores.milvus.Rows` to
delete documents, :class:`NodeRows` to write them too."""
WritableT = TypeVar("WritableT", bound=NodeRows)


class DocumentIndex(Generic[StoreT]):
    """Where documents are written: Milvus rows, the graph and the manifest, one document at a time, each write
    all or nothing (the journal), one writer per store (the lock). Its coroutines run on the engine loop.

    Args:
        storage_dir: The store.
        parsed_dir: Where the parser's output of each document is kept (removed with its last record).
        vector_store: The nodes' collection: the LlamaIndex Milvus store (:class:`NodeRows`) to write and delete
            documents; a bare client and collection name (``stores.milvus.CollectionRows``) suffices to delete.
        graph: The knowledge graph.
        manifest: The records of the stored documents (the commit point of a write).
        graph_dir: LightRAG's working dir (its files are copied aside by the journal).

    Example:
        >>> index = DocumentIndex(rag.settings.storage_dir, rag.settings.parsed_dir, rag.vector_store, rag.graph,
        ...                       rag.manifest, rag.settings.graph_dir)
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> engine_loop().run(index.arecover_at_open())        # nothing pending: nothing to do
        >>> rag.index.journal.pending() is None  # the facade's index: no write was interrupted
        True
    """

    def __init__(
        self,
        storage_dir: Path,
        parsed_dir: Path,
        vector_store: StoreT,
        graph: GraphStore,
        manifest: Manifest,
        graph_dir: Path,
    ) -> None:
        self.storage_dir = storage_dir
        self.parsed_dir = parsed_dir
        self.vector_store = vector_store
        self.graph = graph
        self.manifest = manifest
        self.journal = Journal(storage_dir, graph_dir)
        self.lock = StoreLock(storage_dir / "write.lock")
        self._write_lock = asyncio.Lock()  # one write at a time in this process (used on the engine loop only)

    # ---------------------------------------------------------------------------------------------- one writer
    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """One writer: this process's write lock, then the store's inter-process lock; an interrupted write
        found in the journal is resolved first.

        Raises:
            StoreBusyError: If another process holds the store lock for longer than the wait.
        """
        async with self._write_lock:
            await self.lock.acquire()
            try:
                self.manifest.reload_if_changed()
                await self.graph.aopen()  # re-reads the graph files if another process wrote them meanwhile
                if self.journal.pending() is not None:
                    await self._arecover()
                yield
            finally:
                self.graph.file_state.mark_seen()  # what this process wrote (or restored) is what it holds
                self.lock.release()

    async def arecover_at_open(self) -> None:
        """Resolve an interrupted write when the store is opened, unless a live process is writing it now."""
        if self.journal.pending() is None:
            return
        if not self.lock.try_acquire():
            logger.info("the store %s is being written by process %s; not recovering", self.storage_dir, self.lock.holder())
            return
        try:
            await self._arecover()
        finally:
            self.lock.release()

    # ---------------------------------------------------------------------------------------------- writes
    async def awrite_document(
        self: DocumentIndex[WritableT], record: DocRecord, nodes: Sequence[BaseNode], replaces: DocRecord | None = None
    ) -> None:
        """Write one document (replacing ``replaces``, its stored version) under the journal: Milvus rows, then
        the graph (the old version's contribution out, the new one's in), then the old-only rows out and the
        manifest. Interrupted before the graph is done, the old version is what remains. The caller holds
        :meth:`writing`.

        Args:
            record: The manifest record to commit.
            nodes: The document's nodes, embedded.
            replaces: The stored version of the same name, if any.
        """
        old_ids = await self._astored_ids(replaces) if replaces is not None else []
        old_nodes = await asyncio.to_thread(self.vector_store.get_nodes, node_ids=old_ids) if old_ids else []
        write = PendingWrite(
            op="ingest", doc=record.doc, doc_id=record.doc_id, node_ids=list(record.node_ids), record=record,
            replaces=replaces, replaced_ids=old_ids,
        )
        await asyncio.to_thread(self.journal.begin, write)
        try:
            crash_point("after_journal")
            await asyncio.to_thread(self._store_vectors, nodes)
            crash_point("after_vectors")
            if old_nodes:
                await self.graph.adelete_nodes(old_nodes)
            await self.graph.ainsert_nodes(nodes)
            crash_point("after_graph")
            write = await asyncio.to_thread(self.journal.mark_graph_done, write)
            stale = sorted(set(old_ids) - set(record.node_ids))
            await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, stale))
            self.manifest.record(record)
            if replaces is not None:
                self._drop_doc_files(replaces)
            crash_point("after_manifest")
        except BaseException as exc:
            await self._aundo(write, exc)
            raise
        await asyncio.to_thread(self.journal.clear)

    async def adelete_document(self, record: DocRecord) -> None:
        """Remove a document: the graph first (from its nodes as stored), then Milvus, then the manifest. The
        caller holds :meth:`writing`.

        Args:
            record: The stored document's record.
        """
        from llama_index_mmrag.graph.stored_chunks import read_stored_chunks

        ids = await self._astored_ids(record)
        # the chunks as stored, read without LlamaIndex (a delete never needs its node classes)
        stored = await asyncio.to_thread(read_stored_chunks, self.vector_store, ids)
        write = PendingWrite(op="delete", doc=record.doc, doc_id=record.doc_id, node_ids=ids, record=record)
        await asyncio.to_thread(self.journal.begin, write)
        try:
            await self.graph.adelete_chunks(stored.chunks, stored.ref_doc_ids)
            write = await asyncio.to_thread(self.journal.mark_graph_done, write)
            crash_point("delete_after_graph")
            await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write))
            self.manifest.remove(record.doc)
            self._drop_doc_files(record)
        except BaseException as exc:
            await self._aundo(write, exc)
            raise
        await asyncio.to_thread(self._commit_journal, refresh_good=True)  # no copy keeps the document's text

    async def aflush(self) -> None:
        """At the end of a batch of writes: seal what was written to Milvus (ours and the graph's collections), so
        queries use the index, and refresh the journal's last good copy of the graph's files.

        The copy is refreshed under the store lock; if another process holds it, that writer refreshes the copy
        when its own batch ends.
        """
        names = [self.vector_store.collection_name, *await self.graph.arun(self.graph.avector_collections())]
        await asyncio.to_thread(flush_collections, self.vector_store.client, names)
        async with self._write_lock:
            if not self.lock.try_acquire():
                return
            try:
                if self.journal.pending() is None:
                    await asyncio.to_thread(self.journal.keep_last_good)
            finally:
                self.lock.release()

    # ---------------------------------------------------------------------------------------------- steps
    def _commit_journal(self, refresh_good: bool = False) -> None:
        """Forget the pending write; with ``refresh_good``, refresh the last good copy of the graph's files first
        (a write no older copy may outlive: a delete, a recovery). An ingest leaves it to :meth:`aflush`."""
        if refresh_good:
            self.journal.keep_last_good()
        self.journal.clear()

    def _store_vectors(self: DocumentIndex[WritableT], nodes: Sequence[BaseNode]) -> None:
        half = (len(nodes) + 1) // 2
        for part in (nodes[:half], nodes[half:]):
            if part:
                self.vector_store.add(list(part))
                crash_point("mid_vectors")

    async def _astored_ids(self, record: DocRecord) -> list[str]:
        """A document's node ids: those recorded, and any others Milvus holds under its name."""
        return sorted(set(record.node_ids) | await asyncio.to_thread(doc_node_ids, self.vector_store, record.doc))

    def _unowned(self, write: PendingWrite, ids: Iterable[str] | None = None) -> list[str]:
        """``ids`` (the write's node ids by default) that no other committed document holds."""
        owned = self.manifest.owned_node_ids(exclude=write.doc)
        return [i for i in (write.node_ids if ids is None else ids) if i not in owned]

    def _drop_doc_files(self, record: DocRecord) -> None:
        """Delete a removed document's parser output and overflow files, unless another record has its content."""
        if any(r.doc_id == record.doc_id for r in self.manifest.docs()):
            return
        for folder in (self.parsed_dir, self.storage_dir / "overflow"):
            shutil.rmtree(folder / record.doc_id[:16], ignore_errors=True)  # owned: <store>/parsed|overflow/<content hash>, written by ingest

    # ---------------------------------------------------------------------------------------------- recovery
    async def _arecover(self) -> None:
        """Resolve an interrupted write (caller holds the store lock): roll it back or forward."""
        write = self.journal.pending()
        if write is None:
            return
        logger.warning(
            "recovering the store %s from an interrupted %s of %s (process %d, stage %s)",
            self.storage_dir, write.op, write.doc, write.pid, write.stage,
        )
        self.manifest.reload()
        await self._aresolve(write)

    async def _aresolve(self, write: PendingWrite) -> None:
        """Bring the stores to the state before ``write`` (stage ``started``) or after it (``graph_done``)."""
        new, old = set(write.node_ids), set(write.replaced_ids)
        if write.stage == "graph_done":
            if write.op == "ingest":
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, sorted(old - new)))
                self.manifest.record(write.record)
                if write.replaces is not None:
                    self._drop_doc_files(write.replaces)
            else:
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write))
                self.manifest.remove(write.doc)
                self._drop_doc_files(write.record)
        else:
            await asyncio.to_thread(self.journal.restore_graph)
            await self.graph.areload_files()
            fixes = await self.graph.areconcile_vectors(sorted(new | old))
            if fixes:
                logger.info("graph vectors reconciled after rollback: %s", fixes)
            if write.op == "ingest":
                # rows of a replaced version are still there (ids both versions share were upserted with the same
                # text; only their metadata may now be the new version's)
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, sorted(new - old)))
        await asyncio.to_thread(self._commit_journal, refresh_good=True)

    async def _aundo(self, write: PendingWrite, error: BaseException) -> None:
        """Resolve a write that raised in this process; a failure here leaves the journal for the next open."""
        pending = self.journal.pending()
        if pending is None:  # the journal was never written (it is written before any store is): nothing to undo
            await asyncio.to_thread(self.journal.clear)
            return
        try:
            await self._aresolve(pending)
        except Exception:
            logger.exception(
                "could not undo the failed %s of %s (%s); the store will be recovered when next opened",
                write.op, write.doc, error,
            )
