"""The package's dependency direction: no import cycle, no upward import (import-linter's contracts in
pyproject.toml, the same check as ``lint-imports`` on the command line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_import_contracts_hold(capsys: pytest.CaptureFixture[str]) -> None:
    """A new cycle or an import against the layers in pyproject.toml fails here, naming the import."""
    exit_code = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)
    report = capsys.readouterr().out
    assert exit_code == 0, report
    assert "2 kept, 0 broken" in report
