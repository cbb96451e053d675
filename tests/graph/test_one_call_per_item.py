"""One model call per image, table and equation at ingestion, through the whole facade: the item's description and
its graph entity (name, summary, ``belongs_to`` edges) come from that call and go into the graph directly; LightRAG's
entity extraction and its gleaning pass read the text chunks only. With the counting fakes, and with the real
DashScope SDK on the loopback server (whose prose replies give every item its offline entity instead)."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.extract import GraphChunk
from llama_index_mmrag.graph.stored_chunks import read_stored_chunks
from llama_index_mmrag.modalities import MODALITIES
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    DashScopeFakeServer,
)
from tests.support.fake_llm import FakeLLM
from tests.support.fake_mm_llm import FakeMultiModalLLM, _equation_answer, _table_answer
from tests.support.llm_calls import text_call_kind
from tests.support.pdfs import make_modal_pdf

SAMPLE_PNG = Path(__file__).resolve().parents[2] / "sample" / "milvus_architecture.png"


class DescribingLLM(FakeLLM):
    """The fake text LLM (LightRAG's extraction, keywords, answers), describing each table and equation as the fake
    vision LLM does: its own name and summary, in RAG-Anything's JSON."""

    def respond(self, prompt: str) -> str:
        if "detailed_description" in prompt and "entity_info" in prompt:
            self.calls.append(prompt)
            return _table_answer(prompt) if "Table Information:" in prompt else _equation_answer(prompt)
        return super().respond(prompt)


def _modal_chunks(rag: MultimodalRAG, doc: str) -> list[GraphChunk]:
    record = rag.manifest.get(doc)
    assert record is not None
    chunks = read_stored_chunks(rag.vector_store, record.node_ids).chunks
    return [c for c in chunks if MODALITIES.get(c.modality).is_modal]


def _graph_entity(rag: MultimodalRAG, name: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """An entity of the store's graph and the edges it has."""

    async def read() -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        graph = (await rag.graph._rag_instance()).chunk_entity_relation_graph
        node = await graph.get_node(name)
        pairs = await graph.get_node_edges(name) or []
        return node, [await graph.get_edge(a, b) or {} for a, b in pairs]

    return rag.graph.run(read())


def _assert_in_graph(rag: MultimodalRAG, chunk: GraphChunk) -> str:
    """The item's entity is in the graph, sourced at its node, with belongs_to edges; returns its name."""
    name = " ".join(chunk.entity_name.casefold().split())
    node, edges = _graph_entity(rag, name)
    assert node is not None, f"{chunk.modality} entity {name!r} is not in the graph"
    assert chunk.chunk_id in node["source_id"].split("<SEP>")
    assert node["entity_type"] == MODALITIES.get(chunk.modality).entity_type
    assert any("belongs_to" in edge.get("keywords", "") for edge in edges), (name, edges)
    return name


@pytest.fixture(scope="module")
def faked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MultimodalRAG, DescribingLLM, FakeMultiModalLLM]]:
    """A two-page report (one table, one picture, two formulas) ingested through the facade with counting fakes."""
    folder = tmp_path_factory.mktemp("one-call")
    facts = make_modal_pdf(folder / "report.pdf")
    llm, vlm = DescribingLLM(), FakeMultiModalLLM()
    rag = MultimodalRAG(storage_dir=folder / "store", llm=llm, vlm=vlm)
    report = rag.ingest([facts["path"]], show_progress=False)
    assert report.ok, report.failures
    yield rag, llm, vlm
    rag.close()


def test_each_modal_item_costs_one_call_and_extraction_reads_only_text_chunks(
    faked: tuple[MultimodalRAG, DescribingLLM, FakeMultiModalLLM],
) -> None:
    rag, llm, vlm = faked
    record = rag.manifest.get("report.pdf")
    assert record is not None
    nodes = Counter(record.modalities)
    assert nodes["table"] == 1 and nodes["image"] == 1 and nodes["equation"] == 2 and nodes["text"] > 0

    calls = Counter(text_call_kind(prompt) for prompt in llm.calls)

    assert vlm.kinds == Counter({"image": nodes["image"]})  # one vision call per picture
    assert calls["describe table"] == nodes["table"] and calls["describe equation"] == nodes["equation"]
    # LightRAG's extraction and gleaning, once each per text chunk, and never over an item's description
    assert calls["extract text"] == calls["glean text"] == nodes["text"]
    assert sum(calls.values()) == nodes["table"] + nodes["equation"] + 2 * nodes["text"], calls


def test_each_items_entity_is_in_the_graph_and_a_graph_query_finds_it(
    faked: tuple[MultimodalRAG, DescribingLLM, FakeMultiModalLLM],
) -> None:
    rag, _, _ = faked
    chunks = _modal_chunks(rag, "report.pdf")
    assert sorted(c.modality for c in chunks) == ["equation", "equation", "image", "table"]
    for chunk in chunks:
        assert chunk.entity_name.endswith(f"({chunk.modality})")  # the model's name, RAG-Anything's suffix
        name = _assert_in_graph(rag, chunk)
        node, _ = _graph_entity(rag, name)
        assert node is not None and chunk.entity_summary in node["description"]  # the model's summary

        found = rag.graph.run(rag.graph.aquery_data(f"What is {chunk.entity_name}?", mode="local"))
        assert name in {e["entity_name"] for e in found["entities"]}
        assert chunk.chunk_id in {c["chunk_id"] for c in found["chunks"]}


def test_deleting_the_document_removes_its_items_from_the_graph(
    faked: tuple[MultimodalRAG, DescribingLLM, FakeMultiModalLLM],
) -> None:
    rag, _, _ = faked
    chunks = _modal_chunks(rag, "report.pdf")
    names = [" ".join(c.entity_name.casefold().split()) for c in chunks]

    rag.delete("report.pdf")

    assert [_graph_entity(rag, name)[0] for name in names] == [None] * len(names)
    assert rag.graph.run(rag.graph.acounts()) == (0, 0)


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
        for doc in ("report.pdf", SAMPLE_PNG.name):
            for chunk in _modal_chunks(rag, doc):
                assert chunk.entity_name.endswith(f" in {doc} ({chunk.modality})")
                _assert_in_graph(rag, chunk)
                warned = [r.getMessage() for r in caplog.records if chunk.entity_name in r.getMessage()]
                assert len(warned) == 1 and warned[0].startswith(f"{doc}, page "), warned
                assert "offline graph entity" in warned[0]
    finally:
        rag.close()
