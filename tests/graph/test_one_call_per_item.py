"""One model request per image, table and equation at ingestion, through the whole facade and the real DashScope SDK
on the loopback server: LightRAG's entity extraction and its gleaning pass read the text chunks only, and the
server's prose replies give every item its offline graph entity, with a warning (the same count with the counting
fakes, and the model's own entity in the graph: tests/retrievers/test_llm_path.py)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    DashScopeFakeServer,
)
from tests.support.llm_calls import text_call_kind
from tests.support.modal_graph import assert_item_in_graph, graph_entity, modal_chunks
from tests.support.pdfs import make_modal_pdf

SAMPLE_PNG = Path(__file__).resolve().parents[2] / "sample" / "milvus_architecture.png"


def _prompt(request: Any) -> str:
    parts = []
    for message in request.input.get("messages", []):
        content = message.get("content")
        parts += [content] if isinstance(content, str) else [p.get("text", "") for p in content or []]
    return "\n".join(parts)


def test_over_dashscope_each_item_costs_one_request_and_gets_its_offline_entity(
    dashscope_server: DashScopeFakeServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM

    facts = make_modal_pdf(tmp_path / "report.pdf")
    llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=dashscope_server.base_url, retry_backoff=0.0)
    vlm = DashScopeMultiModalLLM(api_key=FAKE_API_KEY, base_url=dashscope_server.base_url, retry_backoff=0.0)
    rag = MultimodalRAG(storage_dir=tmp_path / "store", llm=llm, vlm=vlm)
    try:
        with caplog.at_level(logging.WARNING, logger="llama_index_mmrag"):
            report = rag.ingest([facts["path"], SAMPLE_PNG], show_progress=False)
        assert report.ok, report.failures

        nodes: Counter[str] = Counter()
        for doc in ("report.pdf", SAMPLE_PNG.name):
            record = rag.manifest.get(doc)
            assert record is not None
            nodes.update(record.modalities)
        vision = dashscope_server.requests_to(MULTIMODAL_GENERATION_PATH)
        text = Counter(text_call_kind(_prompt(r)) for r in dashscope_server.requests_to(TEXT_GENERATION_PATH))
        assert {r.model for r in vision} == {"qwen-vl-max"} and len(vision) == nodes["image"] == 2
        assert {r.model for r in dashscope_server.requests_to(TEXT_GENERATION_PATH)} == {"qwen-max"}
        assert text["describe table"] == nodes["table"] and text["describe equation"] == nodes["equation"]
        assert text["extract text"] == text["glean text"] == nodes["text"]
        assert sum(text.values()) == nodes["table"] + nodes["equation"] + 2 * nodes["text"], json.dumps(text)

        # DashScope's loopback answers in prose: every item still gets an entity, its offline one, and a warning
        names = []
        for doc in ("report.pdf", SAMPLE_PNG.name):
            for chunk in modal_chunks(rag, doc):
                assert chunk.entity_name.endswith(f" in {doc} ({chunk.modality})")
                names.append(assert_item_in_graph(rag, chunk))
                warned = [r.getMessage() for r in caplog.records if chunk.entity_name in r.getMessage()]
                assert len(warned) == 1 and warned[0].startswith(f"{doc}, page "), warned
                assert "offline graph entity" in warned[0]
        assert len(names) == nodes["image"] + nodes["table"] + nodes["equation"]

        # deleting the documents takes their items out of the graph (rebuilt from their stored chunks)
        rag.delete("report.pdf")
        rag.delete(SAMPLE_PNG.name)
        assert [graph_entity(rag, name)[0] for name in names] == [None] * len(names)
        assert rag.graph.run(rag.graph.acounts()) == (0, 0)
    finally:
        rag.close()
