"""Every reader of table markup (offline descriptions, answers, row splitting of big tables, the graph's
sentence splitter) recognises the same separator rows, in every form Markdown writers produce."""

from __future__ import annotations

import pytest

from llama_index_mmrag.graph.extract import split_sentences
from llama_index_mmrag.schema.tables import is_separator_row, split_markdown_table, table_rows, table_shape

SEPARATORS = ["|---|---|", "| :-- | --: |", "|:-:|:-:|", "|-|-|", "+---+---+", "  | --- | --- |  "]


@pytest.mark.parametrize("separator", SEPARATORS)
def test_a_separator_row_in_any_form_is_read_as_one(separator: str) -> None:
    body = f"| Index | Recall |\n{separator}\n| HNSW | 0.98 |\n| IVF_FLAT | 0.95 |"
    assert is_separator_row(separator)
    assert table_rows(body) == [["Index", "Recall"], ["HNSW", "0.98"], ["IVF_FLAT", "0.95"]]
    assert table_shape(body) == (["Index", "Recall"], 2, 2)
    assert split_markdown_table(body) == (["| Index | Recall |", separator], ["| HNSW | 0.98 |", "| IVF_FLAT | 0.95 |"])
    assert " ".join(separator.split()) not in split_sentences(body)


@pytest.mark.parametrize("line", ["| a | b |", "- item", "Revenue - costs", "a | b", ""])
def test_rows_and_text_are_not_separators(line: str) -> None:
    assert not is_separator_row(line) or line == ""  # an empty line never reaches the check


def test_the_first_table_of_a_description_is_read_header_first() -> None:
    text = "Table: Index recall\nColumns: Index, Recall\n| Index | Recall |\n|---|---|\n| HNSW | 0.98 |\n\nafter | x"
    assert table_rows(text) == [["Index", "Recall"], ["HNSW", "0.98"]]
    html = "<table><tr><th>Index</th><th>Recall</th></tr><tr><td>HNSW</td><td>0.98 &amp; up</td></tr></table>"
    assert table_rows(html) == [["Index", "Recall"], ["HNSW", "0.98 & up"]]
    assert split_markdown_table("| only a header |\n|---|") is None
