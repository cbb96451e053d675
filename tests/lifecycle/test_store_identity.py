"""A store records what built it (embedding model, dimension, graph workspace) and keeps working when moved.

One small store is built per module, laid out as stores were before they recorded anything (graph folder and
graph collections named after the store's absolute path, no ``store.json``); every test works on a copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.embeddings import MockEmbedding
from typer.testing import CliRunner

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.graph.workspaces import WorkspaceInUseError
from llama_index_mmrag.manifest import STORE_FILE, StoreIdentity, StoreIdentityError
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_NAME, lazy_local_embedding
from tests.lifecycle.store_state import store_state

QUESTION = "What does the Query Node search?"


def _path_workspace(folder: Path) -> str:
    """The workspace stores were given before they recorded one: the collection and a digest of their path."""
    return "mmrag_" + hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]


def _graph_folders(store: Path) -> list[str]:
    return sorted(p.name for p in (store / "lightrag").iterdir() if p.is_dir())


@pytest.fixture(scope="module")
def legacy(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A store of ``a.txt`` and ``c.txt`` laid out as before stores recorded their identity, and its state."""
    folder = tmp_path_factory.mktemp("legacy") / "store"
    workspace = _path_workspace(folder)
    # the only way to get the old layout from this code: record the old path-derived workspace, then forget it
    StoreIdentity.open(folder, embed_model=LOCAL_EMBED_NAME, embed_dim=384, workspace=workspace)
    with MultimodalRAG(storage_dir=folder) as rag:
        report = rag.ingest([corpus[0], corpus[2]], show_progress=False)
        assert report.ok, report.failures
        state = store_state(rag)
    (folder / STORE_FILE).unlink()
    assert _graph_folders(folder) == [workspace]
    assert state["vectors"]["entities_vdb"], "the store must have a graph for the tests to mean anything"
    return folder, state


def _copy(legacy: tuple[Path, dict[str, Any]], to: Path) -> Path:
    shutil.copytree(legacy[0], to)
    return to


def test_an_old_store_moved_keeps_its_graph_and_records_it(legacy: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """A store from before (no store.json), moved before it is first opened, keeps its vectors and graph, records
    the workspace it has, and answers ``mmrag stats`` and ``mmrag query`` at its new place."""
    store = tmp_path / "elsewhere" / "moved"
    _copy(legacy, store)  # another path: its path no longer names its graph
    with MultimodalRAG(storage_dir=store) as rag:
        assert store_state(rag) == legacy[1]
        expected = rag.stats()
    assert expected["entities"] > 0 and expected["relations"] > 0
    identity = StoreIdentity.read(store)
    assert identity is not None
    assert (identity.workspace, identity.adopted) == (_path_workspace(legacy[0]), True)
    assert (identity.embed_model, identity.embed_dim) == (LOCAL_EMBED_NAME, 384)

    runner = CliRunner()
    result = runner.invoke(app, ["stats", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    counted = json.loads(result.stdout)
    assert {k: counted[k] for k in expected} == dict(expected)
    result = runner.invoke(app, ["query", QUESTION, "--store", str(store), "--json"])
    assert result.exit_code == 0, result.output
    sources = json.loads(result.stdout)["sources"]
    assert sources and {s["doc"] for s in sources} <= {"a.txt", "c.txt"}
    assert _graph_folders(store) == [identity.workspace]  # no second, empty graph beside it


def test_a_store_and_its_copy_stay_apart_in_one_process(legacy: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    """A copy keeps the graph (same workspace); writing it leaves the original as it was, even in one process;
    and a copy cannot be opened while the original is open."""
    original = _copy(legacy, tmp_path / "original")
    copy = _copy(legacy, tmp_path / "copy")
    with MultimodalRAG(storage_dir=copy) as rag:
        before = rag.stats()
        rag.delete("a.txt")
        after = rag.stats()
        workspace = rag.identity.workspace
    assert before["entities"] > 0 and after["docs"] == 1 and 0 < after["entities"] < before["entities"]
    with MultimodalRAG(storage_dir=original) as rag:
        assert rag.identity.workspace == workspace
        assert store_state(rag) == legacy[1]  # its graph's memory is re-read from its own files, not the copy's
        with pytest.raises(WorkspaceInUseError) as refused:
            MultimodalRAG(storage_dir=copy)
    message = str(refused.value)
    assert str(copy.resolve()) in message and str(original.resolve()) in message and "close" in message.lower()


@pytest.mark.parametrize(
    ("embed_model", "embed_dim", "configured"),
    [(MockEmbedding(embed_dim=384), 384, "'MockEmbedding' (384-d)"), (lazy_local_embedding(), 768, f"'{LOCAL_EMBED_NAME}' (768-d)")],
    ids=["another-model", "another-dimension"],
)
def test_opening_a_store_with_another_embedding_is_refused(
    legacy: tuple[Path, dict[str, Any]], tmp_path: Path, embed_model: Any, embed_dim: int, configured: str
) -> None:
    """Another model (even of the same dimension) or another dimension: a clear error, and nothing changes."""
    store = _copy(legacy, tmp_path / "store")
    workspace = _path_workspace(legacy[0])
    StoreIdentity.open(store, embed_model=LOCAL_EMBED_NAME, embed_dim=384, workspace=workspace)
    recorded = (store / STORE_FILE).read_bytes()
    with pytest.raises(StoreIdentityError) as refused:
        MultimodalRAG(storage_dir=store, embed_model=embed_model, embed_dim=embed_dim)
    message = str(refused.value)
    assert str(store) in message
    assert f"'{LOCAL_EMBED_NAME}' (384-d)" in message and configured in message
    assert "new store" in message
    assert (store / STORE_FILE).read_bytes() == recorded


def test_mmrag_delete_refuses_a_store_built_with_another_embedding_and_changes_nothing(
    legacy: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """`mmrag delete` runs without the facade (direct_delete.py) and checks what built the store as the facade does."""
    store = _copy(legacy, tmp_path / "store")
    StoreIdentity.open(store, embed_model="MockEmbedding", embed_dim=384, workspace=_path_workspace(legacy[0]))
    manifest = (store / "manifest.json").read_bytes()
    result = CliRunner().invoke(app, ["delete", "a.txt", "--store", str(store)])
    assert result.exit_code == 2, result.output
    assert "'MockEmbedding' (384-d)" in result.output and f"'{LOCAL_EMBED_NAME}' (384-d)" in result.output
    assert (store / "manifest.json").read_bytes() == manifest


def test_an_old_store_records_its_dimension_and_an_unverified_model_until_it_is_confirmed(
    legacy: tuple[Path, dict[str, Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An old store first opened with another model of the same dimension: nothing tells which model built it, so
    it is recorded as unverified (not as the model that built it), with one warning per process naming the store
    and the command that confirms it; once confirmed, the model is checked like any store's."""
    store = _copy(legacy, tmp_path / "store")
    with caplog.at_level(logging.WARNING):
        with MultimodalRAG(storage_dir=store, embed_model=MockEmbedding(embed_dim=384), embed_dim=384):
            pass
        with MultimodalRAG(storage_dir=store, embed_model=MockEmbedding(embed_dim=384), embed_dim=384):
            pass  # the same process opening it again is not warned twice
    identity = StoreIdentity.read(store)
    assert identity is not None
    assert (identity.embed_dim, identity.model_verified, identity.adopted) == (384, False, True)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(store) in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"mmrag confirm-model --store {store}" in warnings[0] and "'MockEmbedding'" in warnings[0]

    result = CliRunner().invoke(app, ["confirm-model", "--store", str(store)])  # the packaged model built it
    assert result.exit_code == 0, result.output
    confirmed = StoreIdentity.read(store)
    assert confirmed is not None
    assert (confirmed.embed_model, confirmed.embed_dim, confirmed.model_verified) == (LOCAL_EMBED_NAME, 384, True)
    assert confirmed.workspace == identity.workspace
    with pytest.raises(StoreIdentityError) as refused:
        MultimodalRAG(storage_dir=store, embed_model=MockEmbedding(embed_dim=384), embed_dim=384)
    assert f"'{LOCAL_EMBED_NAME}' (384-d)" in str(refused.value)


def test_an_old_store_opened_with_another_dimension_is_refused_by_its_collections_dimension(
    legacy: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The dimension of an old store is read from its Milvus collection, so a model of another dimension is refused
    at its first open; a descriptor adopted before models were marked unverified reads as unverified."""
    store = _copy(legacy, tmp_path / "store")
    with pytest.raises(StoreIdentityError) as refused:
        MultimodalRAG(storage_dir=store, embed_model=lazy_local_embedding(), embed_dim=768)
    message = str(refused.value)
    assert str(store) in message and "384-d" in message and "768-d" in message and "new store" in message
    identity = StoreIdentity.read(store)
    assert identity is not None and (identity.embed_dim, identity.model_verified) == (384, False)

    older = identity.model_dump(exclude={"model_verified"}) | {"embed_model": "MockEmbedding"}
    (store / STORE_FILE).write_text(json.dumps(older))  # adopted by a version that recorded the model as verified
    reread = StoreIdentity.read(store)
    assert reread is not None and not reread.model_verified
