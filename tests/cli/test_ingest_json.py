"""``mmrag ingest --json``: one JSON object with each document's outcome and cost, the totals and the warnings;
over the loopback DashScope server, with a model that fails every extraction of a file's text."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.cli.conftest import invoke
from tests.support.dashscope_server import FAKE_API_KEY, TEXT_GENERATION_PATH, DashScopeFakeServer


@pytest.fixture
def failing_text_model(dashscope_server: DashScopeFakeServer, monkeypatch: pytest.MonkeyPatch) -> DashScopeFakeServer:
    """The CLI's models are DashScope's, over loopback (1 retry, 1 ms backoff); every qwen-max request answers 500."""
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("DASHSCOPE_BASE_URL", dashscope_server.base_url)
    monkeypatch.setenv("MMRAG_LLM_MAX_RETRIES", "1")
    monkeypatch.setenv("MMRAG_LLM_RETRY_BACKOFF", "0.001")
    dashscope_server.inject("status", 10_000, path=TEXT_GENERATION_PATH, status=500)
    return dashscope_server


def test_ingest_json_reports_each_document_its_cost_and_the_text_graph_built_without_the_model(
    failing_text_model: DashScopeFakeServer, sample_faq: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.pdf"
    result = invoke("ingest", str(sample_faq), str(missing), "--store", str(tmp_path / "store"), "--json")

    assert result.exit_code == 1, result.output  # a file failed: the same exit code as without --json
    report = json.loads(result.stdout)  # stdout holds the JSON object and nothing else
    assert set(report) == {"ok", "seconds", "documents", "totals", "warnings"} and report["ok"] is False
    faq, failed = report["documents"]
    assert faq["doc"] == sample_faq.name and faq["status"] == "ingested"
    assert faq["nodes"] == sum(faq["modalities"].values()) > 0 and faq["modalities"]["text"] > 0 and faq["pages"] >= 1
    assert "HTTP 500" in faq["graph_fallback"]
    assert [w for w in faq["warnings"] if "built without the model" in w]
    assert set(faq["usage"]) == {"llm_calls", "vlm_calls", "prompt_tokens", "completion_tokens", "total_tokens"}
    assert faq["usage"]["llm_calls"] == 0  # every call failed: a failed call is no cost
    assert failed == {
        "doc": "missing.pdf", "status": "failed", "path": str(missing), "error": "no such file; check the path",
        "usage": faq["usage"], "warnings": [],
    }
    totals = report["totals"]
    assert (totals["ingested"], totals["unchanged"], totals["failed"], totals["graph_fallbacks"]) == (1, 0, 1, 1)
    assert totals["nodes"] == faq["modalities"] and totals["usage"]["llm_calls"] == 0
    # what falling back cost: each extraction call LightRAG started made its attempt and its one retry, and the
    # fallback waited for them all: no request comes after the ingest returned
    requests = len(failing_text_model.requests_to(TEXT_GENERATION_PATH))
    assert requests in (2, 4, 6), requests  # 3 text chunks, at most 3 calls
    time.sleep(0.5)
    assert len(failing_text_model.requests_to(TEXT_GENERATION_PATH)) == requests


def test_ingest_without_json_prints_the_text_graph_built_without_the_model(
    failing_text_model: DashScopeFakeServer, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Quokka Station monitors the Rottnest Island colony every morning.", encoding="utf-8")
    result = invoke("ingest", str(notes), "--store", str(tmp_path / "store"))

    assert result.exit_code == 0, result.output
    assert not result.stdout.strip()  # the human report goes to stderr, as before
    printed = " ".join(result.stderr.split())  # as wrapped to the terminal's width
    assert "notes.txt: graph of its text built without the model (DashScope chat with model 'qwen-max' failed" in printed
    assert "ingested 1 document(s) (1 text), 0 unchanged, 0 failed" in printed
    assert "1 graph(s) built without the model" in printed
