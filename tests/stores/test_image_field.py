"""Pictures searched by their pixels: a store with a multimodal embedding keeps an image vector field, fills it at
ingest and searches it with the question's text, under the same filters as the text search; the store records the
image model and refuses another."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from llama_index_mmrag import MilvusModalRetriever, MultimodalRAG, StoreIdentityError
from llama_index_mmrag.models.colour import ColourEmbedding
from llama_index_mmrag.stores.image_field import IMAGE_FIELD_NAME, IMAGE_VECTOR_FLAG

# Three pictures that differ only in colour: no text in them for OCR to read, names that say nothing of it.
PICTURES = {"chart-a.png": (220, 40, 40), "chart-b.png": (40, 170, 70), "chart-c.png": (40, 90, 220)}
QUESTIONS = {"which chart is red?": "chart-a.png", "the green chart": "chart-b.png", "a blue picture": "chart-c.png"}
RRF_K = 60


@pytest.fixture(scope="module")
def picture_rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalRAG]:
    folder = tmp_path_factory.mktemp("pictures")
    for name, rgb in PICTURES.items():
        Image.new("RGB", (64, 48), rgb).save(folder / name)
    (folder / "notes.txt").write_text("The quarterly charts are attached.", encoding="utf-8")  # a text chunk beside
    with MultimodalRAG(storage_dir=folder / "store", image_embed_model=ColourEmbedding()) as rag:
        report = rag.ingest([*(folder / name for name in PICTURES), folder / "notes.txt"], show_progress=False)
        assert report.ok, report.failures
        yield rag


def _docs(retriever: MilvusModalRetriever, question: str) -> list[str]:
    return [n.node.metadata["doc"] for n in retriever.retrieve(question)]


def test_a_colour_question_finds_its_picture_only_through_the_image_field(picture_rag: MultimodalRAG) -> None:
    rag = picture_rag
    for question, picture in QUESTIONS.items():
        image = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=3, mode="image")
        hits = image.retrieve(question)
        assert [n.node.metadata["doc"] for n in hits][0] == picture
        assert hits[0].score == pytest.approx(1.0) and all(h.node.metadata["modality"] == "image" for h in hits)
    # the text knows nothing of colours: the green chart, the one picture whose pixels reach the image model's floor,
    # is fused with the dense ranking as a list of its own, so it leads with more than any one list can give
    # (1 / (k + 1)); the others keep their dense ranks
    dense = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=3, modalities=["image"], mode="dense")
    fused = dense.retrieve("the green chart")
    assert [n.node.metadata["doc"] for n in fused][0] == "chart-b.png"
    assert sorted(n.node.metadata["doc"] for n in fused) == sorted(PICTURES)
    assert fused[0].score > 1 / (RRF_K + 1) >= max(n.score for n in fused[1:])
    hybrid = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=3, modalities=["image"])
    assert sorted(_docs(hybrid, "the green chart")) == sorted(PICTURES)  # dense + BM25, and the image field


def test_the_image_request_honours_the_doc_and_modality_filters(picture_rag: MultimodalRAG) -> None:
    rag = picture_rag
    two = ["chart-b.png", "chart-c.png"]
    image = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5, mode="image", doc=two)
    assert _docs(image, "which chart is red?") and set(_docs(image, "which chart is red?")) <= set(two)
    texts = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5, mode="image", modalities=["text"])
    assert _docs(texts, "the green chart") == []  # text chunks hold no image vector: the image field never ranks them
    hybrid = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5, doc=two, modalities=["image"])
    assert set(_docs(hybrid, "which chart is red?")) == set(two)
    composite = rag.as_retriever(top_k=3, modalities=["image"], doc="chart-b")
    assert [n.node.metadata["doc"] for n in composite.retrieve("the green chart")] == ["chart-b.png"]


def test_only_pictures_hold_an_image_vector_and_no_node_carries_it_in_its_metadata(picture_rag: MultimodalRAG) -> None:
    rows = picture_rag.vector_store.client.query(
        picture_rag.vector_store.collection_name, filter="", output_fields=["doc", "modality", IMAGE_VECTOR_FLAG],
        limit=100,
    )
    flagged = sorted(r["doc"] for r in rows if r.get(IMAGE_VECTOR_FLAG))
    assert flagged == sorted(PICTURES) and len(rows) > len(PICTURES)  # the notes' text chunk is stored unflagged
    nodes = picture_rag.vector_store.get_nodes(node_ids=[r["id"] for r in rows])
    assert nodes and not any("_image_vector" in n.metadata for n in nodes)
    assert picture_rag.identity.image_embed_model == "colour-histogram" and picture_rag.identity.image_embed_dim == 11


def test_reopening_with_another_image_model_or_none_is_refused_and_a_text_store_refuses_one(
    picture_rag: MultimodalRAG, faq_store_copy: Path
) -> None:
    store = picture_rag.settings.storage_dir

    class OtherColours(ColourEmbedding):
        model_name: str = "other-colours"

    with pytest.raises(StoreIdentityError, match="built with the image embedding 'colour-histogram' \\(11-d\\)"):
        MultimodalRAG(storage_dir=store, image_embed_model=OtherColours())
    with pytest.raises(StoreIdentityError, match="but none is configured.*MMRAG_IMAGE_EMBED_MODEL=colour-histogram"):
        MultimodalRAG(storage_dir=store)
    with pytest.raises(StoreIdentityError, match="built without an image embedding.*MMRAG_IMAGE_EMBED_MODEL=none"):
        MultimodalRAG(storage_dir=faq_store_copy, image_embed_model=ColourEmbedding())
    collection = picture_rag.vector_store.client.describe_collection(picture_rag.vector_store.collection_name)
    assert IMAGE_FIELD_NAME in [f["name"] for f in collection["fields"]]


def test_an_image_search_on_a_store_without_an_image_field_says_how_to_get_one(demo_rag: MultimodalRAG) -> None:
    with pytest.raises(ValueError, match="has none: configure a multimodal embedding"):
        MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, mode="image")
    collection = demo_rag.vector_store.client.describe_collection(demo_rag.vector_store.collection_name)
    assert IMAGE_FIELD_NAME not in [f["name"] for f in collection["fields"]]  # no image model: the store as before
