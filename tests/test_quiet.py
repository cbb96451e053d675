"""Quiet by default: a quickstart prints no model-loading bar, no gRPC chatter and no LightRAG INFO lines;
standard ``logging`` configuration brings LightRAG's lines back; ingest shows progress on pages."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.logs import quiet_lightrag_logs
from llama_index_mmrag.models import embeddings
from tests.support.pdfs import make_text_pdf

NOISE = ("Loading weights", "fork_posix", "GOAWAY", "INFO:", "INFO: ")


@pytest.fixture(autouse=True)
def lightrag_level_as_a_new_process_has_it() -> object:
    """Each test starts with the ``lightrag`` level a fresh process has after the package's set-up (unset);
    in-process CLI tests before these set it, as ``mmrag``'s own start does, and it is put back after."""
    lightrag_logger = logging.getLogger("lightrag")
    level = lightrag_logger.level
    lightrag_logger.setLevel(logging.NOTSET)
    yield
    lightrag_logger.setLevel(level)


def _quickstart(store: Path, files: list[Path], show_progress: bool = False) -> str:
    with MultimodalRAG(storage_dir=store, top_k=3) as rag:
        report = rag.ingest(files, show_progress=show_progress)
        assert report.ok, report.failures
        answer = rag.as_query_engine().query("Does Milvus support simultaneous insertion and search?")
    return str(answer)


def test_a_quickstart_prints_only_its_answer(
    tmp_path: Path, sample_faq: Path, sample_diagram: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    embeddings.local_embedding.cache_clear()  # the model loads inside this test, as in a fresh process
    report = tmp_path / "tonnage.pdf"
    make_text_pdf(report, 3)  # long enough for the parser's worker processes (a fork while gRPC runs)
    answer = _quickstart(tmp_path / "store", [sample_faq, sample_diagram, report])
    out, err = capfd.readouterr()
    assert answer
    for noise in NOISE:
        assert noise not in out + err, f"{noise!r} was printed:\n{(out + err)[-3000:]}"
    assert not re.search(r"^(INFO|DEBUG)\b", out + err, flags=re.MULTILINE), (out + err)[-3000:]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_logging_configured_at_info_shows_lightrags_lines(tmp_path: Path, sample_faq: Path) -> None:
    root, handler = logging.getLogger(), _Records()
    level = root.level
    root.addHandler(handler)  # what logging.basicConfig(level=logging.INFO) does: a root handler, root at INFO
    root.setLevel(logging.INFO)
    try:
        _quickstart(tmp_path / "store", [sample_faq])
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lightrag_lines = [r for r in handler.records if r.name.startswith("lightrag") and r.levelno == logging.INFO]
    assert lightrag_lines, "no LightRAG INFO record reached the root logger's handler"


@pytest.fixture
def lightrag_handed_to_logging() -> None:
    """Apply the package's LightRAG logging set-up before the test runs (pytest then captures it as any logger)."""
    quiet_lightrag_logs()


@pytest.mark.usefixtures("lightrag_handed_to_logging")
def test_lightrag_warnings_still_show_by_default(caplog: pytest.LogCaptureFixture) -> None:
    lightrag_logger = logging.getLogger("lightrag")
    with caplog.at_level(logging.WARNING):
        lightrag_logger.info("an info line")
        lightrag_logger.warning("a warning line")
    messages = [r.getMessage() for r in caplog.records if r.name == "lightrag"]
    assert messages == ["a warning line"]


@pytest.mark.usefixtures("lightrag_handed_to_logging")
def test_without_logging_configured_lightrag_prints_warnings_or_what_its_level_allows(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    root, lightrag_logger = logging.getLogger(), logging.getLogger("lightrag")
    monkeypatch.setattr(root, "handlers", [])  # a script that never configured logging
    levels = root.level, lightrag_logger.level
    try:
        root.setLevel(logging.WARNING)
        lightrag_logger.info("hidden info")
        lightrag_logger.warning("shown warning")
        lightrag_logger.setLevel(logging.INFO)  # what a user does to see LightRAG's progress
        lightrag_logger.info("asked-for info")
    finally:
        root.setLevel(levels[0])
        lightrag_logger.setLevel(levels[1])
    err = capfd.readouterr().err
    assert "hidden info" not in err
    assert err.count("shown warning") == 1 and err.count("asked-for info") == 1


def test_ingest_shows_progress_on_the_pages_of_a_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    pdf = tmp_path / "tonnage.pdf"
    make_text_pdf(pdf, 7)
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest([pdf], show_progress=True).ok
        shown = capfd.readouterr().err
        quiet = tmp_path / "quiet.pdf"
        make_text_pdf(quiet, 3)
        assert rag.ingest([quiet], show_progress=False).ok
        silent = capfd.readouterr()
    parse_lines = [line for line in re.split(r"[\r\n]", shown) if "parse tonnage.pdf" in line]
    assert any(re.search(r"\b7/7\b.*page", line) for line in parse_lines), shown[-2000:]
    assert any(re.search(r"\b[1-6]/7\b.*page", line) for line in parse_lines), "no page before the last was shown"
    assert any(re.search(r"embed tonnage\.pdf.*\b7/7\b.*page", line) for line in re.split(r"[\r\n]", shown))
    graph = [re.search(r"graph tonnage\.pdf.*\b(\d+)/(\d+)\b.*vector", line) for line in re.split(r"[\r\n]", shown)]
    assert any(m and m.group(1) == m.group(2) != "0" for m in graph), shown[-2000:]  # the graph's vectors, all written
    assert silent.out == "" and silent.err == ""
