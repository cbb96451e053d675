"""``MultimodalRAG.sync``: the store mirrors a folder (new, changed, deleted, renamed files), touches only the
documents of that folder, and a ``kill -9`` in the middle of a sync leaves a store the next sync completes.

Tiny text files keep it cheap: one store for the module, each test in folders and names of its own.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_index_mmrag import MultimodalRAG, ParseError
from llama_index_mmrag.index.crash import CRASH_ENV
from tests.lifecycle.store_state import store_state
from tests.support.processes import start_mmrag


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalRAG]:
    with MultimodalRAG(storage_dir=tmp_path_factory.mktemp("sync-store")) as store:
        yield store


def _docs_found(rag: MultimodalRAG, question: str) -> set[str]:
    return {hit.node.metadata["doc"] for hit in rag.as_retriever(top_k=3, graph_mode="off").retrieve(question)}


def _assert_mirrors(rag: MultimodalRAG, folder: Path) -> None:
    """The folder's documents are exactly its files, each whole and consistent in Milvus, the graph and the
    manifest (no row, chunk or entity source of a document that is gone)."""
    names = sorted(p.name for p in folder.iterdir())
    records = {r.doc: r for r in rag.documents() if r.source_path and Path(r.source_path).parent == folder.resolve()}
    assert sorted(records) == names
    state = store_state(rag)
    assert not state["journal_pending"] and state["milvus_duplicates"] == []
    for name, record in records.items():
        assert state["manifest"][name][1] == tuple(sorted(record.node_ids))
    stored_docs = set(state["manifest"])
    assert set(state["milvus_docs"]) == stored_docs
    milvus_ids = {i for ids in state["milvus_ids"].values() for i in ids}
    assert milvus_ids == {i for r in rag.documents() for i in r.node_ids}
    assert set(state["vectors"]["chunks_vdb"]) == milvus_ids and state["vectors"]["text_chunks_missing"] == []
    for entity, (_, _, sources, files) in state["entities"].items():
        assert set(sources) <= milvus_ids, f"entity {entity} cites a chunk that is gone: {sources}"
        assert set(files) <= stored_docs, f"entity {entity} cites a document that is gone: {files}"


def test_sync_adds_changes_deletes_and_renames_and_a_rename_is_not_parsed_again(rag: MultimodalRAG, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "zebra.txt").write_text("Zebras graze on quantum lettuce in the Serengeti.")
    (folder / "otter.txt").write_text("Otters juggle pebbles beside the kelp forest.")
    (folder / "heron.txt").write_text("Herons stand still in the marsh at dawn.")

    first = rag.sync(folder, show_progress=False)
    assert first.ok and sorted(first.added) == ["heron.txt", "otter.txt", "zebra.txt"], first.failures
    assert "zebra.txt" in _docs_found(rag, "zebras quantum lettuce")

    (folder / "otter.txt").write_text("Otters now build dams of driftwood and seaweed.")
    (folder / "heron.txt").unlink()
    (folder / "zebra.txt").rename(folder / "savanna.txt")
    second = rag.sync(folder, show_progress=False)

    assert second.ok, second.failures
    assert (second.added, second.changed, second.deleted) == ([], ["otter.txt"], ["heron.txt"])
    assert second.renamed == [("zebra.txt", "savanna.txt")]
    assert second.ingested == ["otter.txt"]  # the renamed file went through no parser: only the changed one did
    assert "savanna.txt" in _docs_found(rag, "zebras quantum lettuce")
    assert "otter.txt" in _docs_found(rag, "driftwood dams seaweed")
    assert rag.document("savanna.txt").source_path == str((folder / "savanna.txt").resolve())
    _assert_mirrors(rag, folder)

    third = rag.sync(folder, show_progress=False)
    assert (third.wrote, sorted(third.unchanged)) == (False, ["otter.txt", "savanna.txt"])


def test_sync_touches_only_the_documents_of_its_folder(rag: MultimodalRAG, tmp_path: Path) -> None:
    other, synced, moved_to = tmp_path / "other", tmp_path / "synced", tmp_path / "moved"
    for folder in (other, synced, moved_to):
        folder.mkdir()
    (other / "ledger.txt").write_text("The ledger lists every walrus in the harbour.")
    assert rag.ingest([other / "ledger.txt"], show_progress=False).ok
    (synced / "ledger.txt").write_text("Another ledger, about puffins.")  # same name, another place that exists
    (synced / "walk.txt").write_text("A walk along the fjord at low tide.")

    report = rag.sync(synced, show_progress=False)
    assert report.added == ["walk.txt"]
    [conflict] = report.failures
    assert conflict.path.name == "ledger.txt" and str(other / "ledger.txt") in conflict.reason
    assert rag.document("ledger.txt").source_path == str((other / "ledger.txt").resolve())  # not replaced

    (synced / "walk.txt").rename(moved_to / "walk.txt")  # moved to another folder: adopted there, not re-ingested
    adopted = rag.sync(moved_to, show_progress=False)
    assert (adopted.unchanged, adopted.wrote) == (["walk.txt"], False)
    (synced / "ledger.txt").unlink()
    emptied = rag.sync(synced, show_progress=False)
    assert emptied.deleted == [] and emptied.ok  # walk.txt belongs to moved/ now, ledger.txt to other/
    assert {"ledger.txt", "walk.txt"} <= {r.doc for r in rag.documents()}

    with pytest.raises(ParseError, match="does not exist"):
        rag.sync(tmp_path / "unmounted")  # a missing folder deletes nothing


def test_a_kill_during_a_sync_leaves_a_store_the_next_sync_completes(
    rag: MultimodalRAG, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "crashing"
    folder.mkdir()
    (folder / "alpha.txt").write_text("Alpha Centauri is the closest star system to the Sun.")
    (folder / "beta.txt").write_text("Beta particles are fast electrons from radioactive decay.")
    (folder / "gamma.txt").write_text("Gamma rays carry the most energy of all light.")
    assert rag.sync(folder, show_progress=False).ok
    (folder / "alpha.txt").rename(folder / "centauri.txt")
    (folder / "beta.txt").unlink()
    (folder / "gamma.txt").write_text("Gamma ray bursts outshine whole galaxies for seconds.")
    (folder / "delta.txt").write_text("The Mississippi delta grows with every flood.")

    # the child dies in the middle of the rename: the old name half deleted, the new one not written yet
    monkeypatch.setenv(CRASH_ENV, "delete_after_graph:1")
    child = start_mmrag("sync", str(folder), "--store", str(rag.settings.storage_dir))
    _, stderr = child.communicate(timeout=600)
    assert child.returncode == -signal.SIGKILL, stderr[-3000:]
    monkeypatch.delenv(CRASH_ENV)

    report = rag.sync(folder, show_progress=False)  # recovers the interrupted delete, then does the rest
    assert report.ok, report.failures
    # the old name's delete is completed when the store is next written; the file under its new name is then new
    assert (sorted(report.added), report.changed, report.deleted) == (["centauri.txt", "delta.txt"], ["gamma.txt"], ["beta.txt"])
    _assert_mirrors(rag, folder)
    assert "centauri.txt" in _docs_found(rag, "closest star system to the Sun")


def test_a_renamed_image_keeps_its_stored_image_file(rag: MultimodalRAG, tmp_path: Path) -> None:
    from tests.readers.documents import make_png

    folder = tmp_path / "figures"
    folder.mkdir()
    make_png(folder / "diagram.png", ("PROXY", "QUERY"))
    assert rag.sync(folder, show_progress=False).added == ["diagram.png"]
    (folder / "diagram.png").rename(folder / "architecture.png")

    report = rag.sync(folder, show_progress=False)

    assert report.renamed == [("diagram.png", "architecture.png")] and report.ingested == []
    [image] = [hit.node for hit in rag.as_retriever(top_k=3, modalities=["image"], doc="architecture.png").retrieve("proxy query")]
    assert image.metadata["doc"] == "architecture.png" and Path(image.metadata["image_path"]).is_file()
    _assert_mirrors(rag, folder)
