"""Page images in the text search: they restate their page offline, so they sit out of a retrieval restricted to
documents, and take part across the corpus, in an image-only scope, and where a vision model described them.

A generated born-digital deck (three 4:3 slides, each a title, a line of text and a bar chart, then a portrait
page of prose) and a one-page memo, ingested offline (every slide gets a page image whose text is the slide's
first words) and, for the last test, with the repo's fake vision model (the page images get its descriptions).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import NodeWithScore
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.retrievers.build import page_images_in_text_search
from tests.support.fake_mm_llm import FakeMultiModalLLM

DECK = "deck.pdf"
MEMO = "memo.pdf"
SLIDES = (
    ("Harbour container throughput by quarter", "Quarterly volumes rose at the container terminal."),
    ("Crane fleet renewal programme", "Six new ship-to-shore cranes entered service."),
    ("Rail share of hinterland traffic", "Rail carried a growing share of boxes inland."),
)
PROSE = (
    "The harbour board approved the dredging budget for the outer channel. Dredging keeps the channel deep "
    "enough for the largest container ships at low tide."
)
QUESTION = "How did the rail share of hinterland traffic change?"


def _deck(path: Path) -> None:
    canvas = Canvas(str(path), pagesize=(720.0, 540.0))
    for title, line in SLIDES:
        canvas.setFont("Helvetica-Bold", 26)
        canvas.drawString(40, 480, title)
        canvas.setFont("Helvetica", 16)
        canvas.drawString(40, 440, line)
        for index in range(6):
            canvas.setFillColorRGB(0.2 + 0.1 * index, 0.3, 0.7)
            canvas.rect(80 + index * 90, 60, 50, 60 + 40 * index, stroke=0, fill=1)
        canvas.setFillColorRGB(0, 0, 0)
        canvas.showPage()
    canvas.setPageSize(letter)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 700, PROSE[:90])
    canvas.drawString(72, 684, PROSE[90:])
    canvas.showPage()
    canvas.save()


def _memo(path: Path) -> None:
    canvas = Canvas(str(path), pagesize=letter)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 700, "The ferry timetable changes on the first of May.")
    canvas.save()


def _ingested(folder: Path, vlm: FakeMultiModalLLM | None = None) -> Path:
    folder.mkdir(parents=True)
    _deck(folder / DECK)
    _memo(folder / MEMO)
    store = folder / "store"
    with MultimodalRAG(storage_dir=store, vlm=vlm) as rag:
        report = rag.ingest([folder / DECK, folder / MEMO], show_progress=False)
        assert report.ok, report.failures
    return store


@pytest.fixture(scope="module")
def offline_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _ingested(tmp_path_factory.mktemp("page-images-text") / "offline")


def _page_images(found: list[NodeWithScore]) -> list[NodeWithScore]:
    return [r for r in found if r.node.metadata.get("image_kind") == "page"]


def _chunks(store: Path, **scope: object) -> list[NodeWithScore]:
    with MultimodalRAG(storage_dir=store, top_k=20, page_aggregation=False) as rag:
        return rag.as_retriever(**scope).retrieve(QUESTION)


def test_the_deck_has_one_offline_page_image_per_slide(offline_store: Path) -> None:
    with MultimodalRAG(storage_dir=offline_store) as rag:
        images = _page_images(rag.as_retriever(top_k=20, modalities=["image"], doc=DECK).retrieve(QUESTION))
    assert sorted(r.node.metadata["page"] for r in images) == [0, 1, 2]
    assert all(r.node.metadata["description_model"] == "offline" for r in images)
    assert SLIDES[2][0] in next(r for r in images if r.node.metadata["page"] == 2).node.get_content()


@pytest.mark.parametrize("doc", [DECK, [DECK, MEMO]])
def test_within_named_documents_the_text_search_leaves_offline_page_images_out(offline_store: Path, doc: object) -> None:
    found = _chunks(offline_store, doc=doc)
    assert found and not _page_images(found)
    best = found[0].node
    assert (best.metadata["doc"], best.metadata["page"], best.metadata["modality"]) == (DECK, 2, "text")
    assert best.metadata["page_image_path"]  # the slide's picture still comes with its page's text


def test_with_page_aggregation_the_answering_slide_still_brings_its_picture(offline_store: Path) -> None:
    with MultimodalRAG(storage_dir=offline_store, top_k=3) as rag:
        [first, *_] = rag.as_retriever(doc=DECK).retrieve(QUESTION)
    assert first.node.metadata["page"] == 2
    assert "image" not in first.node.metadata["modalities"]  # the page's text, not its restated summary
    assert first.node.metadata["page_image_path"]


def test_across_the_corpus_page_images_take_part_in_the_text_search(offline_store: Path) -> None:
    found = _chunks(offline_store)
    assert 2 in {r.node.metadata["page"] for r in _page_images(found)}


def test_other_scopes_keep_them_unless_they_name_documents(offline_store: Path) -> None:
    assert _page_images(_chunks(offline_store, page_range=(0, 3)))  # pages, not documents
    assert {r.node.metadata["page"] for r in _page_images(_chunks(offline_store, doc=DECK, modalities=["image"]))} == {
        0, 1, 2
    }
    assert not _page_images(_chunks(offline_store, doc=DECK, modalities=["text", "image"]))
    assert page_images_in_text_search(None, ["text"]) and not page_images_in_text_search("a.pdf", ["image", "text"])


def test_a_page_image_a_vision_model_described_stays_in_the_text_search(tmp_path: Path) -> None:
    vlm = FakeMultiModalLLM()
    store = _ingested(tmp_path / "described", vlm=vlm)
    images = _page_images(_chunks(store, doc=DECK))
    assert vlm.calls and {r.node.metadata["page"] for r in images} == {0, 1, 2}
    assert all(r.node.metadata["description_model"] != "offline" for r in images)
