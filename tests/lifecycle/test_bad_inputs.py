"""Thirty kinds of bad or awkward input in one batch: each failure names the file and the reason, the store holds
nothing of the failed files, every good file of the batch is ingested, and ``mmrag ingest`` exits non-zero."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.ingestion import IngestReport
from llama_index_mmrag.stores.milvus import scan_rows
from tests.support.bad_inputs import GOOD_TEXT, KINDS, LATIN1_TEXT, BadInput, make_bad_inputs

pytestmark = pytest.mark.filterwarnings("ignore:Could not process an image")  # the remote <img>, refused on purpose


@dataclass
class Batch:
    cases: dict[str, BadInput]
    report: IngestReport
    manifest_docs: set[str]
    milvus_docs: set[str]
    texts: dict[str, str]
    journal_pending: bool


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Batch:
    cases = {case.kind: case for case in make_bad_inputs(tmp_path_factory.mktemp("bad"))}
    good = tmp_path_factory.mktemp("good") / "good.txt"
    good.write_text(GOOD_TEXT)
    paths = [good, *(p for case in cases.values() if case.skip is None for p in case.paths)]
    with MultimodalRAG(storage_dir=tmp_path_factory.mktemp("store")) as rag:
        report = rag.ingest(paths, show_progress=False)
        rows = list(scan_rows(rag.vector_store, ["doc", "text"]))
        return Batch(
            cases=cases,
            report=report,
            manifest_docs={r.doc for r in rag.documents()},
            milvus_docs={str(r["doc"]) for r in rows},
            texts={str(r["doc"]): str(r["text"]) for r in rows},
            journal_pending=rag.index.journal.pending() is not None,
        )


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_fails_with_its_reason_or_is_ingested(batch: Batch, kind: str) -> None:
    case = batch.cases[kind]
    if case.skip:
        pytest.skip(case.skip)
    failures = {f.path.name: f for f in batch.report.failures}
    for name in case.names:
        if case.outcome == "fail":
            assert name in failures, f"{kind}: {name} was not reported ({sorted(failures)})"
            failure = failures[name]
            assert case.words.lower() in failure.reason.lower(), f"{kind}: {failure.reason}"
            assert failure.path.name == name and len(failure.reason) > 20
            assert name not in batch.milvus_docs or name in case.also_ok  # nothing of it is stored
        else:
            assert name not in failures, f"{kind}: {failures[name].reason if name in failures else ''}"
            assert name in batch.report.ingested and name in batch.manifest_docs and name in batch.milvus_docs
    for name in case.also_ok:
        assert name in batch.manifest_docs and name in batch.milvus_docs


def test_the_store_holds_exactly_the_good_files(batch: Batch) -> None:
    expected = {"good.txt"}
    for case in batch.cases.values():
        if case.skip is None:
            expected |= set(case.names if case.outcome == "ok" else case.also_ok)
    assert batch.manifest_docs == expected
    assert batch.milvus_docs == expected
    assert sorted(batch.report.ingested) == sorted(expected)
    assert batch.report.ingested.count("inside.txt") == 1  # the folder given twice is read once
    assert not batch.journal_pending
    n_failing = sum(len(c.names) for c in batch.cases.values() if c.outcome == "fail" and c.skip is None)
    assert len(batch.report.failures) == n_failing


def test_non_utf8_text_is_decoded_and_a_huge_line_is_split(batch: Batch) -> None:
    assert LATIN1_TEXT.strip() in batch.texts["latin1.txt"]
    assert "Unicode text saved as UTF-16" in batch.texts["utf16.txt"]
    assert all(len(text.encode()) < 65_535 for text in batch.texts.values())


def test_cli_ingest_exits_non_zero_names_each_failed_file_and_stores_the_rest(
    batch: Batch, tmp_path: Path
) -> None:
    picked = [batch.cases[k] for k in ("password_pdf", "png_named_pdf", "docx_zip_bomb", "quotes_in_name")]
    paths = [str(p) for case in picked for p in case.paths]
    store = tmp_path / "store"
    result = CliRunner().invoke(app, ["ingest", *paths, "--store", str(store)])
    assert result.exit_code == 1, result.output
    flat = " ".join(result.output.split())
    for case in picked[:3]:
        assert f"failed: {case.paths[0]}" in flat and case.words.lower() in flat.lower()
    assert "ingested 1 document(s)" in flat and "3 failed" in flat
    with MultimodalRAG(storage_dir=store) as rag:
        assert [r.doc for r in rag.documents()] == [picked[3].names[0]]
        stats: dict[str, Any] = dict(rag.stats())
        assert stats["docs"] == 1
