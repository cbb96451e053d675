"""The usage examples in the processors' docstrings run, and the question-intent rules hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

from llama_index_mmrag.processors import targeted_modalities

MODULES = [
    "llama_index_mmrag.processors",
    "llama_index_mmrag.processors.annotate",
    "llama_index_mmrag.processors.cache",
    "llama_index_mmrag.processors.describer",
    "llama_index_mmrag.processors.intent",
    "llama_index_mmrag.processors.items",
    "llama_index_mmrag.processors.kg",
    "llama_index_mmrag.processors.offline",
    "llama_index_mmrag.processors.postprocessors",
    "llama_index_mmrag.processors.rag_anything",
    "tests.support.fake_mm_llm",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


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
