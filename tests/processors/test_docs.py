"""The question-intent rules hold (the processors' docstring examples run with ``--doctest-modules``)."""

from __future__ import annotations

import pytest

from llama_index_mmrag.processors import targeted_modalities


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which figure shows the Query Node?", {"image"}),
        ("What does the architecture diagram contain?", {"image"}),
        ("Describe the chart on page 3", {"image"}),
        ("In the table, what is the recall of HNSW?", {"table"}),
        ("Which column lists the latency?", {"table"}),
        ("What is the formula for cosine similarity?", {"equation"}),
        ("Explain the equation and the table", {"equation", "table"}),
        ("How does Milvus store vectors?", set()),
        ("How large is the hash table in the proxy?", set()),
    ],
)
def test_question_intent(question: str, expected: set[str]) -> None:
    assert targeted_modalities(question) == expected
