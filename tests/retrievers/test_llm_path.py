"""A store built with an LLM, queried through the facade: its ingestion cost one model call per image, table and
equation (whose entity goes into the graph from that call) and LightRAG's extraction read only the text chunks;
retrieval calls no LLM unless asked to (answers call it once), and a modal item's own content (table cells, LaTeX,
words in a picture) is searchable by BM25 even when the model's description repeats none of it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.store import GRAPH_MODES
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.milvus import SPARSE_FIELD
from tests.support.fake_llm import ANSWER_PREFIX, FakeLLM
from tests.support.fake_mm_llm import FakeCall, FakeMultiModalLLM
from tests.support.llm_calls import text_call_kind
from tests.support.modal_graph import assert_item_in_graph, graph_entity, modal_chunks
from tests.support.pdfs import IMAGE_WORDS, LATEX_TEXT, TABLE_ROWS, make_modal_pdf

SUMMARIES = {
    "table": "A summary of regional activity over the year.",
    "equation": "A mathematical relation used in the report.",
    "image": "A chart from the annual report.",
}
"""What the model says about each item: none of the item's own values, words or symbols."""


def _kind(prompt: str) -> str:
    if "Table Information:" in prompt:
        return "table"
    return "equation" if "Equation Information:" in prompt else "image"


def _summary(kind: str) -> str:
    info = {"entity_name": f"Report {kind}", "entity_type": kind, "summary": SUMMARIES[kind]}
    return json.dumps({"detailed_description": SUMMARIES[kind], "entity_info": info})


class SummarisingLLM(FakeLLM):
    """The fake text LLM (extraction, keywords, answers), describing tables and equations without their values."""

    def respond(self, prompt: str) -> str:
        if "detailed_description" in prompt and "entity_info" in prompt:
            self.calls.append(prompt)
            return _summary(_kind(prompt))
        return super().respond(prompt)


class SummarisingVLM(FakeMultiModalLLM):
    """The fake vision LLM, describing a picture without the words in it."""

    def _respond(self, call: FakeCall) -> str:
        if call.kind == "other":
            return super()._respond(call)
        self.calls.append(call)
        return _summary(call.kind)


@pytest.fixture(scope="module")
def llm_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MultimodalRAG, FakeLLM]]:
    """A two-page report (a table, a figure with words in its pixels, two formulas) ingested with the fakes."""
    folder = tmp_path_factory.mktemp("llm-path")
    facts = make_modal_pdf(folder / "report.pdf")
    llm = SummarisingLLM()
    rag = MultimodalRAG(storage_dir=folder / "store", llm=llm, vlm=SummarisingVLM())
    report = rag.ingest([facts["path"]], show_progress=False)
    assert report.ok, report.failures
    yield rag, llm
    rag.close()


def _keyword_calls(calls: list[str]) -> list[str]:
    return [c for c in calls if "high_level_keywords" in c and "low_level_keywords" in c]


@pytest.mark.parametrize("mode", GRAPH_MODES)
def test_retrieval_calls_no_llm_in_any_graph_mode(llm_store: tuple[MultimodalRAG, FakeLLM], mode: str) -> None:
    rag, llm = llm_store
    before = len(llm.calls)
    nodes = rag.as_retriever(graph_mode=mode).retrieve(f"Which region moved the most containers ({mode})?")
    assert nodes
    assert llm.calls[before:] == []


def test_an_answered_query_calls_the_llm_once(llm_store: tuple[MultimodalRAG, FakeLLM]) -> None:
    rag, llm = llm_store
    before = len(llm.calls)
    response = rag.as_query_engine().query("How many containers did the South region move in Q3?")
    assert str(response.response).startswith(ANSWER_PREFIX)
    assert len(llm.calls) - before == 1 and not _keyword_calls(llm.calls[before:])


def test_the_setting_hands_query_keywords_to_the_llm(
    llm_store: tuple[MultimodalRAG, FakeLLM], monkeypatch: pytest.MonkeyPatch
) -> None:
    rag, llm = llm_store
    monkeypatch.setenv("MMRAG_GRAPH_LLM_KEYWORDS", "true")
    assert MMRAGSettings().graph_llm_keywords is True
    monkeypatch.setattr(rag.settings, "graph_llm_keywords", True)
    before = len(llm.calls)
    assert rag.as_retriever().retrieve("Which region moved the fewest containers in the first quarter?")
    keyword_calls = _keyword_calls(llm.calls[before:])
    assert len(keyword_calls) == 1 and "fewest containers" in keyword_calls[0]


def _bm25(rag: MultimodalRAG, query: str) -> list[dict[str, Any]]:
    """The BM25 (sparse) search alone: the nodes whose indexed text holds the query's words, best first."""
    store = rag.vector_store
    hits = store.client.search(
        store.collection_name, data=[query], anns_field=SPARSE_FIELD, limit=3, output_fields=["text", "modality"],
        search_params={"metric_type": "BM25", "params": {"drop_ratio_search": 0.0}},
    )[0]
    return [hit["entity"] for hit in hits]


@pytest.mark.parametrize(
    ("modality", "query"),
    [
        ("table", TABLE_ROWS[2][3]),  # a cell only the table holds (South, Q3)
        ("equation", "sqrt"),  # a LaTeX command of the second formula
        ("image", IMAGE_WORDS[1]),  # a word drawn in the figure's pixels, read by OCR
    ],
)
def test_a_modal_items_own_content_is_searchable_beside_the_models_description(
    llm_store: tuple[MultimodalRAG, FakeLLM], modality: str, query: str
) -> None:
    rag, _ = llm_store
    hits = _bm25(rag, query)
    assert hits and hits[0]["modality"] == modality, hits
    text = hits[0]["text"]
    assert text.startswith(SUMMARIES[modality])  # the model's description leads (it is what gets embedded first)
    assert query.casefold() in text.casefold()
    if modality == "equation":
        assert LATEX_TEXT in text


def test_each_modal_item_cost_one_call_and_extraction_read_only_text_chunks(
    llm_store: tuple[MultimodalRAG, FakeLLM],
) -> None:
    rag, llm = llm_store
    record = rag.manifest.get("report.pdf")
    assert record is not None
    nodes = Counter(record.modalities)
    assert nodes["table"] == 1 and nodes["image"] == 1 and nodes["equation"] == 2 and nodes["text"] > 0
    vlm = rag.describer.captioner.vlm if rag.describer.captioner else None
    assert isinstance(vlm, SummarisingVLM)

    ingestion = Counter(k for k in map(text_call_kind, llm.calls) if k.startswith(("describe", "extract", "glean")))
    pictures = [c for c in vlm.calls if "detailed_description" in c.prompt]  # RAG-Anything's prompt, not answers

    assert len(pictures) == nodes["image"]  # one vision call per picture, and no text call about it
    assert ingestion["describe table"] == nodes["table"] and ingestion["describe equation"] == nodes["equation"]
    # LightRAG's extraction and gleaning, once each per text chunk, and never over an item's description
    assert ingestion["extract text"] == ingestion["glean text"] == nodes["text"]
    assert sum(ingestion.values()) == nodes["table"] + nodes["equation"] + 2 * nodes["text"], ingestion


def test_each_items_entity_from_its_one_call_is_in_the_graph_and_found_by_a_graph_query(
    llm_store: tuple[MultimodalRAG, FakeLLM],
) -> None:
    rag, _ = llm_store
    chunks = modal_chunks(rag, "report.pdf")
    assert sorted(c.modality for c in chunks) == ["equation", "equation", "image", "table"]
    for chunk in chunks:
        assert chunk.entity_name == f"Report {chunk.modality} ({chunk.modality})"  # the model's name
        name = assert_item_in_graph(rag, chunk)
        node, _ = graph_entity(rag, name)
        assert node is not None and SUMMARIES[chunk.modality] in node["description"]  # the model's summary

        found = rag.graph.run(rag.graph.aquery_data(f"What is the {chunk.entity_name}?", mode="local"))
        assert name in {e["entity_name"] for e in found["entities"]}
        assert chunk.chunk_id in {c["chunk_id"] for c in found["chunks"]}
