"""`mmrag eval` on a small labelled set the test generates: metrics, schema, and the baseline beside ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app
from llama_index_mmrag.evaluation import EvalQuestion, QuestionResult, compute_metrics, load_questions
from tests.support.pdfs import make_sample_pdf, make_text_pdf

M_KEYS = {"hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10", "n", "by_source"}
R_KEYS = {"doc_restricted", "corpus_wide", "ingest_s_per_page", "query_p50_ms"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("labelled")
    docs = root / "docs"
    docs.mkdir()
    facts = make_sample_pdf(docs / "harbour_report.pdf")
    months = make_text_pdf(docs / "tonnage.pdf", pages=6)
    questions = [
        {"question": "What was the Q3 volume of the North region?", "doc": "harbour_report.pdf",
         "pages": [facts["table"]["page"]], "sources": ["Table"]},
        {"question": "Which invoice number is on the scanned delivery note?", "doc": "harbour_report.pdf",
         "pages": [facts["scan"]["page"]], "sources": ["Figure"]},
        {"question": "How did the automated stacking cranes in the eastern yard perform?", "doc": "harbour_report.pdf",
         "pages": [facts["columns"]["page"]], "sources": ["Pure-text (Plain-text)"]},
        {"question": "Which harbour was invoice 48213 shipped to?", "doc": "harbour_report.pdf",
         "pages": [facts["scan"]["page"]], "sources": ["Figure"]},
        {"question": "How much tonnage was handled in month 5?", "doc": "tonnage.pdf", "pages": [4],
         "sources": ["Pure-text (Plain-text)"]},
        {"question": "Who won the 1998 world cup?", "doc": "tonnage.pdf", "pages": [], "sources": [], "answerable": False},
    ]
    assert "month 5" in months[4]
    with open(root / "questions.jsonl", "w", encoding="utf-8") as out:
        for i, q in enumerate(questions):
            record = {
                "qid": f"t{i}", "question": q["question"], "answer": "", "answer_format": "Str", "doc": q["doc"],
                "doc_type": "test", "evidence_sources": q["sources"], "answerable": q.get("answerable", True),
                "relevant_pages": [[q["doc"], p] for p in q["pages"]],
            }
            out.write(json.dumps(record) + "\n")
    return root


def test_metrics_follow_their_definitions() -> None:
    q = EvalQuestion("q", "?", "a.pdf", frozenset({("a.pdf", 1), ("a.pdf", 3)}), ("Table",))
    miss = QuestionResult(EvalQuestion("m", "?", "a.pdf", frozenset({("a.pdf", 9)}), ("Chart",)), [("a.pdf", 0)] * 10)
    hit = QuestionResult(q, [("a.pdf", 0), ("a.pdf", 3), ("b.pdf", 1), ("a.pdf", 1)])
    m = compute_metrics([hit, miss])
    assert m["hit@1"] == 0.0 and m["hit@5"] == 0.5 and m["n"] == 2
    assert m["recall@5"] == 0.5  # both relevant pages of q in its top 5, none for the miss
    assert m["mrr@10"] == 0.25
    assert m["by_source"] == {"Chart": {"hit@5": 0.0, "n": 1}, "Table": {"hit@5": 1.0, "n": 1}}


def test_unanswerable_questions_are_skipped(dataset: Path) -> None:
    assert len(load_questions(dataset)) == 5
    assert len(load_questions(dataset, answerable_only=False)) == 6


def test_eval_cli_reports_ours_and_the_baseline(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = CliRunner().invoke(app, ["eval", "--dataset", str(dataset), "--baseline", "--json", str(out), "--top-k", "1"])
    assert result.exit_code == 0, result.output
    assert "hit@5" in result.stdout and "peak RSS" in result.stdout
    report = json.loads(out.read_text())
    assert set(report) == {"ours", "baseline"}
    for side in ("ours", "baseline"):
        assert set(report[side]) == R_KEYS
        for setting in ("doc_restricted", "corpus_wide"):
            assert set(report[side][setting]) == M_KEYS and report[side][setting]["n"] == 5
    ours, base = report["ours"], report["baseline"]
    # top-1 only: the scanned page has no text layer, so only OCR puts it first
    assert ours["doc_restricted"]["by_source"]["Figure"]["hit@5"] == 1.0
    assert base["doc_restricted"]["by_source"]["Figure"]["hit@5"] < 1.0
    assert ours["corpus_wide"]["hit@1"] >= 0.8
    assert ours["ingest_s_per_page"] > 0 and ours["query_p50_ms"] > 0


def test_eval_names_a_missing_dataset(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--dataset", str(tmp_path)])
    assert result.exit_code == 2 and "questions.jsonl" in result.output
