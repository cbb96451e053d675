"""Delete, re-ingest (unchanged: a no-op; changed: a replacement) and stats counted from the real stores."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.graph.live import scan_vectors
from llama_index_mmrag.index.crash import CRASH_ENV
from llama_index_mmrag.index.journal import Journal
from llama_index_mmrag.doc_names import UnknownDocumentError
from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.milvus import delete_ids
from tests.lifecycle.conftest import C_TEXT
from tests.lifecycle.store_state import diff, store_state
from tests.support.store_copies import copy_store


def _expected_stats(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "docs": len(state["manifest"]),
        "nodes": {m: len(ids) for m, ids in state["milvus_ids"].items()},
        "entities": len(state["entities"]),
        "relations": len(state["relations"]),
    }


@pytest.fixture(scope="module")
def full_store(tmp_path_factory: pytest.TempPathFactory, reference: tuple[Path, list[dict[str, Any]]]) -> Path:
    """A store with the whole corpus (a copy of the clean reference store), for tests that leave it as they found it."""
    return copy_store(reference[0], tmp_path_factory.mktemp("full") / "store")


def test_deleting_document_after_document_retraces_the_ingest_exactly(
    full_store_copy: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = full_store_copy  # the whole corpus, ingested
    with MultimodalRAG(storage_dir=store) as rag:
        assert diff(store_state(rag), reference_states[-1]) == []
        removed = rag.delete("c.txt")
        assert removed.doc == "c.txt" and removed.node_ids
        state = store_state(rag)
        assert diff(state, reference_states[2]) == []  # as if c.txt had never been ingested
        # "query node" is in all three documents: it survives, sourced from a.txt and b.png only
        assert set(state["entities"]["query node"][3]) == {"a.txt", "b.png"}
        assert rag.stats() == _expected_stats(reference_states[2])
    # `mmrag delete` deletes without the facade (no LlamaIndex, see direct_delete.py): "query node" stays,
    # sourced from a.txt only, so its description changes and its vector is embedded again; the process is
    # killed once the graph is done, and the next writer (a mmrag delete of a name not stored) finishes it
    killed = subprocess.run(
        [sys.executable, "-m", "llama_index_mmrag.cli", "delete", "B.PNG", "--store", str(store)],
        env={**os.environ, CRASH_ENV: "delete_after_graph"}, capture_output=True, text=True, timeout=600,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    journal = Journal(store, MMRAGSettings(storage_dir=store).graph_dir)
    assert journal.pending() is not None
    result = CliRunner().invoke(app, ["delete", "b.pdf", "--store", str(store)])
    assert result.exit_code == 1 and "no document named 'b.pdf'" in result.output, result.output
    assert journal.pending() is None
    with MultimodalRAG(storage_dir=store) as rag:
        state = store_state(rag)
        assert diff(state, reference_states[1]) == []
        assert set(state["entities"]["query node"][3]) == {"a.txt"}
        light = rag._loop.run(rag.graph._rag_instance())
        rows = {r["entity_name"]: r for r in scan_vectors(light.entities_vdb, ["entity_name", "content", "vector"])}
        kept = rows["query node"]
        assert "b.png" not in kept["content"]
        assert np.allclose(kept["vector"], rag.embed_model.get_text_embedding(kept["content"]), atol=1e-4)

        async def from_a_running_loop() -> dict[str, Any]:
            await rag.adelete(str(corpus[0]))  # a path is reduced to the document's name
            return dict(await rag.astats())

        assert asyncio.run(from_a_running_loop())["entities"] == 0
    with MultimodalRAG(storage_dir=store) as rag:
        assert diff(store_state(rag), reference_states[0]) == []  # nothing left: no rows, entities or vectors
        assert rag.stats() == {"docs": 0, "nodes": dict.fromkeys(("text", "image", "table", "equation"), 0), "entities": 0, "relations": 0}
        assert rag.ingest(corpus, show_progress=False).ingested == [p.name for p in corpus]
        assert diff(store_state(rag), reference_states[-1]) == []  # and ingesting again rebuilds it exactly


def test_deleting_an_unknown_document_is_a_clear_error_and_changes_nothing(
    full_store: Path, reference_states: list[dict[str, Any]]
) -> None:
    with MultimodalRAG(storage_dir=full_store) as rag:
        with pytest.raises(UnknownDocumentError, match=r"no document named 'c\.text'.*did you mean 'c\.txt'"):
            rag.delete("c.text")
        with pytest.raises(LookupError):
            asyncio.run(rag.adelete("nothing.pdf"))
        assert diff(store_state(rag), reference_states[-1]) == []
    result = CliRunner().invoke(app, ["delete", "c.text", "--store", str(full_store)])
    assert result.exit_code == 1 and "no document named 'c.text'" in result.output


def test_stats_per_document_count_its_nodes_and_the_entities_it_sources(
    full_store: Path, reference_states: list[dict[str, Any]]
) -> None:
    ref = reference_states[-1]
    with MultimodalRAG(storage_dir=full_store) as rag:
        assert rag.stats() == _expected_stats(ref)
        for doc, (_, node_ids, modalities) in ref["manifest"].items():
            stats = rag.stats(doc=doc)
            assert stats["docs"] == 1
            assert {m: n for m, n in stats["nodes"].items() if n} == dict(modalities)
            chunks = set(node_ids)
            light = rag._loop.run(rag.graph._rag_instance())
            tracked = rag._loop.run(light.entity_chunks.get_by_ids(list(ref["entities"])))
            sourced = [name for name, rec in zip(ref["entities"], tracked) if chunks & set(rec["chunk_ids"])]
            assert stats["entities"] == len(sourced) > 0
            assert 0 < stats["relations"] <= ref["relations"].__len__()
        with pytest.raises(UnknownDocumentError):
            rag.stats(doc="missing.pdf")


def test_stats_come_from_the_stores_not_the_manifest(tmp_path: Path, corpus: list[Path]) -> None:
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest([corpus[0], corpus[2]], show_progress=False).ok
        before = rag.stats()
        record = {r.doc: r for r in rag.documents()}["c.txt"]
        delete_ids(rag.vector_store, list(record.node_ids))  # behind the manifest's back
        after = rag.stats()
        assert after["docs"] == 1 and after["nodes"]["text"] == before["nodes"]["text"] - len(record.node_ids)
        assert rag.stats(doc="c.txt")["docs"] == 0  # recorded, but no longer in Milvus
        assert len(rag.documents()) == 2


def test_reingesting_an_unchanged_file_neither_parses_nor_writes(
    full_store: Path, corpus: list[Path], reference_states: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("an unchanged file must not be parsed or written")

    with MultimodalRAG(storage_dir=full_store) as rag:
        monkeypatch.setattr(RAGAnythingReader, "aparse", refuse)
        monkeypatch.setattr(Journal, "begin", refuse)
        report = rag.ingest(corpus, show_progress=False)
        assert report.unchanged == [p.name for p in corpus] and report.ingested == [] and report.ok
        monkeypatch.undo()
        assert diff(store_state(rag), reference_states[-1]) == []


def test_cli_stats(full_store: Path, reference_states: list[dict[str, Any]]) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["stats", "--store", str(full_store), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [d["doc"] for d in payload.pop("documents")] == ["a.txt", "b.png", "c.txt"]
    assert payload == _expected_stats(reference_states[-1])
    result = runner.invoke(app, ["stats", "--store", str(full_store), "--json", "--doc", "b.png"])
    assert result.exit_code == 0 and json.loads(result.stdout)["nodes"]["image"] == 1
    result = runner.invoke(app, ["stats", "--store", str(full_store)])
    assert result.exit_code == 0 and "entities" in result.output and "b.png" in result.output
    result = runner.invoke(app, ["stats", "--store", str(full_store), "--doc", "nothing.pdf"])
    assert result.exit_code == 1 and "no document named 'nothing.pdf'" in result.output
    result = runner.invoke(app, ["stats", "--store", str(full_store / "nowhere")])
    assert result.exit_code == 2 and "no store" in result.output


def test_a_changed_file_replaces_its_old_version(
    full_store: Path, corpus: list[Path], reference_states: list[dict[str, Any]], tmp_path: Path
) -> None:
    changed = tmp_path / "v2" / "c.txt"
    changed.parent.mkdir()
    changed.write_text(C_TEXT.replace("Data Coordinator", "Root Coordinator") + "\nThe Streaming Node writes logs.\n")
    with MultimodalRAG(storage_dir=full_store) as rag:
        old = {r.doc: r for r in rag.documents()}["c.txt"]
        report = rag.ingest([changed], show_progress=False)
        assert report.ingested == ["c.txt"] and report.unchanged == []
        new = {r.doc: r for r in rag.documents()}["c.txt"]
        assert new.doc_id != old.doc_id and new.source_path == str(changed.resolve())
        state = store_state(rag)
        assert not set(old.node_ids) & {i for ids in state["milvus_ids"].values() for i in ids}
        assert "data coordinator" not in state["entities"] and "root coordinator" in state["entities"]
        assert "streaming node" in state["entities"] and state["milvus_count"] == sum(map(len, state["milvus_ids"].values()))
        # and replacing it back with the original gives exactly the clean store again
        assert rag.ingest([corpus[2]], show_progress=False).ingested == ["c.txt"]
        assert diff(store_state(rag), reference_states[-1]) == []
