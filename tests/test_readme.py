"""Every code block of README.md runs as written: a README claim is a test.

- ```python blocks run top to bottom, in a fresh working folder holding what they name (the demo's
  ``sample/`` files, a generated ``report.pdf``, a ``my_eval/questions.jsonl`` about it); where a block
  names ``my_llm`` (the reader's own LLM) a deterministic fake LLM stands in for it, and where it names
  DashScope, a loopback server that speaks DashScope's API answers (tests/support/dashscope_server.py).
- The command-line usage block: every command it lists exists and takes every option it shows.
- ```bash blocks: the test-suite command is exactly what ``.ci/run`` runs; the other two (the demo set-up,
  which CI's own install and ``tests/test_cli.py``'s demo test cover, and the Milvus-server example, which
  needs a server) are named below, so a new block cannot go unchecked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import MetadataMode
from typer.testing import CliRunner

from tests.support.fake_llm import ANSWER_PREFIX, FakeLLM
from tests.support.pdfs import make_sample_pdf

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
_FENCE = re.compile(r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<code>.*?)^```[ \t]*$", re.M | re.S)
_HEADING = re.compile(r"^#{1,6} +(?P<title>.+)$", re.M)
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z-]*|-[a-z])\b")

NOT_RUN_HERE = {
    "Two commands#1": "the demo set-up: CI's install runs it, tests/test_cli.py runs `mmrag demo`",
    "Scaling out: Milvus server, cluster, Zilliz Cloud, Neo4j#1": "needs a Milvus server at MILVUS_URI",
}


@dataclass(frozen=True)
class Block:
    """One fenced code block of the README.

    Args:
        lang: The fence's language tag (``""`` when none).
        code: The block's text.
        line: The line of its opening fence.
        section: The heading above it.
        number: Its 1-based position among the blocks of that section.
    """

    lang: str
    code: str
    line: int
    section: str
    number: int

    @property
    def name(self) -> str:
        return f"{self.section}#{self.number}"


def readme_blocks() -> list[Block]:
    """The README's fenced code blocks, in order."""
    text = README.read_text(encoding="utf-8")
    headings = [(m.start(), m.group("title").strip()) for m in _HEADING.finditer(text)]
    blocks: list[Block] = []
    counts: dict[str, int] = {}
    for match in _FENCE.finditer(text):
        section = next((title for start, title in reversed(headings) if start < match.start()), "")
        counts[section] = counts.get(section, 0) + 1
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(match.group("lang"), match.group("code"), line, section, counts[section]))
    return blocks


BLOCKS = readme_blocks()
PYTHON = [b for b in BLOCKS if b.lang == "python"]
BASH = [b for b in BLOCKS if b.lang in ("bash", "sh", "shell", "console")]
USAGE = [b for b in BLOCKS if not b.lang and all(line.startswith("mmrag ") for line in b.code.splitlines() if line.strip())]


# ------------------------------------------------------------------------------------------------ python


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A reader's working folder: the sample files, a report PDF and labelled questions about it."""
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "sample", folder / "sample")
    facts = make_sample_pdf(folder / "report.pdf")
    questions = [
        {"qid": "table", "question": "How many containers did the North region move in Q3?",
         "relevant_pages": [["report.pdf", facts["table"]["page"]]], "evidence_sources": ["Table"]},
        {"qid": "figure", "question": "What does the sales dashboard figure show?",
         "relevant_pages": [["report.pdf", facts["image"]["page"]]], "evidence_sources": ["Chart"]},
        {"qid": "columns", "question": "What did the eastern yard trial?",
         "relevant_pages": [["report.pdf", facts["columns"]["page"]]], "evidence_sources": ["Pure-text (Plain-text)"]},
    ]
    (folder / "my_eval").mkdir()
    lines = [json.dumps({**q, "doc": "report.pdf", "answerable": True}) for q in questions]
    (folder / "my_eval" / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def in_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(workspace)
    yield workspace


def _run_python(block: Block) -> dict[str, Any]:
    """Execute a block as a script would run it; close any store it left open."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    if re.search(r"\bmy_llm\b", block.code):
        namespace["my_llm"] = FakeLLM()  # the reader's own LLM
    try:
        exec(compile(block.code, f"README.md:{block.line + 1}", "exec"), namespace)  # noqa: S102
    finally:
        from llama_index_mmrag import MultimodalRAG

        for value in namespace.values():
            if isinstance(value, MultimodalRAG):
                value.close()
    return namespace


@contextmanager
def _dashscope_for(block: Block, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A loopback DashScope API with a key in the environment, when the block names DashScope."""
    if "DashScope" not in block.code:
        yield
        return
    import dashscope

    from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer

    with DashScopeFakeServer() as server:
        monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.setattr(dashscope, "base_http_api_url", server.base_url)
        yield


def _check_quickstart(namespace: dict[str, Any], out: str) -> None:
    response = namespace["response"]
    assert "simultaneous insertion and search" in str(response)
    assert any(s.node.metadata["doc"] == "milvus_faq.txt" for s in response.source_nodes)
    assert namespace["images"][0].node.metadata["modality"] == "image"
    assert namespace["images"][0].node.image_path.endswith(".png")
    assert "milvus_faq.txt" in out


def _check_building_blocks(namespace: dict[str, Any], out: str) -> None:
    assert namespace["docs"] and {d.metadata["doc"] for d in namespace["docs"]} == {"report.pdf"}
    hits = namespace["hits"]
    pages = [(h.node.metadata["doc"], h.node.metadata["page"]) for h in hits]
    assert hits and len(pages) == len(set(pages)), f"a page came back more than once: {pages}"
    outside = [h.node.metadata for h in hits if not set(h.node.metadata["modalities"]) <= {"table", "text"} or h.node.metadata["page"] > 1]
    assert not outside, f"the composite's scope (tables and text of pages 1-2) did not hold in every branch: {outside}"
    response = namespace["response"]
    quoted = str(response).removeprefix(ANSWER_PREFIX).strip()
    assert str(response).startswith(ANSWER_PREFIX) and quoted  # my_llm wrote the answer ...
    evidence = "\n".join(s.node.get_content(metadata_mode=MetadataMode.LLM) for s in response.source_nodes)
    assert quoted in evidence  # ... from the retrieved, post-processed evidence


def _check_agent(namespace: dict[str, Any], out: str) -> None:
    # the loopback qwen-max calls the tool, then answers from the tool's result alone (here written by the
    # store's own loopback qwen-max, from the FAQ page it retrieved)
    assert "According to the milvus_docs tool:" in out, out
    assert "doc: milvus_faq.txt" in out and "Milvus supports simultaneous insertion and search" in out


def _check_evaluation(namespace: dict[str, Any], out: str) -> None:
    assert "hit@5" in out and "'n': 3" in out


def _check_folder_sync(namespace: dict[str, Any], out: str) -> None:
    assert "added 1, changed 0, deleted 0, renamed 0" in out
    assert (namespace["report"].renamed, namespace["report"].ingested) == ([("milvus.txt", "lite.txt")], [])
    assert "['lite.txt']" in out  # the third sync deleted it
    stored = json.loads(Path("mmrag_storage/manifest.json").read_text(encoding="utf-8"))["docs"]
    assert not {"milvus.txt", "lite.txt"} & set(stored)


def _check_recordings(namespace: dict[str, Any], out: str) -> None:
    assert "[standup.wav, 1:05, text]" in out and "65.0 70.5" in out


def _check_pixels(namespace: dict[str, Any], out: str) -> None:
    assert out.strip().splitlines()[-1] == "slide-2.png"
    assert {h.node.metadata["doc"] for h in namespace["hits"]} == {"slide-1.png", "slide-2.png"}


CHECKS = {
    "Python quickstart": _check_quickstart,
    "Search images by their pixels": _check_pixels,
    "Keep a folder in sync": _check_folder_sync,
    "Audio and video": _check_recordings,
    "An agent on qwen-max": _check_agent,
    "The building blocks, composed by hand": _check_building_blocks,
    "Measuring retrieval quality on your own documents": _check_evaluation,
}


def test_every_python_block_has_its_claims_checked() -> None:
    assert sorted(b.section for b in PYTHON) == sorted(CHECKS)


@pytest.mark.parametrize("block", PYTHON, ids=[b.section for b in PYTHON])
def test_python_block_runs_as_written(
    block: Block, in_workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with _dashscope_for(block, monkeypatch):
        namespace = _run_python(block)

    CHECKS[block.section](namespace, capsys.readouterr().out)


# ------------------------------------------------------------------------------------------------ commands


def test_usage_block_lists_commands_that_take_the_options_shown() -> None:
    from llama_index_mmrag.cli import app

    [usage] = USAGE
    runner = CliRunner()
    env = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    commands = [line.split()[1] for line in usage.code.splitlines() if line.strip()]
    top = runner.invoke(app, ["--help"], env=env)
    assert top.exit_code == 0, top.output
    for line in usage.code.splitlines():
        if not line.strip():
            continue
        command = line.split()[1]
        result = runner.invoke(app, [command, "--help"], env=env)
        assert result.exit_code == 0, f"README line {line!r}: {result.output}"
        shown = set(_OPTION.findall(line))
        missing = {option for option in shown if option not in result.output}
        assert not missing, f"README line {line!r}: `mmrag {command}` has no {sorted(missing)}"
        assert command in top.output
    assert len(commands) == len(set(commands))


def test_the_installed_mmrag_command_answers_help() -> None:
    script = Path(sys.executable).with_name("mmrag")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)

    assert result.returncode == 0, result.stderr
    for line in USAGE[0].code.splitlines():
        if line.strip():
            assert line.split()[1] in result.stdout


def test_the_test_command_is_what_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    [command] = [b.code.strip() for b in BASH if "pytest" in b.code]

    assert command in ci.splitlines()


def test_bash_blocks_are_all_accounted_for() -> None:
    unchecked = {b.name for b in BASH if "pytest" not in b.code}

    assert unchecked == set(NOT_RUN_HERE)
