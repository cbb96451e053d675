"""The relevance floor: off-topic questions are answered "no evidence", on-topic ones still get an answer."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.models.colour import ColourEmbedding
from llama_index_mmrag.relevance import RelevanceFloor
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.image_field import ImageField

NO_EVIDENCE = "No evidence was found for this question."
OFF_TOPIC = ["hello", "What is a good recipe for banana bread?", "Who won the basketball final last year?", "How old is Taylor Swift?"]
ON_TOPIC = ["Does Milvus support simultaneous insertion and search?", "What are the key components of the Milvus architecture?"]


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_an_off_topic_question_gets_the_no_evidence_answer(demo_rag: MultimodalRAG, question: str) -> None:
    assert demo_rag.as_retriever().retrieve(question)  # the retriever still ranks; the answer refuses
    response = demo_rag.as_query_engine().query(question)
    assert str(response.response) == NO_EVIDENCE
    assert response.source_nodes == []


@pytest.mark.parametrize("question", ON_TOPIC)
def test_an_on_topic_question_is_answered_with_citations(demo_rag: MultimodalRAG, question: str) -> None:
    response = demo_rag.as_query_engine().query(question)
    assert str(response.response) != NO_EVIDENCE
    assert response.source_nodes and "[milvus_" in str(response.response)


async def test_the_async_engine_and_the_agent_tool_refuse_too(demo_rag: MultimodalRAG) -> None:
    response = await demo_rag.as_query_engine().aquery("hello")
    assert str(response.response) == NO_EVIDENCE and response.source_nodes == []
    assert NO_EVIDENCE in str(demo_rag.as_tool().call("How old is Taylor Swift?"))


def test_the_floor_is_a_setting_and_zero_turns_it_off(demo_rag: MultimodalRAG, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_RELEVANCE_FLOOR", "0.55")
    assert MMRAGSettings().relevance_floor == 0.55
    with pytest.raises(ValueError, match="relevance_floor"):
        MMRAGSettings(relevance_floor=1.5)
    monkeypatch.setattr(demo_rag.settings, "relevance_floor", 0.0)
    response = demo_rag.as_query_engine().query("hello")
    assert response.source_nodes and str(response.response) != NO_EVIDENCE


def test_without_stored_vectors_the_floor_embeds_the_chunks(demo_rag: MultimodalRAG) -> None:
    nodes = [
        NodeWithScore(node=TextNode(id_="a", text="Milvus is a vector database built for similarity search."), score=1.0),
        NodeWithScore(node=TextNode(id_="b", text="The quarterly report lists revenue by region."), score=0.5),
    ]
    floor = RelevanceFloor(embed_model=demo_rag.embed_model, floor=demo_rag.settings.relevance_floor)
    assert floor.postprocess_nodes(nodes, QueryBundle("Which database does vector similarity search?")) == nodes
    assert floor.postprocess_nodes(nodes, QueryBundle("How long should I boil eggs?")) == []


def test_a_question_naming_what_a_picture_shows_is_answered(demo_rag: MultimodalRAG) -> None:
    # The diagram's OCR words embed poorly next to a question; the words the question names are found in them.
    response = demo_rag.as_query_engine(modalities=["image"]).query("Which components does the query node talk to?")
    assert response.source_nodes and str(response.response) != NO_EVIDENCE


@pytest.mark.parametrize("question", ["What is reported on page 6?", "What date is on the sixth page?", "What does Table 2 list?"])
def test_a_question_naming_a_page_or_table_that_was_found_passes(demo_rag: MultimodalRAG, question: str) -> None:
    nodes = [NodeWithScore(node=TextNode(id_="p", text="Table 2: Tonnage per berth.", metadata={"page": 5}), score=1.0)]
    floor = RelevanceFloor(embed_model=demo_rag.embed_model, floor=0.99)  # no chunk is that relevant
    assert floor.postprocess_nodes(nodes, QueryBundle(question)) == nodes
    assert floor.postprocess_nodes(nodes, QueryBundle("What is reported on page 9?")) == []


class _OtherColours(ColourEmbedding):
    model_name: str = "other-colours"  # an image model with no measured floor


def _picture_nodes() -> list[NodeWithScore]:
    page = {"page": 0, "chunk_ids": ["words", "scan"], "modalities": ["text", "image"]}  # a page with a picture
    words = TextNode(id_="words", text="The quarterly report lists revenue by region.", metadata=page)
    scan = TextNode(id_="scan", text="Image; File: scan 001", metadata={"modality": "image"})
    return [NodeWithScore(node=words, score=1.0), NodeWithScore(node=scan, score=0.5)]


def _pixels(ids: Sequence[str]) -> dict[str, list[float]]:
    stored = {"scan": ColourEmbedding().get_query_embedding("red")}  # a picture whose pixels are all red
    return {i: stored[i] for i in ids if i in stored}


def test_a_picture_is_evidence_by_the_image_models_own_similarity_and_floor(demo_rag: MultimodalRAG) -> None:
    images = ImageField(ColourEmbedding(), dim=11)
    floor = RelevanceFloor(
        embed_model=demo_rag.embed_model, floor=demo_rag.settings.relevance_floor, image_field=images,
        image_vector_lookup=_pixels,
    )
    nodes = _picture_nodes()
    red = floor.evidence("which chart is red?", nodes)
    assert red.picture_similarity == pytest.approx(1.0) and red.relevance(floor.coverage_weight) < floor.floor
    assert floor.postprocess_nodes(nodes, QueryBundle("which chart is red?")) == nodes
    # a question naming no colour is the same vector for every picture: 1/sqrt(11) from a one-colour one
    assert floor.evidence("How old is Taylor Swift?", nodes).picture_similarity == pytest.approx(11**-0.5)
    assert floor.postprocess_nodes(nodes, QueryBundle("How old is Taylor Swift?")) == []
    assert floor.postprocess_nodes(nodes, QueryBundle("the blue chart")) == []  # found, but not what was asked


def test_an_image_model_without_a_measured_floor_judges_pictures_by_their_text_until_one_is_given(
    demo_rag: MultimodalRAG, monkeypatch: pytest.MonkeyPatch
) -> None:
    nodes = _picture_nodes()
    unmeasured = ImageField(_OtherColours(), dim=11)
    unknown = RelevanceFloor(embed_model=demo_rag.embed_model, floor=0.4, image_field=unmeasured)
    assert unknown.picture_floor is None and unknown.evidence("which chart is red?", nodes).pictures == ()
    assert unknown.postprocess_nodes(nodes, QueryBundle("which chart is red?")) == []
    given = ImageField(_OtherColours(), dim=11, relevance_floor=0.9)
    with pytest.raises(ValueError, match="needs image_vector_lookup"):
        RelevanceFloor(embed_model=demo_rag.embed_model, floor=0.4, image_field=given)
    floor = RelevanceFloor(embed_model=demo_rag.embed_model, floor=0.4, image_field=given, image_vector_lookup=_pixels)
    assert floor.postprocess_nodes(nodes, QueryBundle("which chart is red?")) == nodes
    monkeypatch.setenv("MMRAG_IMAGE_RELEVANCE_FLOOR", "0.65")
    assert MMRAGSettings().image_relevance_floor == 0.65
    monkeypatch.setenv("MMRAG_IMAGE_RELEVANCE_FLOOR", "")
    assert MMRAGSettings().image_relevance_floor is None


async def test_the_async_floor_judges_pictures_too(demo_rag: MultimodalRAG) -> None:
    images = ImageField(ColourEmbedding(), dim=11)
    floor = RelevanceFloor(embed_model=demo_rag.embed_model, floor=0.4, image_field=images, image_vector_lookup=_pixels)
    nodes = _picture_nodes()
    assert await floor.apostprocess_nodes(nodes, QueryBundle("which chart is red?")) == nodes
    assert await floor.apostprocess_nodes(nodes, QueryBundle("hello")) == []
