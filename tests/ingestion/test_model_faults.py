"""An ingest on the LLM path survives model faults, and reports what the models cost.

Over the loopback DashScope server (real SDK, real HTTP), a real store (Milvus Lite, LightRAG) ingests a
picture whose every VLM attempt fails (429 with Retry-After, 503, truncated JSON, a timeout), a picture described
normally and a text file whose graph extraction meets a 500 and a truncated body first. Nothing is lost: every
document is written whole, the failed picture keeps its offline description with one warning naming the file and
the item, and the cost report's calls and tokens equal the answers the server sent.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import dashscope
import pytest
from lightrag.utils import compute_mdhash_id
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen, LLMMetadata
from llama_index.core.llms import CustomLLM
from PIL import Image

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.extract import build_custom_kg
from llama_index_mmrag.graph.file_counts import split_sources
from llama_index_mmrag.graph.store import node_to_graph_chunk
from llama_index_mmrag.ingestion.report import IngestReport
from llama_index_mmrag.models.dashscope import DashScopeError, DashScopeLLM, DashScopeMultiModalLLM
from tests.lifecycle.store_state import store_state
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    DashScopeFakeServer,
)
from tests.support.fake_llm import COMPLETE, TUPLE, FakeLLM

CALLS_LOGGER = "llama_index_mmrag.models.dashscope.calls"


@pytest.fixture
def red_png(tmp_path: Path) -> Path:
    """A small real picture (a red square)."""
    path = tmp_path / "inputs" / "red_square.png"
    path.parent.mkdir()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(path)
    return path


def _retry_waits(caplog: pytest.LogCaptureFixture, model: str) -> list[float]:
    return [
        float(r.getMessage().rsplit(" in ", 1)[1].split()[0])
        for r in caplog.records
        if r.name == CALLS_LOGGER and f"'{model}'" in r.getMessage()
    ]


def _tokens(usage: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(u["input_tokens"] for u in usage), sum(u["output_tokens"] for u in usage)


def test_an_ingest_survives_model_faults_and_reports_what_the_models_cost(
    dashscope_server: DashScopeFakeServer, sample_diagram: Path, sample_faq: Path, red_png: Path, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = dashscope_server
    connection: dict[str, Any] = {
        "api_key": FAKE_API_KEY, "base_url": server.base_url, "timeout": 0.5, "max_retries": 3, "retry_backoff": 0.001,
    }
    caplog.set_level(logging.INFO, logger=CALLS_LOGGER)
    # the first picture's four attempts all fail, each its own way; the text's first two attempts fail too
    server.inject("status", path=MULTIMODAL_GENERATION_PATH, status=429, retry_after=0.02)
    server.inject("status", path=MULTIMODAL_GENERATION_PATH, status=503)
    server.inject("truncated_json", path=MULTIMODAL_GENERATION_PATH)
    server.inject("slow", path=MULTIMODAL_GENERATION_PATH, seconds=1.0)
    server.inject("status", path=TEXT_GENERATION_PATH, status=500)
    server.inject("truncated_json", path=TEXT_GENERATION_PATH)

    with MultimodalRAG(
        storage_dir=tmp_path / "store", llm=DashScopeLLM(**connection), vlm=DashScopeMultiModalLLM(**connection)
    ) as rag:
        report = rag.ingest([sample_diagram, red_png, sample_faq], show_progress=False)

        # nothing lost, nothing half-written
        assert report.ok, report.failures
        assert sorted(report.ingested) == sorted([sample_diagram.name, red_png.name, sample_faq.name])
        state = store_state(rag)
        assert state["milvus_docs"] == sorted(report.ingested) and not state["milvus_duplicates"]
        assert not state["journal_pending"] and not state["vectors"]["text_chunks_missing"]
        assert sorted(state["vectors"]["chunks_vdb"]) == sorted(i for ids in state["milvus_ids"].values() for i in ids)
        # the failed picture: its offline description, one warning naming the file and the item
        [fallback] = rag.as_retriever(doc=sample_diagram.name, modalities=["image"]).retrieve("architecture diagram")
        [described] = rag.as_retriever(doc=red_png.name, modalities=["image"]).retrieve("red square")
        assert fallback.node.metadata["description_model"] == "offline"
        assert "Milvus Architecture" in fallback.node.get_content()  # the words OCR read in it
        assert described.node.metadata["description_model"] == "DashScopeMultiModalLLM:qwen-vl-max"
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and sample_diagram.name in r.getMessage()]
        assert len(warnings) == 1, warnings
        assert f"{sample_diagram.name}, page 0, image" in warnings[0] and "offline description" in warnings[0]
        assert "after 3 retries" in warnings[0]
        # the backoff: 3 retries each, the first after the server's Retry-After
        vlm_waits, llm_waits = _retry_waits(caplog, "qwen-vl-max"), _retry_waits(caplog, "qwen-max")
        assert len(vlm_waits) == 3 and vlm_waits[0] >= 0.02 and all(w <= 0.004 for w in vlm_waits[1:]), vlm_waits
        assert len(llm_waits) == 2, llm_waits
        assert len(server.requests_to(MULTIMODAL_GENERATION_PATH)) == 4 + 1

        # the cost report equals what the server answered, per kind of model
        text_usage, vision_usage = server.usage_returned(TEXT_GENERATION_PATH), server.usage_returned(MULTIMODAL_GENERATION_PATH)
        total = report.total_usage
        assert (total.llm_calls, total.vlm_calls) == (len(text_usage), len(vision_usage)) == (len(text_usage), 1)
        assert (total.prompt_tokens, total.completion_tokens) == tuple(map(sum, zip(_tokens(text_usage), _tokens(vision_usage))))
        assert report.usage[sample_diagram.name].vlm_calls == 0 and report.usage[red_png.name].vlm_calls == 1
        assert report.usage[sample_faq.name].llm_calls >= 1 and total.prompt_tokens > 0
        assert f"{total.llm_calls} LLM + 1 VLM calls" in report.summary()

        # at query time a model that keeps failing is a clear error, not a silent change of answer
        engine = rag.as_query_engine()
        question = "Does Milvus support simultaneous insertion and search?"
        server.fail_next(10, status=503)
        with pytest.raises(DashScopeError, match=r"qwen-max' failed after 3 retries: HTTP 503.*retry later"):
            engine.query(question)
        server.reset()
        assert str(engine.query(question)).startswith("ANSWER: ")


class _BrokenVision(CustomLLM):
    """Any LlamaIndex LLM whose service is down: every call raises."""

    calls: int = 0

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="broken-vision")

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        self.calls += 1
        raise ConnectionError("vision service unreachable")

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        raise ConnectionError("vision service unreachable")


async def test_any_llamaindex_model_that_fails_leaves_the_item_its_offline_description(
    sample_diagram: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vision = _BrokenVision()
    rag = MultimodalRAG(storage_dir=tmp_path / "store", vlm=vision)
    try:
        prepared = await rag.pipeline.aprepare(sample_diagram, IngestReport())  # parse, describe, cut: no write
    finally:
        rag.close()

    assert prepared is not None and vision.calls == 1
    [image] = [n for n in prepared.nodes if n.metadata["modality"] == "image"]
    assert image.metadata["description_model"] == "offline"
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "vision service unreachable" in warnings[0] and sample_diagram.name in warnings[0]
    assert prepared.usage.calls == 0  # a call that failed is no cost to report


# --- a text graph the model fails to build -------------------------------------------------------------------

QUOKKA_NOTES = (
    "Quokka Station monitors the Rottnest Island colony every morning.\n\n"
    "Quokka Station sends its counts to the Perth Zoo research office."
)
KESTREL_NOTES = "Kestrel Harbour lends its survey boats to the Fremantle Maritime Museum."


class _DownForOneDocument(FakeLLM):
    """The repo's fake LLM, except that every call about one document's text fails (its service is down for it)."""

    down_for: str = ""

    def respond(self, prompt: str) -> str:
        if self.down_for and self.down_for in prompt:
            self._calls.append(prompt)
            raise ConnectionError("qwen-max failed after 3 retries: HTTP 500 InternalError")
        return super().respond(prompt)


async def _graph_of(rag: MultimodalRAG, doc_ids: list[str], chunk_ids: set[str]) -> dict[str, Any]:
    """LightRAG's doc status of these documents, and the entities (name -> type) sourced from these chunks."""
    light = await rag.graph._rag_instance()
    statuses = [await light.doc_status.get_by_id(doc_id) for doc_id in doc_ids]
    entities = {
        str(n["id"]): n.get("entity_type")
        for n in await light.chunk_entity_relation_graph.get_all_nodes()
        if not chunk_ids.isdisjoint(split_sources(n.get("source_id")))
    }
    return {"statuses": statuses, "entities": entities}


def test_a_text_graph_the_model_fails_is_built_without_it_and_the_rest_of_the_batch_is_unaffected(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    down, working = tmp_path / "quokka_notes.txt", tmp_path / "kestrel_notes.txt"
    down.write_text(QUOKKA_NOTES, encoding="utf-8")
    working.write_text(KESTREL_NOTES, encoding="utf-8")
    llm = _DownForOneDocument(down_for="Quokka Station")
    caplog.set_level(logging.WARNING)

    with MultimodalRAG(storage_dir=tmp_path / "store", llm=llm) as rag:
        report = rag.ingest([down, working], show_progress=False)

        # both written whole; the failed one counted, with the model's failure
        assert report.ok, report.failures
        assert report.ingested == [down.name, working.name]
        assert list(report.graph_fallbacks) == [down.name] and "HTTP 500" in report.graph_fallbacks[down.name]
        assert "1 graph(s) built without the model" in report.summary()
        assert any("Quokka Station" in p for p in llm.calls)  # the model was asked, and failed
        # one warning, naming the file and why; LightRAG's own error records are not passed on
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1, warnings
        assert down.name in warnings[0] and "built without the model" in warnings[0] and "HTTP 500" in warnings[0]

        # nothing left of LightRAG's failed attempt: no doc status, no orphan chunk
        state = store_state(rag)
        assert state["milvus_docs"] == sorted([down.name, working.name]) and not state["journal_pending"]
        assert state["vectors"]["chunks_vdb"] == sorted(i for ids in state["milvus_ids"].values() for i in ids)
        assert not state["vectors"]["text_chunks_missing"]
        down_ids, working_ids = set(report.records[down.name].node_ids), set(report.records[working.name].node_ids)
        down_doc_id, working_doc_id = report.records[down.name].doc_id, report.records[working.name].doc_id
        graph = rag._loop.run(_graph_of(rag, [down_doc_id, working_doc_id], down_ids))
        assert graph["statuses"][0] is None  # not "failed": LightRAG's record of the attempt is gone
        assert str(graph["statuses"][1]["status"]).lower().endswith("processed")
        # its graph is what the LLM-free extractor reads in its chunks (lower-case names, typed by the extractor)
        nodes = rag.vector_store.get_nodes(node_ids=sorted(down_ids))
        expected = {e["entity_name"]: e["entity_type"] for e in build_custom_kg([node_to_graph_chunk(n) for n in nodes])["entities"]}
        assert graph["entities"] == expected and "quokka station" in expected
        # the working file's graph came from the model (the fake names entities as written, type "concept")
        working_graph = rag._loop.run(_graph_of(rag, [], working_ids))["entities"]
        assert working_graph.get("Kestrel Harbour") == "concept", working_graph
        # searchable, in Milvus and in the graph
        [hit, *_] = rag.as_retriever(doc=down.name).retrieve("Which station monitors the Rottnest Island colony?")
        assert hit.node.metadata["doc"] == down.name and "Quokka Station" in hit.node.get_content()
        chunks = rag.graph.run(rag.graph.aquery_data("Quokka Station Rottnest Island colony", mode="mix"))["chunks"]
        assert {c["chunk_id"] for c in chunks} & down_ids

        # deleting it removes its LLM-free graph (it has no LightRAG doc status to delete by)
        rag.delete(down.name)
        assert rag._loop.run(_graph_of(rag, [], down_ids))["entities"] == {}
        state = store_state(rag)
        assert not set(state["vectors"]["chunks_vdb"]) & down_ids and working_ids <= set(state["vectors"]["chunks_vdb"])


class _FailsWhileMerging(FakeLLM):
    """Extracts ten descriptions of one entity from a text (LightRAG then asks for a summary while merging, after
    the text's other entities were merged) and fails that summary call."""

    def respond(self, prompt: str) -> str:
        if "Description List" in prompt:
            self._calls.append(prompt)
            raise ConnectionError("qwen-max failed after 3 retries: HTTP 503 ServiceUnavailable")
        if "Kookaburra Lodge" in prompt and "missed or incorrectly formatted" not in prompt:
            self._calls.append(prompt)
            lines = [f"entity{TUPLE}Kookaburra Lodge{TUPLE}organization{TUPLE}Kookaburra Lodge fact {i}." for i in range(10)]
            others = [f"entity{TUPLE}{name}{TUPLE}location{TUPLE}{name} is a place." for name in ("Rottnest Island", "Perth")]
            return "\n".join(others + lines + [COMPLETE])
        return super().respond(prompt)


def test_a_model_failure_while_merging_leaves_nothing_of_the_attempt(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    notes = tmp_path / "lodge_notes.txt"
    notes.write_text("Kookaburra Lodge rents bicycles on Rottnest Island to visitors from Perth.", encoding="utf-8")
    llm = _FailsWhileMerging()
    caplog.set_level(logging.WARNING)

    with MultimodalRAG(storage_dir=tmp_path / "store", llm=llm) as rag:
        report = rag.ingest([notes], show_progress=False)

        assert report.ok and "HTTP 503" in report.graph_fallbacks[notes.name], report
        assert any("Description List" in p for p in llm.calls)  # the failure came while LightRAG merged
        record = report.records[notes.name]
        graph = rag._loop.run(_graph_of(rag, [record.doc_id], set(record.node_ids)))
        assert graph["statuses"] == [None]
        # what LightRAG merged before the failure ("Rottnest Island", "Perth" as the model named them) is gone:
        # the graph holds exactly the LLM-free extractor's entities of the text
        nodes = rag.vector_store.get_nodes(node_ids=record.node_ids)
        expected = {e["entity_name"]: e["entity_type"] for e in build_custom_kg([node_to_graph_chunk(n) for n in nodes])["entities"]}
        assert graph["entities"] == expected
        light = rag._loop.run(rag.graph._rag_instance())
        assert rag._loop.run(light.full_entities.get_by_id(record.doc_id)) is None
        state = store_state(rag)  # and so are their vectors
        assert state["vectors"]["entities_vdb"] == sorted(compute_mdhash_id(name, prefix="ent-") for name in state["entities"])
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and notes.name in warnings[0], warnings
