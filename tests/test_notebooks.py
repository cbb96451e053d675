"""The notebooks in notebooks/ are tutorials saved with their outputs, and those outputs are what the code prints.

Each notebook runs top to bottom on a fresh kernel here; the checks a reader should not have to read live in
this file, not in the notebooks' cells. When this test says the saved outputs are stale, re-execute the
notebooks and save them:

    .venv/bin/python -m jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
_FLOAT = re.compile(r"\d+\.\d+")
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~])/(?:tmp|var|home|root|work|private|Users|usr|opt)/")
_PROGRESS = re.compile(r"\d+%\|| \d+/\d+ \[|it/s\]|Loading weights|\r")
_CITATION = re.compile(r"\[milvus_faq\.txt, p\.(\d+), text\]")
EVIDENCE = "simultaneous insertion and search"


def _code(notebook: Any) -> list[Any]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text(cell: Any) -> str:
    """What a code cell showed as text: its streams, results and errors."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif output.get("output_type") in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
        elif output.get("output_type") == "error":
            parts.append("\n".join(output.get("traceback", [])))
    return "".join(parts)


def _comparable(text: str) -> str:
    """Outputs with decimal numbers (scores, seconds) and object addresses masked."""
    return re.sub(r"0x[0-9a-f]+", "0x…", _FLOAT.sub("#.#", text))


def _execute(path: Path) -> tuple[Any, Any]:
    """(the notebook as saved, the same notebook executed now on a fresh kernel)."""
    saved = nbformat.read(path, as_version=4)
    fresh = nbformat.read(path, as_version=4)
    NotebookClient(fresh, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return saved, fresh


@pytest.fixture(scope="module")
def executions() -> Iterator[dict[Path, Future[tuple[Any, Any]]]]:
    """Every notebook executing at once, each on its own kernel (a kernel is a process: they share nothing, and
    each builds its own store in a temporary folder)."""
    with ThreadPoolExecutor(max_workers=len(NOTEBOOKS)) as pool:
        yield {path: pool.submit(_execute, path) for path in NOTEBOOKS}


@pytest.fixture(scope="module", params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def executed(request: pytest.FixtureRequest, executions: dict[Path, Future[tuple[Any, Any]]]) -> tuple[Any, Any]:
    """(the notebook as saved, the same notebook executed now on a fresh kernel)."""
    return executions[request.param].result()


def test_notebook_runs_without_errors(executed: tuple[Any, Any]) -> None:
    _, fresh = executed
    errors = [_text(cell) for cell in _code(fresh) if any(o.get("output_type") == "error" for o in cell.outputs)]
    assert not errors, errors[0]


def test_saved_outputs_are_what_the_code_prints_now(executed: tuple[Any, Any]) -> None:
    saved, fresh = executed
    assert all(cell.get("execution_count") for cell in _code(saved)), "save the notebook executed, with outputs"
    for before, now in zip(_code(saved), _code(fresh)):
        assert _comparable(_text(before)) == _comparable(_text(now)), f"stale outputs in cell:\n{before.source}"


def test_outputs_hold_no_machine_paths_and_no_progress_bars(executed: tuple[Any, Any]) -> None:
    saved, fresh = executed
    for notebook in (saved, fresh):
        for cell in _code(notebook):
            text = _text(cell)
            assert not _ABSOLUTE_PATH.search(text), f"a path of this machine in the output of:\n{cell.source}\n{text}"
            assert not _PROGRESS.search(text), f"progress-bar or log noise in the output of:\n{cell.source}\n{text}"


def test_tutorial_cells_explain_each_step_and_hold_no_checks() -> None:
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        cells = notebook.cells
        assert cells[0].cell_type == "markdown" and cells[0].source.startswith("# ")
        for i, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            assert cells[i - 1].cell_type == "markdown", f"{path.name}: no explanation before:\n{cell.source}"
            tree = compile(cell.source, path.name, "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            asserts = [node for node in ast.walk(tree) if isinstance(node, ast.Assert)]
            assert not asserts, f"{path.name}: a tutorial cell holds an assert:\n{cell.source}"


def _outputs(notebook: Any) -> str:
    return "\n".join(_text(cell) for cell in _code(notebook))


def test_quickstart_answers_with_a_citation_and_shows_the_diagram() -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / "quickstart.ipynb", as_version=4)
    text = _outputs(notebook)

    assert EVIDENCE in text
    assert [int(page) for page in _CITATION.findall(text)] and set(map(int, _CITATION.findall(text))) == {1}  # 1-based
    assert "modalities in a search scoped to images: ['image']" in text
    images = [o for cell in _code(notebook) for o in cell.outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1


def test_agent_calls_the_tool_and_says_which_llm_drove_it() -> None:
    notebook = nbformat.read(NOTEBOOK_DIR / "agent.ipynb", as_version=4)
    text = _outputs(notebook)

    assert "agent LLM: deterministic-stand-in (not an LLM)" in text
    assert "not a language model" in notebook.cells[0].source.lower()  # said up front
    assert "tool call: milvus_docs({'input': 'Does Milvus support simultaneous insertion and search?'})" in text
    agent_answer = text.split("agent:", 1)[1]
    assert EVIDENCE in agent_answer and _CITATION.search(agent_answer)
    assert "modalities of its sources: ['image']" in text
    assert "images of milvus_architecture.png only:" in text


def test_there_is_a_quickstart_notebook() -> None:
    assert any(p.stem == "quickstart" for p in NOTEBOOKS)
