"""An evaluation goes on when a document fails to ingest: its doc-restricted questions count as misses (a name
the store does not hold is an error for a user's retriever, not for a benchmark run)."""

from __future__ import annotations

import json
from pathlib import Path

from llama_index_mmrag.eval_runner import run_evaluation
from tests.support.pdfs import make_text_pdf


def test_a_document_that_failed_to_ingest_counts_as_misses(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_text_pdf(docs / "tonnage.pdf", pages=3)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<")
    with open(tmp_path / "questions.jsonl", "w", encoding="utf-8") as out:
        for qid, question, doc, page in (
            ("q1", "How much tonnage was handled in month 2?", "tonnage.pdf", 1),
            ("q2", "What does the broken report say?", "broken.pdf", 0),
        ):
            record = {"qid": qid, "question": question, "answer": "", "answer_format": "Str", "doc": doc,
                      "doc_type": "test", "evidence_sources": ["Pure-text (Plain-text)"], "answerable": True,
                      "relevant_pages": [[doc, page]]}
            out.write(json.dumps(record) + "\n")

    report = run_evaluation(tmp_path, top_k=3, show_progress=False)

    assert [f.split(":")[0] for f in report["details"]["ingest_failures"]] == ["broken.pdf"]
    restricted = report["ours"]["doc_restricted"]
    assert restricted["n"] == 2 and restricted["hit@5"] == 0.5  # tonnage.pdf found, broken.pdf a miss
