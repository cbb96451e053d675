"""The graph's change logs (``graph/change_log.py``) under ``kill -9`` and with a reader in another process.

A save appends what changed to a log beside each graph file and writes the file whole only now and then; a
``kill -9`` half-way through an append, or between a file written whole and its log emptied, must leave a store
the next open recovers exactly (each document fully in or rolled back, the graph and LightRAG's Milvus vectors
agreeing), and a process holding the store open must see the documents another process commits while that
ingest is still running.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.change_log import LOG_SUFFIX
from llama_index_mmrag.index.crash import CRASH_ENV
from tests.lifecycle.test_crash import CHILD_TIMEOUT, ROOT, _assert_killed, _recover_and_check
from tests.lifecycle.test_processes import _finish, start_mmrag


def _logs(store: Path) -> list[Path]:
    return sorted((store / "lightrag").rglob(f"*{LOG_SUFFIX}"))


def _log_crash_child(store: Path, where: str, files: list[Path]) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lifecycle.log_crash_child", str(store), where, *map(str, files)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def test_a_kill_half_way_through_a_log_append_rolls_the_write_back_and_the_same_ingest_matches_a_clean_one(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = tmp_path / "store"
    output = _assert_killed(_log_crash_child(store, "append", corpus))
    assert json.loads((store / "journal" / "pending.json").read_text())["stage"] == "started", output[-2000:]
    torn = [p for p in _logs(store) if not p.read_bytes().endswith(b"\n")]
    assert torn, [(p.name, p.stat().st_size) for p in _logs(store)]  # appends (LightRAG saves files at once) died half-way
    committed = _recover_and_check(store, corpus, reference_states)
    assert committed == 1  # a.txt's saves wrote the files whole; b.png's first save was the first append
    assert all(p.read_bytes().endswith(b"\n") or not p.stat().st_size for p in _logs(store))


def test_a_kill_between_a_file_written_whole_and_its_log_emptied_rolls_the_write_back(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = tmp_path / "store"
    output = _assert_killed(_log_crash_child(store, "compaction", corpus))
    pending = json.loads((store / "journal" / "pending.json").read_text())
    assert (pending["doc"], pending["stage"]) == ("b.png", "started"), output[-2000:]
    assert any(p.stat().st_size for p in _logs(store))  # the file was written whole; its log still holds the write
    assert _recover_and_check(store, corpus, reference_states) == 1


def test_an_open_store_sees_the_documents_another_process_commits_while_its_ingest_runs(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = tmp_path / "store"
    extras = []
    for i in range(4):  # a longer batch, so that its first commits are seen before it ends
        extras.append(tmp_path / f"release-{i}.txt")
        extras[-1].write_text(f"The Index Node of release {i} builds the Segment Index {i} for the Query Node.\n")
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([corpus[0]], show_progress=False).ok
        graph_files = {p: p.stat().st_mtime_ns for p in (store / "lightrag").rglob("*.graphml")}
        writer = start_mmrag("ingest", *map(str, [corpus[2], *extras]), "--store", str(store))
        seen_during: dict[str, int] = {}
        deadline = time.monotonic() + CHILD_TIMEOUT
        while writer.poll() is None and time.monotonic() < deadline:
            for record in rag.documents():
                if record.doc != corpus[0].name and record.doc not in seen_during and writer.poll() is None:
                    seen_during[record.doc] = rag.stats(doc=record.doc)["entities"]
            time.sleep(0.2)
        _finish(writer)
        assert seen_during, "no document was seen committed while the other ingest ran"
        assert all(n > 0 for n in seen_during.values()), seen_during  # its graph entities too, read from the log
        assert {r.doc for r in rag.documents()} == {p.name for p in [corpus[0], corpus[2], *extras]}
        found = {n.node.metadata["doc"] for n in rag.as_retriever(top_k=5).retrieve("What talks to Milvus through the Proxy?")}
        assert corpus[2].name in found
    # the other process appended its documents to the logs: the graph file itself was not rewritten
    assert {p: p.stat().st_mtime_ns for p in graph_files} == graph_files
    assert any(p.stat().st_size for p in _logs(store))


def test_a_torn_log_line_is_never_read_and_the_next_append_replaces_it(tmp_path: Path) -> None:
    """What a reader in another process sees while an append is under way: the whole lines only."""
    from llama_index_mmrag.graph.change_log import append_changes, read_changes

    log = tmp_path / f"graph.graphml{LOG_SUFFIX}"
    append_changes(log, [{"n": "Milvus", "d": {"entity_type": "PRODUCT"}}])
    with open(log, "ab") as handle:
        handle.write(b'{"n":"Lite","d":{"entity_')  # an append cut short
    assert read_changes(log) == [{"n": "Milvus", "d": {"entity_type": "PRODUCT"}}]
    append_changes(log, [{"dn": "Milvus"}])  # the next append follows the last whole line
    assert read_changes(log) == [{"n": "Milvus", "d": {"entity_type": "PRODUCT"}}, {"dn": "Milvus"}]


def test_a_reader_never_pairs_a_file_with_a_log_a_compaction_emptied_meanwhile(tmp_path: Path) -> None:
    """A writer in another process writes the file whole and empties its log just after a reader read the file:
    the reader reads again, and never sees the old file without the log's changes."""
    from llama_index_mmrag.graph.change_log import (
        append_changes,
        apply_kv_changes,
        change_log_path,
        read_with_changes,
        replace_with_empty,
    )

    path = tmp_path / "kv_store_text_chunks.json"
    path.write_text(json.dumps({"chunk-1": "Milvus"}))
    log = change_log_path(path)
    append_changes(log, [{"k": "chunk-2", "v": "Lite"}])
    reads = []

    def read_then_a_compaction_happens(file: Path) -> dict[str, str]:
        data = json.loads(file.read_text())
        if not reads:
            staged = tmp_path / ".staged.json"
            staged.write_text(json.dumps({"chunk-1": "Milvus", "chunk-2": "Lite"}))
            os.replace(staged, file)
            replace_with_empty(log)
        reads.append(file)
        return data

    data, changes = read_with_changes(path, read_then_a_compaction_happens)
    assert apply_kv_changes(data, changes) == {"chunk-1": "Milvus", "chunk-2": "Lite"}
    assert len(reads) == 2
