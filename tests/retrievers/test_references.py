"""Questions that name a page, a figure or a table find it, inside the caller's scope, on a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.retrievers.references import ReferenceRetriever, find_references
from tests.support.pdfs import text_picture

ROUTINE = [
    "The terminal handled containers for the regular liner services during the period.",
    "Crane moves per hour stayed close to the plan and berth windows were kept.",
    "Yard occupancy was moderate and gate transactions followed the usual weekly pattern.",
]
FIGURE_PAGE = 3  # 0-based: the page whose caption is "Figure 3"


def _write_report(path: Path, pages: int = 6) -> Path:
    canvas = Canvas(str(path), pagesize=letter)
    for index in range(pages):
        y = 700.0
        lines = list(ROUTINE)
        if index == FIGURE_PAGE:
            lines.append("Figure 3: Throughput of the northern berths by quarter.")
        elif index == 1:
            lines.append("Figure 31 and Figure 3.1 are in the appendix; Figure 2 shows the gate layout.")
        for line in lines:
            canvas.drawString(72, y, line)
            y -= 18
        canvas.showPage()
    canvas.save()
    return path


MENTION = (
    "Figure 1 shows the sales dashboard of the terminal. The sales dashboard of the terminal tracks revenue, "
    "berth windows and crane moves, and the terminal's sales dashboard is reviewed by the board every quarter."
)


def _write_dashboard_report(path: Path) -> Path:
    """Page 0 talks about Figure 1 in the question's words; page 1 holds the figure, captioned "Figure 1"."""
    canvas = Canvas(str(path), pagesize=letter)
    text = canvas.beginText(72, 700)
    text.setFont("Helvetica", 11)
    for start in range(0, len(MENTION), 90):
        text.textLine(MENTION[start : start + 90])
    canvas.drawText(text)
    canvas.showPage()
    canvas.setFont("Helvetica", 11)
    canvas.drawString(72, 700, "The year closed with a record quarter.")
    canvas.drawImage(ImageReader(text_picture(["Q1 Q2 Q3 Q4", "48 52 57 61"], (600, 260), 64)), 72, 480, width=300, height=130)
    canvas.drawString(72, 460, "Figure 1: Quarterly revenue")
    canvas.showPage()
    canvas.save()
    return path


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalRAG]:
    folder = tmp_path_factory.mktemp("references")
    docs = [
        _write_report(folder / "port_report.pdf"),
        _write_report(folder / "other_port.pdf"),
        _write_dashboard_report(folder / "dashboard.pdf"),
    ]
    with MultimodalRAG(storage_dir=folder / "store") as rag:
        report = rag.ingest(docs, show_progress=False)
        assert report.ok, report.failures
        yield rag


def _pages(nodes: list) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    return [(n.node.metadata["doc"], n.node.metadata["page"]) for n in nodes]


@pytest.mark.parametrize(
    ("question", "pages", "items"),
    [
        ("What is the word in the orange box on page 17?", (16,), ()),
        ("How many figures are there from Page 3 to Page 5?", (2, 3, 4), ()),
        ("What is the sum of the numbers on page 15 and page 16?", (14, 15), ()),
        ("What date is on the second page?", (1,), ()),
        ("See pp. 4-5 and p. 9", (3, 4, 8), ()),
        ("What are the axes of Figure 3 and Table 2?", (), (("figure", "3"), ("table", "2"))),
        ("Compare Figures 2 and 4", (), (("figure", "2"), ("figure", "4"))),
        ("Revenue grew 3 percent in 2015 on 12 pages of notes", (), ()),
        ("Is page 0 the cover?", (), ()),
        # a deck's slides are its pages; other ways of writing "page"
        ("What is on slide 12?", (11,), ()),
        ("Compare slides 3 and 7", (2, 6), ()),
        ("Which slides 4 to 6 show charts?", (3, 4, 5), ()),
        ("What does the third slide say?", (2,), ()),
        ("What does pg. 4 say, and pg 6?", (3, 5), ()),
        ("What is on page no. 7 and page #9?", (6, 8), ()),
        ("Figure 3 on p.5", (4,), (("figure", "3"),)),
        # words that merely start like one: no page
        ("Was the slideshow 3 minutes long?", (), ()),
        ("Does a pgsql 5 query scan the index?", (), ()),
        ("How many apps. 3 of them are free?", (), ()),
    ],
)
def test_references_are_read_from_the_question(question: str, pages: tuple[int, ...], items: tuple) -> None:  # type: ignore[type-arg]
    refs = find_references(question)
    assert refs.pages == pages and refs.items == items


def test_a_named_page_comes_first_when_every_page_reads_alike(rag: MultimodalRAG) -> None:
    def top_pages(r: MultimodalRAG) -> list[tuple[str, int]]:
        retriever = r.as_retriever(top_k=3, doc="port_report.pdf")
        return [_pages(retriever.retrieve(f"What does page {n} say about crane moves?"))[0] for n in range(1, 7)]

    assert top_pages(rag) == [("port_report.pdf", n) for n in range(6)]
    without = MultimodalRAG(storage_dir=rag.settings.storage_dir, reference_weight=0)
    try:  # the same store without the reference search: the pages read alike, so the number cannot steer
        assert top_pages(without) != [("port_report.pdf", n) for n in range(6)]
    finally:
        without.close()


def test_a_slide_or_pg_number_names_its_page_too(rag: MultimodalRAG) -> None:
    retriever = rag.as_retriever(top_k=3, doc="port_report.pdf")
    asked = [f"What does slide {n} say about crane moves?" for n in (2, 5)] + ["What does pg. 4 say about crane moves?"]
    assert [_pages(retriever.retrieve(q))[0] for q in asked] == [("port_report.pdf", p) for p in (1, 4, 3)]


def test_a_named_figure_is_found_by_its_caption_not_by_look_alike_numbers(rag: MultimodalRAG) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5, doc="port_report.pdf")
    nodes = retriever.retrieve("What does Figure 3 show?")
    assert _pages(nodes) == [("port_report.pdf", FIGURE_PAGE)]  # page 1 names Figure 31 and Figure 3.1 only
    assert rag.as_retriever(top_k=3, doc="port_report.pdf").retrieve("What does Figure 3 show?")[0].node.metadata["page"] == FIGURE_PAGE


def test_a_named_figure_s_page_comes_first_though_a_page_that_mentions_it_reads_closer(rag: MultimodalRAG) -> None:
    question = "What does the sales dashboard of the terminal in Figure 1 show?"
    retriever = rag.as_retriever(top_k=2, doc="dashboard.pdf")
    vector = retriever.retrievers[0].retrieve(question)
    assert _pages(vector)[0] == ("dashboard.pdf", 0)  # the words are the mention's
    found = retriever.retrieve(question)
    assert _pages(found) == [("dashboard.pdf", 1), ("dashboard.pdf", 0)]
    assert found[0].node.metadata["caption"].startswith("Figure 1")


def test_across_documents_a_named_figure_is_found_by_its_caption_though_no_near_node_names_it(rag: MultimodalRAG) -> None:
    # the question's other words are the port reports' (and the mention's): the captioned picture is nowhere near
    question = "What does Figure 1 show about crane moves and berth windows?"
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=1)
    nearest = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5).retrieve(question)
    assert all("Figure 1:" not in str(n.node.metadata.get("caption")) for n in nearest)
    [found] = retriever.retrieve(question)
    assert (found.node.metadata["doc"], found.node.metadata["page"]) == ("dashboard.pdf", 1)
    assert found.node.metadata["caption"].startswith("Figure 1")
    assert rag.as_retriever(top_k=3).retrieve(question)[0].node.metadata["caption"].startswith("Figure 1")


def test_the_reference_search_never_leaves_the_scope(rag: MultimodalRAG) -> None:
    scoped = rag.as_retriever(top_k=10, doc="other_port.pdf", page_range=(0, 2)).retrieve("What is on page 5 and in Figure 3?")
    assert scoped and {doc for doc, _ in _pages(scoped)} == {"other_port.pdf"}
    assert all(page <= 2 for _, page in _pages(scoped))


def test_a_question_without_references_adds_nothing(rag: MultimodalRAG) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=5)
    assert retriever.retrieve("How busy was the yard?") == []
