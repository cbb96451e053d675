"""Pages people read are numbered from 1 (citations, the CLI's tables); JSON keeps the 0-based ``page`` and adds
``page_number``; a question naming "page 6" still means the 6th page."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.synthesis import citation
from tests.cli.conftest import invoke, last_json
from tests.support.pdfs import make_text_pdf


@pytest.mark.parametrize(("page", "shown"), [(0, "p.1"), (35, "p.36"), (None, "p.?")])
def test_citations_count_pages_from_one(page: int | None, shown: str) -> None:
    node = TextNode(text="x", metadata={"doc": "deck.pdf", "page": page, "modality": "image"})
    assert citation(NodeWithScore(node=node, score=1.0)) == f"[deck.pdf, {shown}, image]"


@pytest.fixture(scope="module")
def report_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one seven-page text PDF (page N says "Section N ... month N")."""
    folder = tmp_path_factory.mktemp("pages")
    make_text_pdf(folder / "tonnage.pdf", pages=7)
    with MultimodalRAG(storage_dir=folder / "store", top_k=3) as rag:
        assert rag.ingest([folder / "tonnage.pdf"], show_progress=False).ok
    return folder / "store"


def test_a_question_naming_page_6_is_answered_from_the_6th_page_and_cited_as_p6(report_store: Path) -> None:
    result = invoke("query", "What is reported on page 6?", "--store", str(report_store), "--json")
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    top = payload["sources"][0]
    assert top["page"] == 5 and top["page_number"] == 6 and "month 6" in top["text"]
    assert "[tonnage.pdf, p.6, text]" in payload["answer"]
    for source in payload["sources"]:
        assert source["page_number"] == source["page"] + 1


def test_the_query_table_shows_pages_from_one(report_store: Path) -> None:
    result = invoke("query", "What is reported on page 7?", "--store", str(report_store))
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if "tonnage.pdf" in line and "│" in line)
    cells = [c.strip() for c in row.split("│")]  # "", #, doc, page, modality, score, text, ""
    assert cells[2] == "tonnage.pdf" and cells[3] == "7"


def test_parse_json_adds_page_number_and_the_table_counts_from_one(tmp_path: Path) -> None:
    pdf = tmp_path / "three.pdf"
    make_text_pdf(pdf, pages=3)
    result = invoke("parse", str(pdf), "--json", "--output-dir", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    blocks = last_json(result.stdout)
    assert sorted({b["page"] for b in blocks}) == [0, 1, 2]
    assert all(b["page_number"] == b["page"] + 1 for b in blocks)

    table = invoke("parse", str(pdf), "--output-dir", str(tmp_path / "out2"))
    rows = [[c.strip() for c in line.split("│")] for line in table.stdout.splitlines() if "Section" in line]
    assert [row[3] for row in rows] == ["1", "2", "3"]
