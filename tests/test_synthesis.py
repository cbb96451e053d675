"""Extractive answers quote the evidence that answers: a table's row with its header, even when prose of the
same page ranked higher."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index_mmrag.retrievers.fusion import aggregate_pages
from llama_index_mmrag.synthesis import extractive_answer, table_units
from tests.support.pdfs import TERMINAL_PROSE, TERMINAL_ROWS, make_table_answer_pdf

QUESTION = "How many containers did the West terminal handle in 2024?"
MARKDOWN = "\n".join(
    ["| " + " | ".join(TERMINAL_ROWS[0]) + " |", "|---|---|---|"] + ["| " + " | ".join(r) + " |" for r in TERMINAL_ROWS[1:]]
)
HTML = "<table>" + "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in TERMINAL_ROWS) + "</table>"


def _node(node_id: str, text: str, modality: str, page: int = 0, score: float = 1.0) -> NodeWithScore:
    meta = {"doc": "report.pdf", "page": page, "modality": modality}
    return NodeWithScore(node=TextNode(id_=node_id, text=text, metadata=meta), score=score)


@pytest.mark.parametrize("body", [MARKDOWN, HTML], ids=["markdown", "html"])
def test_each_table_row_is_a_unit_with_its_header_and_caption(body: str) -> None:
    units = table_units(f"Table: Table 2: Containers handled per terminal\nColumns: Terminal, Containers 2024, Cranes\n3 rows x 3 columns\n{body}")
    assert units == [
        "Table 2: Containers handled per terminal — Terminal: North; Containers 2024: 9,020; Cranes: 6",
        "Table 2: Containers handled per terminal — Terminal: West; Containers 2024: 8,150; Cranes: 4",
        "Table 2: Containers handled per terminal — Terminal: East; Containers 2024: 7,310; Cranes: 5",
    ]


def test_the_answer_quotes_the_table_cell_of_a_page_whose_prose_ranked_first() -> None:
    pages = aggregate_pages([
        _node("prose", TERMINAL_PROSE, "text", score=0.5),
        _node("other", "The dredging programme finished ahead of schedule.", "text", page=1, score=0.4),
        _node("table", f"Table 2: Containers handled per terminal\n{MARKDOWN}", "table", score=0.3),
    ])
    answer = extractive_answer(QUESTION, pages)
    assert answer is not None
    first = answer.split("]")[0]
    assert "West" in first and "8,150" in first and "12,400" not in first
    assert "report.pdf" in first and "table" in first  # cited as the table it came from, not as the page's prose


def test_a_single_table_node_described_in_prose_is_quoted_from_its_body() -> None:
    node = TextNode(
        id_="t", text="A table listing containers handled per terminal.",
        metadata={"doc": "report.pdf", "page": 0, "modality": "table", "table_body": MARKDOWN},
    )
    answer = extractive_answer(QUESTION, [NodeWithScore(node=node, score=1.0)])
    assert answer is not None and "Terminal: West; Containers 2024: 8,150" in answer


@pytest.fixture(scope="module")
def table_rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from llama_index_mmrag import MultimodalRAG

    folder = tmp_path_factory.mktemp("table-answer")
    facts = make_table_answer_pdf(folder / "terminals.pdf")
    rag = MultimodalRAG(storage_dir=folder / "store", top_k=5)
    report = rag.ingest([facts["path"]], show_progress=False)
    assert report.ok, report.failures
    yield rag
    rag.close()


def test_a_question_answered_only_by_a_table_quotes_the_tables_number(table_rag: object) -> None:
    response = table_rag.as_query_engine().query(QUESTION)  # type: ignore[attr-defined]
    answer = str(response.response)
    assert "8,150" in answer, answer
    assert "12,400" not in answer or answer.index("8,150") < answer.index("12,400"), answer
    page = next(n for n in response.source_nodes if n.node.metadata["page"] == 0)
    assert "table" in page.node.metadata["modalities"]
    assert "8,150" in page.node.get_content()


async def test_the_async_engine_quotes_the_same_cell(table_rag: object) -> None:
    response = await table_rag.as_query_engine().aquery(QUESTION)  # type: ignore[attr-defined]
    assert "8,150" in str(response.response)
