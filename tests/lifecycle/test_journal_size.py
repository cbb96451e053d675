"""What a document write makes durable does not grow with the store: the same small document written into a store
of 4 documents and into the same store once its graph is twice as large makes the same bytes durable under
``<store>/journal``, a small fraction of the graph's files (the journal keeps the graph as it was before a write
as hard links, not copies), and about the same bytes under ``<store>/lightrag`` (the graph's files: a save
appends what it changed to each file's change log instead of writing the file whole)."""

from __future__ import annotations

import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.index import DocumentIndex
from tests.support.store_copies import copy_store, wait_until_closed

PROBE = "The Probe Service {n} reads segments from the Query Node.\n\nThe Index Node builds the index of each segment.\n"
FILLER = (
    "The {a} Gateway sends {b} Records to the {c} Archive.\n\n"
    "The {c} Archive keeps every {a} Ledger for the {b} Auditor.\n"
)
WORDS = ["Amber", "Birch", "Cedar", "Delta", "Ember", "Fjord", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
         "Lumen", "Maple", "Nimbus", "Onyx", "Pioneer", "Quartz", "Raven", "Sierra", "Tundra"]


class DurableWrites:
    """Bytes each document write (:meth:`DocumentIndex.awrite_document`) makes durable under a folder of the store:
    what each fsync of a file there makes durable (the file's size, or for a file appended to since its last
    fsync, what was appended)."""

    def __init__(self, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = str(folder.resolve()) + os.sep
        self.per_write: list[int] = []
        self.per_file: list[Counter[str]] = []
        self._inside = False
        self._synced = {(p.stat().st_ino, str(p.resolve())): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
        fsync, write_document = os.fsync, DocumentIndex.awrite_document

        def counting_fsync(fd: int) -> None:
            info = os.fstat(fd)
            path = os.readlink(f"/proc/self/fd/{fd}") if stat.S_ISREG(info.st_mode) else ""
            if path.startswith(self.root):
                before = self._synced.get((info.st_ino, path), 0)
                self._synced[(info.st_ino, path)] = info.st_size
                if self._inside:
                    made = info.st_size - before if info.st_size >= before else info.st_size
                    self.per_write[-1] += made
                    self.per_file[-1][os.path.basename(path)] += made
            fsync(fd)

        async def counted_write(index: DocumentIndex, *args: Any, **kwargs: Any) -> None:
            self.per_write.append(0)
            self.per_file.append(Counter())
            self._inside = True
            try:
                await write_document(index, *args, **kwargs)
            finally:
                self._inside = False

        monkeypatch.setattr(os, "fsync", counting_fsync)
        monkeypatch.setattr(DocumentIndex, "awrite_document", counted_write)


def _graph_size(rag: MultimodalRAG) -> int:
    stats = rag.stats()
    return int(stats["entities"]) + int(stats["relations"])


def _graph_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "lightrag").rglob("*") if p.is_file())


def test_a_document_write_makes_the_same_bytes_durable_however_large_the_graph(
    full_store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = full_store_copy  # 3 documents
    big = copy_store(small, tmp_path / "big")  # the same, and then a document with the graph of many
    probe = tmp_path / "probe.txt"
    probe.write_text(PROBE.format(n=1))
    filler = tmp_path / "filler.txt"  # one write instead of 16
    filler.write_text("\n".join(FILLER.format(a=WORDS[i], b=WORDS[(i + 7) % 20], c=WORDS[(i + 13) % 20]) for i in range(16)))
    with MultimodalRAG(storage_dir=big) as rag:
        assert rag.ingest([filler], show_progress=False).ingested == ["filler.txt"]
        big_graph = _graph_size(rag)
    wait_until_closed(big)
    small_graph_bytes = _graph_bytes(small)
    # the same document into each store: what its write makes durable in each
    writes = {(store, folder): DurableWrites(store / folder, monkeypatch) for store in (small, big) for folder in ("journal", "lightrag")}
    for store in (small, big):
        with MultimodalRAG(storage_dir=store) as rag:
            if store == small:
                small_graph = _graph_size(rag)
            assert rag.ingest([probe], show_progress=False).ingested == ["probe.txt"]
    assert big_graph > 1.8 * small_graph, (small_graph, big_graph)  # the graph about doubled
    into_small, into_big = writes[small, "journal"].per_write[0], writes[big, "journal"].per_write[1]
    assert 0 < into_big <= into_small * 1.05 + 256, (writes[small, "journal"].per_file[0], writes[big, "journal"].per_file[1])
    assert into_big < small_graph_bytes / 10, (into_big, small_graph_bytes)  # no copy of the graph, not even of a small one
    graph_small, graph_big = writes[small, "lightrag"], writes[big, "lightrag"]
    assert 0 < graph_big.per_write[1] <= graph_small.per_write[0] * 1.05 + 256, (graph_small.per_file[0], graph_big.per_file[1])
    assert graph_big.per_write[1] < small_graph_bytes / 2, (graph_big.per_write[1], small_graph_bytes)  # no file saved whole
