"""No command prints a traceback: stored text and names that look like terminal markup are printed as they are,
a broken store or a failing layer is one line on stderr with exit 1, usage errors exit 2, and argument errors,
`--help`, `stats` and `delete` load neither LlamaIndex's models nor torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import llama_index_mmrag.stats as stats_module
from llama_index_mmrag.models import embeddings
from tests.cli.conftest import MARKUP_NAME, invoke, last_json


def test_stored_text_and_names_that_look_like_markup_are_printed_verbatim(cli_store: Path) -> None:
    result = invoke("query", "What do the release notes list about [bold]segment compaction[/]?", "--store", str(cli_store))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert "[bold]segment compaction[/]" in result.output  # the question, echoed as typed
    assert MARKUP_NAME in result.output  # the document's name, not rendered as red "notes"
    assert "A: " in result.stdout and "[/bold]" in result.stdout + result.output  # the answer quotes the chunk

    listing = invoke("stats", "--store", str(cli_store))
    assert listing.exit_code == 0, listing.output
    assert MARKUP_NAME in listing.output


def test_control_characters_in_a_question_do_not_reach_the_terminal(cli_store: Path) -> None:
    result = invoke("query", "segment\x1b[2J compaction\x07 notes\udc80?", "--store", str(cli_store))  # \udc80: a non-UTF-8 byte
    assert result.exit_code == 0, result.output
    assert "\x1b[2J" not in result.output and "\x07" not in result.output


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "\x00\x01"])
def test_an_empty_question_is_a_usage_error(cli_store: Path, question: str) -> None:
    result = invoke("query", "--store", str(cli_store), "--", question)
    assert result.exit_code == 2, result.output
    assert "empty" in result.output and "Traceback" not in result.output


def test_an_unknown_modality_is_a_usage_error(cli_store: Path) -> None:
    result = invoke("query", "x", "--store", str(cli_store), "--modality", "imagee")
    assert result.exit_code == 2
    assert "unknown modality 'imagee'" in result.output and "text, image, table, equation" in result.output


def test_an_unreadable_manifest_is_one_clear_line(tmp_path: Path, cli_store: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{ this is not json")
    for command in (["stats"], ["query", "What is Milvus?"], ["delete", "a.txt"]):
        result = invoke(*command, "--store", str(broken))
        assert result.exit_code == 1, result.output
        assert "manifest" in result.output and "unreadable" in result.output
        assert "Traceback" not in result.output


def test_an_unexpected_failure_below_the_cli_is_a_message_not_a_traceback(
    cli_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("segment 42")

    monkeypatch.setattr(stats_module, "read_store_stats", broken)  # what `mmrag stats` reads the store with
    result = invoke("stats", "--store", str(cli_store))
    assert result.exit_code == 1
    assert "segment 42" in result.output and "Traceback" not in result.output


def test_stats_and_delete_never_load_the_embedding_model(faq_store_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = faq_store_copy  # the FAQ, ingested
    loads: list[str] = []

    def counted() -> object:
        loads.append("loaded")
        raise AssertionError("the embedding model was loaded")

    monkeypatch.setattr(embeddings, "local_embedding", counted)
    assert invoke("stats", "--store", str(store), "--json").exit_code == 0
    result = invoke("delete", "milvus_faq", "--store", str(store))
    assert result.exit_code == 0, result.output
    assert loads == []


def _fresh_process(code: str) -> dict[str, object]:
    """Run ``code`` in a new interpreter (the point is what a fresh process imports); it prints one JSON line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_help_and_argument_errors_import_neither_llama_index_nor_torch() -> None:
    report = _fresh_process(
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from llama_index_mmrag.cli import app\n"
        "runner = CliRunner()\n"
        "codes = [runner.invoke(app, args).exit_code for args in (['--help'], ['query', 'x', '--modality', 'imagee'],"
        " ['query', '--', '  '], ['stats', '--store', '/nonexistent/typo'])]\n"
        "print(json.dumps({'codes': codes, 'heavy': sorted(m for m in ('torch', 'llama_index.core', 'lightrag', "
        "'pymilvus') if m in sys.modules)}))\n"
    )
    assert report == {"codes": [0, 2, 2, 2], "heavy": []}
