"""Commands that read a store never create one: a missing or mistyped store is a usage error naming the path
(exit 2), a folder that is not a store is left as it was, and an empty store says how to fill it."""

from __future__ import annotations

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


def test_a_store_held_by_another_process_is_a_one_line_error_without_traceback(empty_store: Path) -> None:
    """Milvus Lite admits one process a store: a reading command says so in its own words, with no library
    traceback (Milvus Lite logs one when its lock is taken); ``-v`` still shows the library's log."""
    import subprocess
    import sys

    from llama_index_mmrag import MultimodalRAG

    command = [sys.executable, "-m", "llama_index_mmrag.cli", "stats", "--store", str(empty_store)]
    with MultimodalRAG(storage_dir=empty_store):  # this process holds the store
        quiet = subprocess.run(command, capture_output=True, text=True, timeout=300)
        verbose = subprocess.run([*command[:3], "-v", *command[3:]], capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 1, quiet.stderr
    assert "only one process may open a Milvus Lite store" in quiet.stderr
    assert "Traceback" not in quiet.stderr, quiet.stderr
    assert "Traceback" in verbose.stderr  # the library's own log, on request
