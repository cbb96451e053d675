"""The graph's files under failure: a graph save that fails half-way (a full disk) leaves the previous file whole
and fails only the document that caused it, and a graph file found damaged when the store is opened is restored
from the store's last good copy, or named in a clear error when there is none."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph import file_storage
from llama_index_mmrag.graph.file_storage import GraphFileError


def _graph_file(store: Path, pattern: str) -> Path:
    (path,) = sorted((store / "lightrag").rglob(pattern))
    return path


def _tear(path: Path) -> None:
    """What an interrupted in-place write leaves: the first part of the file."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _answer_docs(rag: MultimodalRAG, question: str) -> set[str]:
    return {str(n.node.metadata.get("doc")) for n in rag.as_retriever().retrieve(question)}


def test_a_failing_graph_save_keeps_the_previous_graph_and_fails_only_that_document(
    corpus: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _, c = corpus
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest([a], show_progress=False).ok
        graph_files = sorted(p for p in (tmp_path / "store" / "lightrag").rglob("*") if p.is_file())
        saved, before = {p: p.read_bytes() for p in graph_files}, rag.stats()

        def disk_full(graph: nx.Graph, handle: Any) -> None:
            handle.write(b"<?xml version='1.0' encoding='utf-8'?>\n<graphml><graph edgedefault=")
            raise OSError(28, "No space left on device")

        append = file_storage.append_changes

        def log_disk_full(path: Path, entries: list[dict[str, Any]]) -> int:
            if not path.name.startswith("graph_"):  # the graph's own log only, as the GraphML above
                return append(path, entries)
            with open(path, "ab") as handle:
                handle.write(b'{"n":"half-written')
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(nx, "write_graphml", disk_full)  # a save writing the file whole
        monkeypatch.setattr(file_storage, "append_changes", log_disk_full)  # a save appending to its change log
        report = rag.ingest([c], show_progress=False)
        assert [f.path.name for f in report.failures] == ["c.txt"]
        reason = report.failures[0].reason
        assert "could not save the graph" in reason and "No space left on device" in reason, reason
        assert {p: p.read_bytes() for p in graph_files} == saved  # each file and change log as it was
        assert rag.stats() == before and rag.index.journal.pending() is None
        assert [r.doc for r in rag.documents()] == ["a.txt"]

        monkeypatch.undo()
        assert rag.ingest([c], show_progress=False).ok
        assert rag.stats()["docs"] == 2
        assert "c.txt" in _answer_docs(rag, "Which node seals segments, the Data Coordinator?")
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.stats()["docs"] == 2


def test_damaged_graph_files_are_restored_from_the_last_good_copy_when_the_store_opens(
    corpus: list[Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    a, _, c = corpus
    store = tmp_path / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([a, c], show_progress=False).ok
        before = rag.stats()
    for pattern in ("*.graphml", "kv_store_entity_chunks.json", "kv_store_text_chunks.json"):
        damaged = _graph_file(store, pattern)
        _tear(damaged)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="llama_index_mmrag"):
            with MultimodalRAG(storage_dir=store) as rag:
                assert rag.stats() == before, pattern
                assert "a.txt" in _answer_docs(rag, "Where does Milvus store vectors?")
        assert str(damaged) in caplog.text and "restored" in caplog.text, pattern
        assert damaged.with_name(damaged.name + ".damaged").is_file()
    nx.read_graphml(_graph_file(store, "*.graphml"))


def test_a_damaged_graph_with_no_good_copy_is_a_clear_error_naming_the_file(corpus: list[Path], tmp_path: Path) -> None:
    store = tmp_path / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([corpus[0]], show_progress=False).ok
    shutil.rmtree(store / "journal")  # a store kept no copy (written before copies were kept)
    graphml = _graph_file(store, "*.graphml")
    _tear(graphml)
    with MultimodalRAG(storage_dir=store) as rag:
        with pytest.raises(GraphFileError) as caught:
            rag.stats()
    message = str(caught.value)
    assert str(graphml) in message and "damaged" in message and "ingest the documents into a new store" in message
