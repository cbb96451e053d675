"""The all-or-nothing write of a document across Milvus, the graph and the manifest: journal, lock, write steps.

Every write of a document (ingest, replace, delete) goes through a write-ahead journal in
``<storage_dir>/journal``:

1. the graph's files (LightRAG's working dir: GraphML and JSON key-value stores, each with its change log) are
   kept as they are, as hard links in ``journal/graph-before``, with each change log's length (a file is only
   replaced whole, so a link keeps the version before the write, and a log only grows until it is replaced, so
   its length marks where the write began; nothing is copied, so what a write adds to the journal does not grow
   with the store);
2. a *pending* record (operation, document, content hash, node ids, the manifest record to commit) is written
   atomically;
3. the stores are written: an ingest upserts its Milvus rows, then updates the graph (a replaced version's
   contribution out, the new one in); a delete updates the graph. After the graph part the record is marked
   ``graph_done``, and only then are rows removed from Milvus (a delete's, or those only the replaced version
   had);
4. the manifest is written (the commit point), then the journal is cleared. The graph's files that changed are
   copied to ``journal/graph-good`` once per batch (at its end, :meth:`DocumentIndex.aflush`), after a delete
   and after a recovery: the last good copy a graph file found damaged on load is restored from
   (:mod:`llama_index_mmrag.graph.file_storage`; its storages save every file atomically, so only damage from
   outside, a truncating writer or a bad disk, needs it).

A pending record found later (after ``kill -9``, a power cut, an exception) is resolved before anything else
writes to the store. Before ``graph_done`` the write is **rolled back**: the graph's files are restored from the
links and each change log cut back to its length, the live LightRAG instance re-reads them, LightRAG's vector collections are reconciled with the restored
graph, and (ingest) the rows only the new version has are deleted from Milvus, so a replaced version is intact
again. From ``graph_done`` on it is **rolled forward**: the rows to remove are removed and the manifest is
written. Either way the store ends as if the write had never started, or had completed.

Writers are serialised across processes by an exclusive ``flock`` on ``<storage_dir>/write.lock`` (released by
the kernel when its holder dies, so a crashed writer never blocks the next one), and recovery only runs while
holding it: a journal being written by a live process is never mistaken for a crash.

===============  ================================================================================================
``writer.py``    :class:`DocumentIndex`: the steps above (write, delete, recover, flush) under the lock
``journal.py``   :class:`Journal`, :class:`PendingWrite`: the pending record, the graph's links and copies
``lock.py``      :class:`StoreLock`, :class:`StoreBusyError`
``crash.py``     :func:`crash_point`: where the kill -9 tests stop a writer
``catalog.py``   :class:`DocumentCatalog`: the stored documents read back (records, names, counts)
``identity.py``  :func:`open_identity`: what built the store, recorded, adopted (an old store) or checked
===============  ================================================================================================

Example:
    >>> from pathlib import Path
    >>> Journal(Path("/tmp/mmrag-doctest-store"), Path("/tmp/mmrag-doctest-store/lightrag")).pending() is None
    True
"""

from __future__ import annotations

from llama_index_mmrag.index.catalog import DocumentCatalog
from llama_index_mmrag.index.crash import CRASH_ENV, CRASH_POINTS, crash_point
from llama_index_mmrag.index.journal import Journal, PendingWrite
from llama_index_mmrag.index.lock import StoreBusyError, StoreLock
from llama_index_mmrag.index.writer import DocumentIndex

__all__ = [
    "CRASH_ENV",
    "CRASH_POINTS",
    "DocumentCatalog",
    "DocumentIndex",
    "Journal",
    "PendingWrite",
    "StoreBusyError",
    "StoreLock",
    "crash_point",
]
