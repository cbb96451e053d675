"""Document names and questions no file could have (bytes that are not UTF-8, 70,000 characters, NUL, markup)
are answered with one error line or a result, never a traceback, with exit 1 (failure) or 2 (usage)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import invoke, last_json

ODD_NAMES = {
    "non_utf8_byte": "\udcff",  # what Python makes of $'\xff' on the command line
    "non_utf8_in_a_name": "report\udcff.pdf",
    "70000_chars": "x" * 70_000,
    "nul": "a\x00b.pdf",
    "markup": "[/bold]notes.txt",
    "quote_and_backslash": "it's \\\" a.pdf",
}


@pytest.mark.parametrize("name", ODD_NAMES.values(), ids=ODD_NAMES.keys())
@pytest.mark.parametrize(
    "command",
    [["stats", "--doc"], ["stats", "--json", "--doc"], ["query", "segments", "--doc"], ["query", "segments", "--json", "--doc"], ["delete"]],
    ids=["stats", "stats_json", "query", "query_json", "delete"],
)
def test_an_odd_document_name_is_an_error_line_not_a_traceback(cli_store: Path, command: list[str], name: str) -> None:
    result = invoke(*command, name, "--store", str(cli_store))
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "error" in result.output.lower()
    assert len(result.output) < 2_000, f"the error echoed {len(result.output)} characters"  # a name is quoted short


def test_a_question_with_a_non_utf8_byte_and_a_page_is_answered_as_json(cli_store: Path) -> None:
    result = invoke("query", "\udcff page 1", "--doc", "milvus_faq.txt", "--json", "--store", str(cli_store))
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert set(payload) >= {"answer", "sources"}
    assert all(source["doc"] == "milvus_faq.txt" for source in payload["sources"])


def test_a_question_with_a_non_utf8_byte_is_answered_in_the_table(cli_store: Path) -> None:
    result = invoke("query", "\udcff page 1", "--doc", "milvus_faq.txt", "--store", str(cli_store))
    assert result.exit_code == 0, result.output
    assert "milvus_faq.txt" in result.output and "Traceback" not in result.output
