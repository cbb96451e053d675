"""A real Milvus server, and the dense-only fallback for servers without sparse vectors and BM25 (before 2.5).

The ``milvus`` package on PyPI embeds a standalone Milvus 2.3 server; the store tests (ingest, query, filters,
stats, delete) run against it through ``MILVUS_URI``. It predates BM25, so the store must open dense-only with
a warning and the facade must retrieve in dense mode; the fallback logic is also unit-tested without a server.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pymilvus import MilvusException

from llama_index_mmrag import MilvusModalRetriever, MultimodalRAG
from llama_index_mmrag.doc_names import UnknownDocumentError
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores import milvus as milvus_store
from llama_index_mmrag.stores.milvus import build_vector_store, parse_version, server_supports_bm25

FAQ_QUESTION = "Does Milvus support simultaneous insertion and search?"


@pytest.fixture(scope="module")
def milvus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Milvus 2.3 standalone server on loopback (skipped, with the reason, where it cannot run)."""
    milvus = pytest.importorskip("milvus", reason="the `milvus` package (embedded Milvus server) is not installed")
    server = milvus.MilvusServer()
    server.set_base_dir(str(tmp_path_factory.mktemp("milvus-server")))
    try:
        server.start()
    except Exception as exc:  # noqa: BLE001  (any start failure means: no server on this machine)
        server.stop()
        pytest.skip(f"the embedded Milvus server did not start here: {type(exc).__name__}: {exc}")
    yield f"http://127.0.0.1:{server.listen_port}"
    server.stop()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture(scope="module")
def server_store(
    milvus_server: str, tmp_path_factory: pytest.TempPathFactory, sample_faq: Path, sample_diagram: Path
) -> Iterator[tuple[MultimodalRAG, Any, list[str]]]:
    """A store on the server (through ``MILVUS_URI``) with the demo's FAQ and diagram, and the warnings logged."""
    store = tmp_path_factory.mktemp("server-store")
    records = _Records()
    log = logging.getLogger("llama_index_mmrag.stores.milvus")
    log.addHandler(records)
    with pytest.MonkeyPatch.context() as patch:  # the settings read MILVUS_URI when the store is opened
        patch.setenv("MILVUS_URI", milvus_server)
        try:
            rag = MultimodalRAG(storage_dir=store, milvus_collection="server_test")
        finally:
            log.removeHandler(records)
    report = rag.ingest([sample_faq, sample_diagram], show_progress=False)
    yield rag, report, records.messages
    rag.close()


def test_ingest_query_and_stats_on_a_milvus_2_3_server_in_dense_mode(
    server_store: tuple[MultimodalRAG, Any, list[str]], milvus_server: str
) -> None:
    rag, report, warnings = server_store
    assert rag.settings.milvus_uri == milvus_server and rag.vector_mode == "dense"
    assert any("need 2.5 or later: dense retrieval only" in w for w in warnings), warnings
    assert report.ok, report.failures
    stats = rag.stats()
    assert stats["docs"] == 2 and stats["nodes"]["image"] == 1 and stats["nodes"]["text"] >= 2
    assert stats["entities"] > 0 and stats["relations"] > 0  # LightRAG's Milvus vectors on the same server
    assert rag.stats(doc="milvus_architecture.png")["nodes"]["image"] == 1
    top = rag.as_retriever(top_k=3).retrieve(FAQ_QUESTION)
    assert top[0].node.metadata["doc"] == "milvus_faq.txt"
    graph = rag._loop.run(rag.graph.aquery_data("What does the Query Node do?", mode="hybrid"))
    assert graph.get("entities")
    assert "simultaneous insertion and search" in rag.as_query_engine(top_k=3).query(FAQ_QUESTION).response


@pytest.mark.xfail(
    raises=MilvusException,
    strict=True,
    reason="stores/filters.py guards every leaf with `key is not null`, which Milvus servers before 2.5 "
    "cannot parse; Milvus Lite and 2.5+ servers accept it",
)
def test_metadata_filters_on_a_milvus_2_3_server(server_store: tuple[MultimodalRAG, Any, list[str]]) -> None:
    rag, _, _ = server_store
    images = rag.as_retriever(modalities=["image"]).retrieve("architecture")
    assert images and {n.node.metadata["modality"] for n in images} == {"image"}
    scoped = rag.as_retriever(doc="milvus_architecture.png").retrieve("search")
    assert scoped and {n.node.metadata["doc"] for n in scoped} == {"milvus_architecture.png"}
    with pytest.raises(UnknownDocumentError):  # a name no document has is an error, never a filter
        rag.as_retriever(doc='x" or doc != "')
    hostile = MilvusModalRetriever(rag.vector_store, rag.embed_model, doc='x" or doc != "', mode=rag.vector_mode)
    assert hostile.retrieve("Milvus") == []


def test_delete_on_a_milvus_2_3_server(server_store: tuple[MultimodalRAG, Any, list[str]], milvus_server: str) -> None:
    rag, _, _ = server_store
    before = rag.stats()
    rag.delete("milvus_faq.txt")
    after = rag.stats()
    assert after["docs"] == 1 and after["nodes"]["text"] == 0 and after["nodes"]["image"] == 1
    assert after["entities"] < before["entities"] and after["relations"] < before["relations"]
    assert rag.as_retriever(top_k=3).retrieve(FAQ_QUESTION)[0].node.metadata["doc"] == "milvus_architecture.png"


def test_a_store_moved_on_a_milvus_server_keeps_its_graph(
    server_store: tuple[MultimodalRAG, Any, list[str]], milvus_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The graph's collections on the server are named after the store's recorded workspace, not its folder's
    path: the folder moves, the graph follows (runs last: it closes and moves the module's store)."""
    rag, _, _ = server_store
    workspace = rag.identity.workspace
    collections = rag._loop.run(rag.graph.avector_collections())
    assert len(collections) == 3 and all(name.startswith(f"{workspace}_") for name in collections)
    before = rag.stats()
    rag.close()
    moved = tmp_path / "moved"
    shutil.move(rag.settings.storage_dir, moved)
    monkeypatch.setenv("MILVUS_URI", milvus_server)
    with MultimodalRAG(storage_dir=moved, milvus_collection="server_test") as reopened:
        assert reopened.identity.workspace == workspace
        assert reopened.stats() == before and before["entities"] > 0
        graph = reopened._loop.run(reopened.graph.aquery_data("What does the Query Node do?", mode="hybrid"))
        assert graph.get("entities")


# --- the fallback without a server -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "parsed", "bm25"),
    [("v2.3.5-lite", (2, 3, 5), False), ("v2.4.13", (2, 4, 13), False), ("2.5.0", (2, 5, 0), True),
     ("v2.6.1-gpu", (2, 6, 1), True), ("zilliz-cloud", None, True)],
)
def test_the_server_version_decides_bm25(version: str, parsed: tuple[int, int, int] | None, bm25: bool) -> None:
    assert parse_version(version) == parsed and server_supports_bm25(version) is bm25


def _fake_open(calls: list[bool], fail_hybrid: bool = False) -> Any:
    class Store:
        def __init__(self, hybrid: bool) -> None:
            self.enable_sparse = hybrid

    def open_store(settings: MMRAGSettings, dim: int, hybrid: bool, image_field: Any = None) -> Store:
        calls.append(hybrid)
        if hybrid and fail_hybrid:
            raise MilvusException(1100, "data type SparseFloatVector is not supported")
        return Store(hybrid)

    return open_store


@pytest.mark.parametrize(
    ("facts", "fail_hybrid", "calls", "warning"),
    [
        (("v2.3.5-lite", None), False, [False], "need 2.5 or later"),
        (("v2.5.4", ["id", "embedding", "sparse_embedding"]), False, [True], None),
        (("v2.5.4", ["id", "doc_id", "text", "embedding"]), False, [False], "has no BM25 field"),
        ((None, None), True, [True, False], "rejected the hybrid"),
    ],
    ids=["old-server", "new-server", "dense-collection", "hidden-version-schema-refused"],
)
def test_build_vector_store_falls_back_to_dense_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    facts: tuple[Any, Any],
    fail_hybrid: bool,
    calls: list[bool],
    warning: str | None,
) -> None:
    seen: list[bool] = []
    dropped: list[str] = []
    monkeypatch.setattr(milvus_store, "_server_facts", lambda settings: facts)
    monkeypatch.setattr(milvus_store, "_open_store", _fake_open(seen, fail_hybrid))
    monkeypatch.setattr(milvus_store, "ensure_loaded", lambda store: store)
    monkeypatch.setattr(milvus_store, "count_rows", lambda store, expr="": 0)
    monkeypatch.setattr(milvus_store, "tune_dense_search", lambda store, settings, rows: store)
    monkeypatch.setattr(milvus_store, "_drop_if_empty", lambda settings: dropped.append(settings.milvus_collection))
    settings = MMRAGSettings(storage_dir=tmp_path, milvus_uri="http://milvus.invalid:19530")
    with caplog.at_level(logging.WARNING, logger="llama_index_mmrag.stores.milvus"):
        store = build_vector_store(settings, dim=8)
    assert seen == calls and store.enable_sparse is calls[-1]
    assert (warning in caplog.text) if warning else not caplog.text
    assert dropped == (["mmrag"] if fail_hybrid else [])


def test_the_facade_retrieves_in_dense_mode_from_a_dense_only_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_faq: Path
) -> None:
    def dense_only(settings: MMRAGSettings, dim: int, image_field: Any = None) -> Any:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        return milvus_store.ensure_loaded(milvus_store._open_store(settings, dim, False, image_field))

    monkeypatch.setattr("llama_index_mmrag.index.opening.build_vector_store", dense_only)
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.vector_mode == "dense" and not rag.vector_store.enable_sparse
        assert rag.ingest([sample_faq], show_progress=False).ok
        retriever = rag.as_retriever(top_k=2, doc="milvus_faq.txt")  # a hybrid request would raise on this store
        hits = retriever.retrieve(FAQ_QUESTION)
        assert hits and hits[0].node.metadata["doc"] == "milvus_faq.txt"
