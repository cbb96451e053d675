"""The package's dependency direction: no import cycle, no upward import, LightRAG behind graph/ (import-linter's
contracts in pyproject.toml, the same check as ``lint-imports`` on the command line)."""

from __future__ import annotations

import logging
import pkgutil
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from importlinter.cli import lint_imports

import llama_index_mmrag

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@pytest.fixture
def logging_left_as_found() -> Iterator[None]:
    """import-linter configures logging when it runs (``dictConfig`` disables every logger that exists): the
    loggers of this process, LightRAG's included, are put back as they were for the tests that follow."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    saved = [(lg, lg.disabled, lg.level, list(lg.handlers), lg.propagate) for lg in loggers]
    yield
    for lg, disabled, level, handlers, propagate in saved:
        lg.disabled, lg.propagate, lg.handlers[:] = disabled, propagate, handlers
        lg.setLevel(level)


@pytest.mark.usefixtures("logging_left_as_found")
def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """A new cycle, an import against the layers, or LightRAG used outside graph/ fails here, naming the import."""
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "3 kept, 0 broken" in report


def test_every_module_of_the_package_has_a_layer() -> None:
    """A module outside every layer would escape the layers contract: a new one must be given its place."""
    config = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["importlinter"]
    [layers] = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    named = {name for layer in layers for name in re.findall(r"[A-Za-z_]\w*", layer)}
    modules = {m.name for m in pkgutil.iter_modules(llama_index_mmrag.__path__)}
    assert modules - named == set(), "add these modules to a layer in pyproject.toml's [tool.importlinter]"
