"""One error hierarchy: every exception class the package defines is an MMRAGError (and still the builtin it
always was), each name is defined once, and every public error is importable from the package itself."""

from __future__ import annotations

import importlib
import pkgutil
from collections import defaultdict
from pathlib import Path

import pytest

import llama_index_mmrag
from llama_index_mmrag.errors import InputError, MMRAGError, ModelError, StoreError


def _package_exceptions() -> list[type[BaseException]]:
    """Every exception class defined in a module of the package (walks the modules, so a new one is seen)."""
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(llama_index_mmrag.__path__, f"{llama_index_mmrag.__name__}."):
        module = importlib.import_module(info.name)
        found += [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, BaseException) and value.__module__ == module.__name__
        ]
    return found


EXCEPTIONS = _package_exceptions()


def test_the_walk_finds_the_errors_of_every_layer() -> None:
    assert len(EXCEPTIONS) >= 18
    assert {"ParseError", "StoreBusyError", "DashScopeError", "EmptyQuestionError"} <= {e.__name__ for e in EXCEPTIONS}


@pytest.mark.parametrize("error", EXCEPTIONS, ids=lambda e: f"{e.__module__}.{e.__qualname__}")
def test_every_exception_class_of_the_package_is_an_mmrag_error_of_one_family(error: type[BaseException]) -> None:
    assert issubclass(error, MMRAGError)
    assert error in (MMRAGError, InputError, StoreError, ModelError) or issubclass(error, (InputError, StoreError, ModelError))


def test_each_error_name_is_defined_once() -> None:
    homes: dict[str, list[str]] = defaultdict(list)
    for error in EXCEPTIONS:
        homes[error.__name__].append(error.__module__)
    assert {name: modules for name, modules in homes.items() if len(modules) > 1} == {}


def test_every_public_error_is_importable_from_the_package() -> None:
    public = {e.__name__: e for e in EXCEPTIONS if not e.__name__.startswith("_")}
    assert {name: getattr(llama_index_mmrag, name, None) for name in public} == public
    assert set(public) <= set(llama_index_mmrag.__all__)
    from llama_index_mmrag import MMRAGError as Root
    from llama_index_mmrag import ParseError, StoreBusyError, UnknownDocumentError

    assert Root is MMRAGError and {ParseError, StoreBusyError, UnknownDocumentError} <= set(EXCEPTIONS)


@pytest.mark.parametrize(
    ("name", "builtin", "family"),
    [
        ("ParseError", ValueError, InputError),
        ("UnknownDocumentError", LookupError, InputError),
        ("EmptyQuestionError", ValueError, InputError),
        ("FilterError", ValueError, InputError),
        ("StoreBusyError", RuntimeError, StoreError),
        ("GraphFileError", RuntimeError, StoreError),
        ("EmbeddingTimeoutError", TimeoutError, ModelError),
        ("DashScopeError", RuntimeError, ModelError),
    ],
)
def test_an_error_keeps_its_builtin_base_so_older_except_clauses_still_catch_it(
    name: str, builtin: type[BaseException], family: type[MMRAGError]
) -> None:
    error = getattr(llama_index_mmrag, name)
    assert issubclass(error, builtin) and issubclass(error, family)


def test_a_pdf_failure_is_the_one_parse_error(tmp_path: Path) -> None:
    from llama_index_mmrag import ParseError
    from llama_index_mmrag.parsing.pdf.parse import parse_pdf

    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    with pytest.raises(ParseError) as caught:
        parse_pdf(empty, tmp_path / "out")
    assert type(caught.value) is ParseError and caught.value.path == empty and "empty" in caught.value.reason
