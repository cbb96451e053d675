"""Every public class has a usage example in its docstring that runs (``--doctest-modules`` runs them; this
checks that each exists and is not skipped)."""

from __future__ import annotations

import doctest

import pytest

import llama_index_mmrag

PUBLIC_CLASSES = sorted(
    name
    for name in llama_index_mmrag.__all__
    if isinstance(getattr(llama_index_mmrag, name), type)
    and not issubclass(getattr(llama_index_mmrag, name), BaseException)  # errors: see errors.py and the README
)


def test_the_public_api_is_walked() -> None:
    assert {"MultimodalRAG", "RAGAnythingReader", "MultimodalCompositeRetriever", "MMRAGSettings"} <= set(PUBLIC_CLASSES)


@pytest.mark.parametrize("name", PUBLIC_CLASSES)
def test_a_public_class_has_an_example_that_runs(name: str) -> None:
    cls = getattr(llama_index_mmrag, name)
    found = doctest.DocTestFinder(recurse=False).find(cls, name)
    executed = [e for test in found for e in test.examples if not e.options.get(doctest.SKIP)]
    assert executed, f"{cls.__module__}.{name} has no docstring example that runs (add one, without +SKIP)"
