""""Page 3" is the page printed 3 where a document numbers its pages, else the physical page 3: a real store."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters
from pypdf import PdfReader, PdfWriter

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.retrievers.references import ReferenceRetriever, find_references
from tests.parsing.pdf.test_page_labels import FRONT_MATTER, write_numbered_pdf

HOSTILE_LABEL = '3" or page_label != "\\'


def _hostile_pdf(folder: Path) -> Path:
    source = write_numbered_pdf(folder / "hostile_source.pdf", [None] * 4)
    writer = PdfWriter(clone_from=PdfReader(str(source)))
    writer.set_page_label(0, 0, prefix="cover")
    writer.set_page_label(1, 1, prefix=HOSTILE_LABEL)
    writer.set_page_label(2, 3, prefix="x\x01")
    target = folder / "hostile.pdf"
    writer.write(str(target))
    return target


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MultimodalRAG]:
    folder = tmp_path_factory.mktemp("page_labels")
    docs = [
        write_numbered_pdf(folder / "review.pdf", FRONT_MATTER),  # printed 3 is physical index 5
        write_numbered_pdf(folder / "plain.pdf", [None] * 8),  # no numbers: "page 3" is index 2
        _hostile_pdf(folder),
    ]
    with MultimodalRAG(storage_dir=folder / "store") as rag:
        report = rag.ingest(docs, show_progress=False)
        assert report.ok, report.failures
        yield rag


def _pages(nodes: list) -> list[int]:  # type: ignore[type-arg]
    return [n.node.metadata["page"] for n in nodes]


def test_page_n_is_first_the_page_printed_n_then_the_physical_page(rag: MultimodalRAG) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, doc="review.pdf")
    nodes = retriever.retrieve("What is on page 3?")
    assert _pages(nodes)[0] == 5 and nodes[0].node.metadata["page_label"] == "3"
    assert set(_pages(nodes)) == {5, 2}  # the physical page 3 follows
    assert _pages(nodes).index(2) > max(i for i, p in enumerate(_pages(nodes)) if p == 5)
    assert _pages(asyncio.run(retriever.aretrieve("What is on page 3?"))) == _pages(nodes)


def test_the_composite_ranks_the_printed_page_first(rag: MultimodalRAG) -> None:
    found = rag.as_retriever(top_k=5, doc="review.pdf").retrieve("What is on page 3?")
    assert _pages(found)[0] == 5


def test_ranges_read_printed_labels_too(rag: MultimodalRAG) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=20, doc="review.pdf")
    pages = _pages(retriever.retrieve("What do pages 2 to 3 say?"))
    assert set(pages[:2]) == {4, 5}  # printed 2 and 3 first
    assert set(pages) == {4, 5, 1, 2}


def test_without_labels_page_n_is_the_physical_page(rag: MultimodalRAG) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, doc="plain.pdf")
    nodes = retriever.retrieve("What is on page 3?")
    assert nodes and set(_pages(nodes)) == {2}
    assert all("page_label" not in n.node.metadata for n in nodes)
    assert _pages(rag.as_retriever(top_k=3, doc="plain.pdf").retrieve("What is on page 3?"))[0] == 2


def test_ordinals_count_physical_pages(rag: MultimodalRAG) -> None:
    assert find_references("What is on the third page?").labels == ()
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, doc="review.pdf")
    assert set(_pages(retriever.retrieve("What is on the third page?"))) == {2}


def test_a_hostile_label_is_stored_as_written_and_filters_only_its_page(rag: MultimodalRAG) -> None:
    def labelled(value: str) -> list[int]:
        filters = MetadataFilters(filters=[MetadataFilter(key="page_label", value=value)])
        retriever = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=20, filters=filters)
        return _pages(retriever.retrieve("harbour review"))

    assert set(labelled(HOSTILE_LABEL)) == {1}  # stored as written, and matched exactly
    assert labelled('3" or page_label != "') == []  # a prefix of it that would widen a string-built filter
    assert set(labelled("x")) == {2, 3}  # the control character is gone
    in_list = MetadataFilters(filters=[MetadataFilter(key="page_label", value=[HOSTILE_LABEL, "cover"], operator=FilterOperator.IN)])
    found = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=20, filters=in_list).retrieve("harbour")
    assert {(n.node.metadata["doc"], n.node.metadata["page"]) for n in found} == {("hostile.pdf", 0), ("hostile.pdf", 1)}
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, doc="hostile.pdf")
    assert set(_pages(retriever.retrieve("What is on page 3?"))) == {2}  # no page is labelled "3": as before


def test_across_documents_each_document_keeps_its_place_and_a_labelled_one_puts_its_printed_page_first(
    rag: MultimodalRAG,
) -> None:
    retriever = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10)
    nodes = retriever.retrieve("What is on page 3?")
    found = [(n.node.metadata["doc"], n.node.metadata["page"]) for n in nodes]
    assert {("review.pdf", 5), ("review.pdf", 2), ("plain.pdf", 2), ("hostile.pdf", 2)} == set(found)
    assert found.index(("review.pdf", 5)) < found.index(("review.pdf", 2))  # the printed 3 before the physical 3
    # the documents hold the places of one search over the physical pages 3 and the pages printed 3
    named = MetadataFilters(
        filters=[
            MetadataFilter(key="page", value=[2], operator=FilterOperator.IN),
            MetadataFilter(key="page_label", value=["3"], operator=FilterOperator.IN),
        ],
        condition=FilterCondition.OR,
    )
    searched = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, filters=named)
    assert [n.node.metadata["doc"] for n in nodes] == [n.node.metadata["doc"] for n in searched.retrieve("What is on page 3?")]


def test_the_page_printed_n_counts_as_the_named_page_for_the_relevance_gate() -> None:
    from llama_index.core.schema import NodeWithScore, TextNode

    from llama_index_mmrag.relevance import finds_named_item

    def node(page: int, label: str | None) -> NodeWithScore:
        meta = {"doc": "review.pdf", "page": page} | ({"page_label": label} if label else {})
        return NodeWithScore(node=TextNode(text="Quay cranes moved more boxes.", metadata=meta), score=0.1)

    assert finds_named_item("What is on page 3?", [node(5, "3")])
    assert finds_named_item("What is on page 3?", [node(2, None)])
    assert not finds_named_item("What is on page 3?", [node(5, "4")])
