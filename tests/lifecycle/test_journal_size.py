"""What a document write adds to the store's journal does not grow with the store: the same small document written
into a store of 4 documents and into the same store once its graph is twice as large makes the same bytes
durable under ``<store>/journal``, a small fraction of the graph's files (the journal keeps the graph as it was
before a write as hard links, not copies)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.index import DocumentIndex

PROBE = "The Probe Service {n} reads segments from the Query Node.\n\nThe Index Node builds the index of each segment.\n"
FILLER = (
    "The {a} Gateway sends {b} Records to the {c} Archive.\n\n"
    "The {c} Archive keeps every {a} Ledger for the {b} Auditor.\n"
)
WORDS = ["Amber", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
         "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Raven", "Sierra", "Tundra"]


class JournalWrites:
    """Bytes each document write (:meth:`DocumentIndex.awrite_document`) makes durable under the store's journal:
    the sizes of the journal's files as they are fsynced."""

    def __init__(self, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str((store / "journal").resolve()) + os.sep
        self.per_write: list[int] = []
        self._inside = False
        fsync, write_document = os.fsync, DocumentIndex.awrite_document

        def counting_fsync(fd: int) -> None:
            info = os.fstat(fd)
            if self._inside and stat.S_ISREG(info.st_mode) and os.readlink(f"/proc/self/fd/{fd}").startswith(self.root):
                self.per_write[-1] += info.st_size
            fsync(fd)

        async def counted_write(index: DocumentIndex, *args: Any, **kwargs: Any) -> None:
            self.per_write.append(0)
            self._inside = True
            try:
                await write_document(index, *args, **kwargs)
            finally:
                self._inside = False

        monkeypatch.setattr(os, "fsync", counting_fsync)
        monkeypatch.setattr(DocumentIndex, "awrite_document", counted_write)


def _graph_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "lightrag").rglob("*") if p.is_file())


def test_a_document_write_adds_the_same_bytes_to_the_journal_however_large_the_graph(
    full_store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = full_store_copy  # 3 documents
    probes = []
    for n in (1, 2):
        probes.append(tmp_path / f"probe-{n}.txt")
        probes[-1].write_text(PROBE.format(n=n))
    filler = tmp_path / "filler.txt"  # one document with the graph of many: one write instead of 16
    filler.write_text("\n".join(FILLER.format(a=WORDS[i], b=WORDS[(i + 7) % 20], c=WORDS[(i + 13) % 20]) for i in range(16)))
    writes = JournalWrites(store, monkeypatch)
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([probes[0]], show_progress=False).ingested == ["probe-1.txt"]
        small_graph = _graph_bytes(store)
        assert rag.ingest([filler], show_progress=False).ingested == ["filler.txt"]
        big_graph = _graph_bytes(store)
        assert rag.ingest([probes[1]], show_progress=False).ingested == ["probe-2.txt"]
    assert big_graph > 1.8 * small_graph, (small_graph, big_graph)  # the graph about doubled
    into_small, _, into_big = writes.per_write
    assert 0 < into_big <= into_small * 1.05 + 256, (into_small, into_big)
    assert into_big < small_graph / 10, (into_big, small_graph)  # no copy of the graph, not even of a small one
