"""Recovery in one process: a simulated death at each journal point, then a reopen; and writes that raise,
rolled back on the spot. Either way the store holds exactly the committed documents, nothing half-written."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.schema import file_content_hash
from llama_index_mmrag.graph import kg_loader
from llama_index_mmrag.graph import store as graph_store
from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.index import DocumentIndex
from tests.lifecycle.conftest import C_TEXT
from tests.lifecycle.store_state import diff, store_state
from tests.support.fake_llm import FakeLLM


class SimulatedDeath(BaseException):
    """Raised at a crash point: like SIGKILL, nothing after it runs and nothing is undone."""


@pytest.fixture()
def die_at(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Arm a crash point: the write stops there and its undo is skipped (the process 'died')."""

    def arm(point: str) -> None:
        def crash_point(name: str) -> None:
            if name == point:
                raise SimulatedDeath(point)

        async def undo_nothing(self: DocumentIndex, write: Any, error: BaseException) -> None:
            return None

        monkeypatch.setattr("llama_index_mmrag.index.writer.crash_point", crash_point)
        monkeypatch.setattr(DocumentIndex, "_aundo", undo_nothing)

    return arm


@pytest.mark.parametrize(
    ("point", "committed"),
    [("after_graph", 1), ("after_manifest", 2)],
    ids=["graph-written-not-marked: roll back", "manifest-written-journal-not-cleared: roll forward"],
)
def test_a_death_during_an_ingest_is_resolved_when_the_store_is_reopened(
    tmp_path: Path,
    corpus: list[Path],
    reference_states: list[dict[str, Any]],
    die_at: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
    point: str,
    committed: int,
) -> None:
    store = tmp_path / "store"
    rag = MultimodalRAG(storage_dir=store)
    assert rag.ingest(corpus[:1], show_progress=False).ok
    die_at(point)
    with pytest.raises(SimulatedDeath):
        rag.ingest(corpus[1:2], show_progress=False)
    assert rag.index.journal.pending() is not None
    rag.close()
    monkeypatch.undo()
    with MultimodalRAG(storage_dir=store) as reopened:  # same process: LightRAG's in-memory state is re-read too
        assert reopened.index.journal.pending() is None
        assert diff(store_state(reopened), reference_states[committed]) == []


def test_a_death_half_way_through_the_graph_files_is_rolled_back(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LightRAG persists its storages one file at a time: die after the GraphML, before the key-value stores."""
    store = tmp_path / "store"
    rag = MultimodalRAG(storage_dir=store)
    assert rag.ingest(corpus[:1], show_progress=False).ok

    async def graphml_then_die(light: Any) -> None:
        await light.chunk_entity_relation_graph.index_done_callback()
        raise SimulatedDeath("half-way through the graph's files")

    async def undo_nothing(self: DocumentIndex, write: Any, error: BaseException) -> None:
        return None

    monkeypatch.setattr(kg_loader, "apersist", graphml_then_die)
    monkeypatch.setattr(graph_store, "apersist", graphml_then_die)
    monkeypatch.setattr(DocumentIndex, "_aundo", undo_nothing)
    with pytest.raises(SimulatedDeath):
        rag.ingest(corpus[1:2], show_progress=False)
    rag.close()
    monkeypatch.undo()
    with MultimodalRAG(storage_dir=store) as reopened:
        assert diff(store_state(reopened), reference_states[1]) == []
        assert reopened.ingest(corpus, show_progress=False).ingested == ["b.png", "c.txt"]
        assert diff(store_state(reopened), reference_states[-1]) == []


def test_a_death_after_the_graph_part_of_a_delete_is_rolled_forward(
    full_store_copy: Path,
    corpus: list[Path],
    reference_states: list[dict[str, Any]],
    die_at: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = full_store_copy  # the whole corpus, ingested
    rag = MultimodalRAG(storage_dir=store)
    die_at("delete_after_graph")
    with pytest.raises(SimulatedDeath):
        rag.delete(corpus[-1].name)
    rag.close()
    monkeypatch.undo()
    with MultimodalRAG(storage_dir=store) as reopened:
        assert diff(store_state(reopened), reference_states[-2]) == []


def test_a_graph_write_that_raises_is_rolled_back_and_the_batch_goes_on(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = GraphStore.ainsert_nodes

    async def write_then_fail(self: GraphStore, nodes: Any) -> None:
        await original(self, nodes)  # the graph is fully written (and persisted) ...
        if any(n.metadata["doc"] == "b.png" for n in nodes):
            raise OSError(28, "No space left on device")  # ... then the write fails

    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        monkeypatch.setattr(GraphStore, "ainsert_nodes", write_then_fail)
        report = rag.ingest(corpus, show_progress=False)
        assert report.ingested == ["a.txt", "c.txt"]
        [failure] = report.failures
        assert failure.path.name == "b.png" and "No space left on device" in failure.reason
        assert "unchanged" in failure.reason
        monkeypatch.undo()
        assert rag.index.journal.pending() is None
        assert rag.ingest(corpus, show_progress=False).ingested == ["b.png"]
        state = store_state(rag)
    # b went in last: the same rows, entities, relations and sources as the clean store (descriptions are
    # merged in ingestion order, so compare everything but them)
    ref = reference_states[-1]
    for key in ("manifest", "milvus_ids", "milvus_count", "milvus_duplicates", "vectors"):
        assert state[key] == ref[key], key
    assert {k: v[2:] for k, v in state["entities"].items()} == {k: v[2:] for k, v in ref["entities"].items()}
    assert {k: (v[0], v[3:]) for k, v in state["relations"].items()} == {k: (v[0], v[3:]) for k, v in ref["relations"].items()}


def test_a_milvus_write_that_raises_after_writing_leaves_no_rows(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest(corpus[:1], show_progress=False).ok
        store_add = type(rag.vector_store).add

        def add_then_fail(self: Any, nodes: Any, **kwargs: Any) -> Any:
            store_add(self, nodes, **kwargs)  # the rows are in Milvus, but the call reports a failure
            raise ConnectionError("Milvus went away")

        monkeypatch.setattr(type(rag.vector_store), "add", add_then_fail)
        report = rag.ingest(corpus[2:], show_progress=False)
        assert [f.path.name for f in report.failures] == ["c.txt"] and "Milvus went away" in report.failures[0].reason
        assert diff(store_state(rag), reference_states[1]) == []


def test_a_replacement_that_dies_or_fails_half_way_leaves_the_old_version_intact(
    tmp_path: Path,
    full_store_copy: Path,
    reference_states: list[dict[str, Any]],
    die_at: Callable[[str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    changed = tmp_path / "v2" / "c.txt"
    changed.parent.mkdir()
    changed.write_text(C_TEXT.replace("Data Coordinator", "Root Coordinator"))
    store = full_store_copy  # the whole corpus, ingested
    rag = MultimodalRAG(storage_dir=store)
    die_at("after_graph")  # the new version's graph is written, the old one's is gone: then the process dies
    with pytest.raises(SimulatedDeath):
        rag.ingest([changed], show_progress=False)
    rag.close()
    monkeypatch.undo()
    with MultimodalRAG(storage_dir=store) as reopened:
        assert diff(store_state(reopened), reference_states[-1]) == []

        async def graph_fails(self: GraphStore, nodes: Any) -> None:
            raise RuntimeError("graph storage unavailable")

        monkeypatch.setattr(GraphStore, "ainsert_nodes", graph_fails)
        report = reopened.ingest([changed], show_progress=False)
        assert [f.path.name for f in report.failures] == ["c.txt"] and "unchanged" in report.failures[0].reason
        assert diff(store_state(reopened), reference_states[-1]) == []  # the old version, whole


def test_with_an_llm_a_death_after_the_graph_write_rolls_back_lightrags_own_pipeline_state(
    tmp_path: Path, corpus: list[Path], die_at: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    """LightRAG's LLM extraction path keeps more state (doc status, full docs, the LLM cache): all rolled back."""
    store = tmp_path / "store"
    texts = [corpus[0], corpus[2]]
    rag = MultimodalRAG(storage_dir=store, llm=FakeLLM())
    assert rag.ingest(texts[:1], show_progress=False).ok
    before = store_state(rag)
    die_at("after_graph")
    with pytest.raises(SimulatedDeath):
        rag.ingest(texts[1:], show_progress=False)
    rag.close()
    monkeypatch.undo()
    with MultimodalRAG(storage_dir=store, llm=FakeLLM()) as reopened:
        assert diff(store_state(reopened), before) == []
        light = reopened._loop.run(reopened.graph._rag_instance())
        ids = [file_content_hash(p) for p in texts]
        statuses = reopened._loop.run(light.doc_status.get_by_ids(ids))
        assert statuses[0] is not None and statuses[1] is None  # a.txt's LightRAG document is there, c.txt's is not
        report = reopened.ingest(texts, show_progress=False)
        assert report.ingested == ["c.txt"] and report.unchanged == ["a.txt"], report.failures
        assert reopened.stats(doc="c.txt")["entities"] > 0
