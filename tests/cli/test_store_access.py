"""Commands that read a store never create one: a missing or mistyped store is a usage error naming the path
(exit 2), a folder that is not a store is left as it was, and an empty store says how to fill it."""

from __future__ import annotations

import json

from pathlib import Path

import pytest

from tests.cli.conftest import invoke

READING = [["query", "What is Milvus?"], ["stats"], ["stats", "--json"], ["delete", "report.pdf"]]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c))
def test_a_mistyped_store_is_an_error_that_names_it_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "stroe"
    result = invoke(*command, "--store", str(typo))
    assert result.exit_code == 2, result.output
    assert "no store at" in result.output and "stroe" in result.output
    assert "Traceback" not in result.output
    assert not typo.exists()


@pytest.mark.parametrize("command", READING, ids=lambda c: " ".join(c))
def test_a_folder_that_is_not_a_store_is_refused_and_left_as_it_was(tmp_path: Path, command: list[str]) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "letter.txt").write_text("Dear reader")
    result = invoke(*command, "--store", str(folder))
    assert result.exit_code == 2, result.output
    assert "no mmrag store in" in result.output
    assert _listing(folder) == ["letter.txt"]


def test_the_default_store_is_not_created_by_reading_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMRAG_STORAGE_DIR", raising=False)
    for command in READING:
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert "mmrag_storage" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture()
def empty_store(tmp_path: Path) -> Path:
    """A store that exists and holds no documents (opened once, as a first `ingest` of nothing leaves it)."""
    from llama_index_mmrag import MultimodalRAG

    MultimodalRAG(storage_dir=tmp_path / "empty").close()
    return tmp_path / "empty"


def test_an_empty_store_says_so_and_how_to_fill_it(empty_store: Path) -> None:
    query = invoke("query", "What is Milvus?", "--store", str(empty_store))
    assert query.exit_code == 1, query.output
    assert "holds no documents yet" in query.output and "mmrag ingest" in query.output
    assert "No evidence" not in query.output

    stats = invoke("stats", "--store", str(empty_store))
    assert stats.exit_code == 0, stats.output
    assert "holds no documents yet" in stats.output and "mmrag ingest" in stats.output

    delete = invoke("delete", "report.pdf", "--store", str(empty_store))
    assert delete.exit_code == 1, delete.output
    assert "holds no documents yet" in delete.output and "mmrag ingest" in delete.output


def test_a_store_another_process_has_open_answers_this_one_too(empty_store: Path) -> None:
    """A store open in one process (a notebook, an ingest) is read by a command in another: both talk to the
    store's local Milvus Lite server."""
    import subprocess
    import sys

    from llama_index_mmrag import MultimodalRAG

    command = [sys.executable, "-m", "llama_index_mmrag.cli", "stats", "--json", "--store", str(empty_store)]
    with MultimodalRAG(storage_dir=empty_store):  # this process has the store open
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["docs"] == 0


def test_a_store_opened_without_the_local_server_is_a_one_line_error_without_traceback(
    empty_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that opened Milvus Lite itself (``MMRAG_LITE_SERVER=off``) holds its lock: a command in another
    process says what happened and what to do in one line, with no library traceback."""
    import os
    import subprocess
    import sys
    import time

    from llama_index_mmrag import MultimodalRAG

    env = {k: v for k, v in os.environ.items() if k != "MMRAG_LITE_SERVER"}
    command = [sys.executable, "-m", "llama_index_mmrag.cli", "stats", "--store", str(empty_store)]
    monkeypatch.setenv("MMRAG_LITE_SERVER", "off")
    serve_file = empty_store / "milvus.db.serve.json"
    deadline = time.monotonic() + 120
    while serve_file.exists() and time.monotonic() < deadline:  # the fixture's server stops once unused
        time.sleep(0.2)
    with MultimodalRAG(storage_dir=empty_store):  # Milvus Lite inside this process, as plain Milvus Lite does
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 1, result.stderr
    assert "MMRAG_LITE_SERVER=off" in result.stderr and str(empty_store) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
