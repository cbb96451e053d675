"""Every public class of the package has a docstring example that runs.

A public class is any class with a public name defined in a public module of the package: everything exported
from ``llama_index_mmrag`` and from its sub-packages' ``__all__``, and every class of the modules the README's
architecture table names (it names every folder, so every module). ``--doctest-modules`` runs the examples
(pyproject.toml); this checks that each class has one and that it is not made only of ``+SKIP`` lines (an
example that needs a service unreachable offline, a Milvus server or a real DashScope key, may be skipped only
beside one that runs offline).
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
from types import ModuleType

import pytest

import llama_index_mmrag


def _public_modules() -> dict[str, ModuleType]:
    found = {"llama_index_mmrag": llama_index_mmrag}
    for info in pkgutil.walk_packages(llama_index_mmrag.__path__, "llama_index_mmrag."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue  # private modules and ``__main__`` entry points
        found[info.name] = importlib.import_module(info.name)
    return found


def _public_classes() -> dict[str, type]:
    classes: dict[str, type] = {}
    for module_name, module in _public_modules().items():
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module_name and not name.startswith("_"):
                classes[f"{module_name}.{name}"] = value
    return classes


PUBLIC_CLASSES = _public_classes()


def _executed_examples(cls: type) -> list[doctest.Example]:
    tests = doctest.DocTestFinder(recurse=False).find(cls, cls.__name__)
    return [example for test in tests for example in test.examples if not example.options.get(doctest.SKIP)]


def test_the_walk_finds_the_exported_and_the_internal_classes() -> None:
    exported = {
        name
        for name in llama_index_mmrag.__all__
        if isinstance(getattr(llama_index_mmrag, name), type)
    }
    walked = {cls.__name__ for cls in PUBLIC_CLASSES.values()}
    assert exported <= walked, exported - walked
    for package in ("schema", "processors", "modalities", "parsing", "ingestion", "index", "models.dashscope"):
        sub = importlib.import_module(f"llama_index_mmrag.{package}")
        classes = {name for name in sub.__all__ if isinstance(getattr(sub, name), type)}
        assert classes <= walked, (package, classes - walked)
    assert {"ContentBlock", "GraphStore", "OpenStore", "ExtractiveSynthesizer", "LiteServerError"} <= walked


@pytest.mark.parametrize("qualname", sorted(PUBLIC_CLASSES))
def test_a_public_class_has_an_example_that_runs(qualname: str) -> None:
    cls = PUBLIC_CLASSES[qualname]
    assert _executed_examples(cls), (
        f"{qualname} has no docstring example that runs: add one (a +SKIP example that needs a service "
        "unreachable offline does not count; give the offline form beside it)"
    )
