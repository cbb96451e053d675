"""Several processes on one default (Milvus Lite) store: queries from other processes during an ingest, two
ingests at once, and a long-lived process that keeps up with what another one wrote.

The process boundary is the point here, so these tests run real ``mmrag`` and Python processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from llama_index_mmrag import MultimodalRAG
from tests.lifecycle.store_state import store_state
from tests.support.pdfs import make_text_pdf
from tests.support.processes import ROOT, project_env, start_mmrag

WAIT_S = 900  # a ceiling for a busy CI machine, never a timing claim


def _finish(proc: subprocess.Popen[str]) -> tuple[str, str]:
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    return out, err


def _extra_files(folder: Path, prefix: str, count: int) -> list[Path]:
    files = []
    for i in range(count):
        path = folder / f"{prefix}-{i}.txt"
        path.write_text(
            f"Release {prefix} {i} notes.\n\nThe Index Node of cluster {prefix} builds index {i} for the sealed "
            f"segments of collection {prefix}{i}, and the Query Node of cluster {prefix} serves it.\n"
        )
        files.append(path)
    return files


def test_32_queries_from_other_processes_all_answer_during_a_multi_file_ingest(
    tmp_path: Path, corpus: list[Path]
) -> None:
    store = tmp_path / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([corpus[0]], show_progress=False).ok
    pdf = tmp_path / "tonnage.pdf"
    make_text_pdf(pdf, 8)  # parsed by forked page workers
    batch = [*corpus[1:], pdf, *_extra_files(tmp_path, "batch", 6)]

    go = tmp_path / "go"
    askers = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.lifecycle.query_child", str(store), str(go), "8"],
            cwd=ROOT, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    for asker in askers:  # every asker has the store open before the ingest starts
        assert asker.stdout is not None
        line = asker.stdout.readline()
        assert line.strip() == "READY", (line, asker.stderr.read() if asker.poll() is not None else "")
    ingest = start_mmrag("ingest", *map(str, batch), "--store", str(store))
    manifest = store / "manifest.json"
    before = manifest.stat().st_mtime_ns
    deadline = time.monotonic() + WAIT_S
    while manifest.stat().st_mtime_ns == before and ingest.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the ingest has committed its first document
    ingest_running_at_go = ingest.poll() is None
    go.touch()

    results: list[dict[str, Any]] = []
    for asker in askers:
        out, err = asker.communicate(timeout=WAIT_S)
        assert asker.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    out, err = _finish(ingest)
    ingest_ended = time.time()

    assert ingest_running_at_go, "the ingest finished before the queries started: the batch is too small"
    assert [e for r in results for e in r["errors"]] == []
    answers = [docs for r in results for docs in r["docs"]]
    assert len(answers) == 32 and all(answers), answers  # every question found something
    assert min(r["started"] for r in results) < ingest_ended
    with MultimodalRAG(storage_dir=store) as rag:
        assert {r.doc for r in rag.documents()} == {p.name for p in [corpus[0], *batch]}


def test_two_ingests_at_once_both_complete_and_the_graph_keeps_both(tmp_path: Path, corpus: list[Path]) -> None:
    store = tmp_path / "store"
    pdf = tmp_path / "tonnage.pdf"
    make_text_pdf(pdf, 4)
    first_batch = [corpus[0], pdf, *_extra_files(tmp_path, "north", 3)]
    second_batch = [corpus[2], *_extra_files(tmp_path, "south", 3)]
    first, second = start_mmrag("ingest", *map(str, first_batch), "--store", str(store)), start_mmrag(
        "ingest", *map(str, second_batch), "--store", str(store)
    )
    _finish(first)
    _finish(second)
    with MultimodalRAG(storage_dir=store) as rag:
        assert {r.doc for r in rag.documents()} == {p.name for p in [*first_batch, *second_batch]}
        state = store_state(rag)
    entities = {e.lower() for e in state["entities"]}
    for cluster in ("north", "south"):  # neither writer wrote its stale graph over the other's entities
        assert any(cluster in e for e in entities), (cluster, sorted(entities)[:40])
    assert not state["milvus_duplicates"]


def test_an_open_store_sees_another_process_ingest_and_its_own_write_keeps_it(
    tmp_path: Path, corpus: list[Path], reference_states: list[dict[str, Any]]
) -> None:
    store = tmp_path / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([corpus[0]], show_progress=False).ok
        entities_before = rag.stats()["entities"]
        _finish(start_mmrag("ingest", str(corpus[2]), "--store", str(store)))  # another process writes meanwhile
        assert {r.doc for r in rag.documents()} == {corpus[0].name, corpus[2].name}
        found = {n.node.metadata["doc"] for n in rag.as_retriever(top_k=5).retrieve("What talks to Milvus through the Proxy?")}
        assert corpus[2].name in found
        assert rag.stats()["entities"] > entities_before  # the graph too, not only Milvus and the manifest
        assert rag.ingest([corpus[1]], show_progress=False).ok  # this process writes after the other one
        state = store_state(rag)
    ref = reference_states[-1]
    assert set(state["entities"]) == set(ref["entities"]) and set(state["relations"]) == set(ref["relations"])
    assert state["milvus_ids"] == ref["milvus_ids"] and state["manifest"] == ref["manifest"]


OPENER = """
import sys, time
from pathlib import Path
from llama_index_mmrag import MultimodalRAG
go = Path(sys.argv[2])
print("READY", flush=True)
while not go.exists():
    time.sleep(0.01)
with MultimodalRAG(storage_dir=sys.argv[1]) as rag:
    rag.stats()  # opens the graph's collections too
print("OPENED", flush=True)
"""


def test_processes_opening_a_new_store_at_the_same_moment_all_open_it(tmp_path: Path) -> None:
    store, go = tmp_path / "store", tmp_path / "go"
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(store), str(go)],
            cwd=ROOT, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(3)
    ]
    for opener in openers:
        assert opener.stdout is not None and opener.stdout.readline().strip() == "READY"
    go.touch()  # all three create the store's collections at once
    for opener in openers:
        out, err = opener.communicate(timeout=WAIT_S)
        assert opener.returncode == 0 and "OPENED" in out, err[-3000:]
