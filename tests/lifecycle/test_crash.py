"""``kill -9`` in the middle of an ingest, then the same ingest again: the store ends exactly as a clean ingest
leaves it (Milvus rows per modality and their ids, graph entities, relations, their sources and weights,
LightRAG's vectors, the manifest), and right after the recovery it holds exactly the documents committed before
the kill.

The child process (``tests/lifecycle/crash_child.py``) is killed two ways: by the ``MMRAG_TEST_CRASH_AT`` hook
after the Milvus and graph writes of the second document, before its commit, and by the parent at a random
moment during the batch. (A death
half-way through LightRAG's persistence is simulated in-process in ``test_recovery.py``.)
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.index.crash import CRASH_ENV
from tests.lifecycle.store_state import diff, store_state

ROOT = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 240


def _child(store: Path, files: list[Path], crash_at: str | None = None) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != CRASH_ENV}
    if crash_at:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lifecycle.crash_child", str(store), *map(str, files)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def _assert_killed(proc: subprocess.Popen[str]) -> str:
    output, _ = proc.communicate(timeout=CHILD_TIMEOUT)
    assert proc.returncode == -signal.SIGKILL, f"the child was not killed (rc {proc.returncode}):\n{output[-3000:]}"
    assert "DONE" not in output
    return output


def _graph_files(folder: Path) -> dict[str, bytes]:
    """The graph's files under ``folder`` (LightRAG's working dir, or a copy of it), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")}


def _recover_and_check(
    store: Path, corpus: list[Path], reference: list[dict[str, Any]], graph_before: dict[str, bytes] | None = None
) -> int:
    """Open the crashed store (recovery), compare with the clean prefix (and, given, the graph's files with those
    before the interrupted write), re-ingest, compare with the full store."""
    with MultimodalRAG(storage_dir=store) as rag:
        if graph_before is not None:
            assert _graph_files(store / "lightrag") == graph_before
        committed = len(rag.documents())
        assert [r.doc for r in rag.documents()] == sorted(p.name for p in corpus[:committed])
        after_recovery = store_state(rag)
        assert not after_recovery["journal_pending"]
        assert diff(after_recovery, reference[committed]) == []
        report = rag.ingest(corpus, show_progress=False)
        assert report.ok, report.failures
        assert report.unchanged == [p.name for p in corpus[:committed]]
        assert report.ingested == [p.name for p in corpus[committed:]]
        assert diff(store_state(rag), reference[-1]) == []
    return committed


def test_a_kill_after_the_graph_write_before_its_commit_rolls_back_to_the_graph_before_it_and_the_same_ingest_matches_a_clean_one(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = tmp_path / "store"
    output = _assert_killed(_child(store, corpus, crash_at="after_graph:2"))
    pending = json.loads((store / "journal" / "pending.json").read_text())
    assert (pending["op"], pending["doc"], pending["stage"]) == ("ingest", "b.png", "started"), output[-2000:]
    manifest = json.loads((store / "manifest.json").read_text())
    assert list(manifest["docs"]) == ["a.txt"]
    # the journal kept the graph's files as a.txt's commit left them; b.png's graph write has replaced them since
    before = _graph_files(store / "journal" / "graph-before" / "tree")
    assert before and before != _graph_files(store / "lightrag")
    assert _recover_and_check(store, corpus, reference_states, graph_before=before) == 1


def test_a_kill_at_a_random_moment_of_a_batch_recovers_exactly(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    seed = int(os.environ.get("MMRAG_CRASH_SEED", time.time_ns() % 10_000))
    delay = random.Random(seed).uniform(0.0, 1.5)
    store = tmp_path / "store"
    proc = _child(store, corpus)
    manifest = store / "manifest.json"
    deadline = time.monotonic() + CHILD_TIMEOUT
    while proc.poll() is None and not manifest.exists():  # the first document is committed: the batch is under way
        assert time.monotonic() < deadline, "the child never committed a document"
        time.sleep(0.02)
    time.sleep(delay)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    output, _ = proc.communicate(timeout=CHILD_TIMEOUT)
    print(f"killed after {delay:.2f} s (MMRAG_CRASH_SEED={seed}); child said: {output[-300:]!r}")
    committed = _recover_and_check(store, corpus, reference_states)
    print(f"{committed} of {len(corpus)} documents were committed before the kill")
    assert 1 <= committed <= len(corpus)
