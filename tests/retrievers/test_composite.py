"""A composite of any number of retrievers: one node per page, one scope honoured by every branch, as the facade's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

from llama_index_mmrag import LightRAGRetriever, MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.retrievers.arguments import ScopeArgumentError
from llama_index_mmrag.retrievers.question import EmptyQuestionError
from llama_index_mmrag.retrievers.references import ReferenceRetriever
from tests.support.pdfs import make_table_answer_pdf

FAQ, PDF = "milvus_faq.txt", "terminals.pdf"
QUESTIONS = [
    "How many containers did the West terminal handle?",
    "What does Milvus keep in object storage?",
    "Which node persists inserted data?",
    "Can I filter search results by metadata?",
    "How does Milvus handle deletes and compaction?",
    "Containers handled per terminal by quarter",
]


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory, sample_faq: Path, sample_diagram: Path) -> Iterator[MultimodalRAG]:
    """Text, an image and a two-page PDF with a table, in small chunks (so a page holds several), offline."""
    folder = tmp_path_factory.mktemp("composite")
    make_table_answer_pdf(folder / PDF)
    with MultimodalRAG(storage_dir=folder / "store", top_k=5, chunk_size=48, chunk_overlap=4) as rag:
        report = rag.ingest([sample_faq, sample_diagram, folder / PDF], show_progress=False)
        assert report.ok, report.failures
        yield rag


def _graph(composite: MultimodalCompositeRetriever) -> LightRAGRetriever:
    [graph] = [b for b in composite.retrievers if isinstance(b, LightRAGRetriever)]
    return graph


def _outside(nodes: list[NodeWithScore], inside: Any) -> list[tuple[Any, ...]]:
    """Every (doc, page, modality) of the returned nodes' evidence that ``inside`` refuses."""
    found = []
    for n in nodes:
        meta = n.node.metadata
        for modality in meta.get("modalities", [meta["modality"]]):
            if not inside(meta["doc"], meta["page"], modality):
                found.append((meta["doc"], meta["page"], modality))
    return found


def test_a_hand_built_composite_returns_each_page_once(rag: MultimodalRAG) -> None:
    vector = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10)
    chunks = vector.retrieve("How does Milvus store and search vectors?")
    assert len(chunks) > len({(n.metadata["doc"], n.metadata["page"]) for n in chunks})  # several chunks a page
    nodes = MultimodalCompositeRetriever([vector], top_k=5).retrieve("How does Milvus store and search vectors?")
    pages = [(n.metadata["doc"], n.metadata["page"]) for n in nodes]
    assert len(pages) == len(set(pages))
    faq = next(n for n in nodes if n.metadata["doc"] == FAQ)
    assert len(faq.node.metadata["chunk_ids"]) > 1  # the page's other matching chunks come along
    chunk_level = MultimodalCompositeRetriever([vector], top_k=5, page_aggregation=False).retrieve("How does Milvus store and search vectors?")
    assert len(chunk_level) > len(nodes)


@pytest.mark.parametrize("scope", [{}, {"modalities": ["table", "text"], "page_range": (0, 0)}], ids=str)
def test_a_hand_built_composite_ranks_like_as_retriever(rag: MultimodalRAG, scope: dict[str, Any]) -> None:
    s = rag.settings
    k = 3
    candidates = k * s.candidate_factor
    branches = [
        MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=candidates, mode=rag.vector_mode),
        LightRAGRetriever(rag.graph, rag.vector_store, mode=s.graph_mode, top_k=k),
        ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=candidates, mode=rag.vector_mode),
    ]
    weights = [s.vector_weight, s.graph_weight, s.reference_weight]
    by_hand = MultimodalCompositeRetriever(branches, weights, top_k=k, anchor_retrievers=[0, 2], **scope)
    facade = rag.as_retriever(top_k=k, **scope)
    for question in [*QUESTIONS[:3], "What is on page 2 and in Table 2?"]:
        expected = [(n.node.node_id, n.node.metadata["chunk_ids"], n.score) for n in facade.retrieve(question)]
        assert [(n.node.node_id, n.node.metadata["chunk_ids"], n.score) for n in by_hand.retrieve(question)] == expected


def test_the_readme_composition_keeps_every_branch_inside_its_scope(rag: MultimodalRAG) -> None:
    vector = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=24, modalities=["table"])
    graph = LightRAGRetriever(rag.graph, rag.vector_store, mode="hybrid")
    unscoped = [n for q in QUESTIONS for n in graph.retrieve(q)]
    assert {n.metadata["modality"] for n in unscoped} - {"table"}  # the graph alone finds other modalities
    assert {n.metadata["doc"] for n in unscoped} - {FAQ}  # and other documents

    tables = MultimodalCompositeRetriever([vector, graph], [1.0, 0.5], top_k=8, modalities=["table"])
    found = [n for q in QUESTIONS for n in tables.retrieve(q)]
    assert found and not _outside(found, lambda doc, page, modality: modality == "table")
    assert graph.filter_expression == ""  # the caller's retriever is left as it was; the composite scoped a copy

    faq_only = MultimodalCompositeRetriever(
        [MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=24), graph], [1.0, 0.5], top_k=8, doc=FAQ
    )
    found = [n for q in QUESTIONS for n in faq_only.retrieve(q)]
    assert found and not _outside(found, lambda doc, page, modality: doc == FAQ)


SCOPES: dict[str, tuple[dict[str, Any], Any]] = {
    "modalities": ({"modalities": ["text"]}, lambda doc, page, modality: modality == "text"),
    "doc": ({"doc": FAQ}, lambda doc, page, modality: doc == FAQ),
    "page_range": ({"page_range": (0, 0)}, lambda doc, page, modality: page == 0),
    "filters": (
        {"filters": MetadataFilters(filters=[MetadataFilter(key="doc", value=PDF, operator=FilterOperator.NE)])},
        lambda doc, page, modality: doc != PDF,
    ),
}


@pytest.mark.parametrize("name", list(SCOPES))
def test_a_scoped_as_retriever_stays_inside_its_scope_and_keeps_the_graph(rag: MultimodalRAG, name: str) -> None:
    scope, inside = SCOPES[name]
    retriever = rag.as_retriever(top_k=1, **scope)
    graph = _graph(retriever)
    graph_only = 0
    for question in QUESTIONS:
        found = retriever.retrieve(question)
        assert not _outside(found, inside), question
        from_graph = graph.retrieve(question)
        assert not _outside(from_graph, inside), question
        from_vectors = {n.node.node_id for n in retriever.retrievers[0].retrieve(question)}
        evidence = {c for n in found for c in n.node.metadata["chunk_ids"]}
        graph_only += any(n.node.node_id not in from_vectors and n.node.node_id in evidence for n in from_graph)
    assert graph_only, "no graph-only evidence reached a scoped result: the graph branch did not count"


def test_a_scope_needs_branches_that_can_honour_it(rag: MultimodalRAG) -> None:
    vector = MilvusModalRetriever(rag.vector_store, rag.embed_model)
    with pytest.raises(ScopeArgumentError, match=r"retrievers\[1\] \(_RecordingRetriever\) cannot keep"):
        MultimodalCompositeRetriever([vector, _RecordingRetriever()], doc=FAQ)
    with pytest.raises(ScopeArgumentError, match="non-empty list"):
        MultimodalCompositeRetriever(vector)  # type: ignore[arg-type]
    with pytest.raises(ScopeArgumentError, match="2 retrievers but 1 retriever_weights"):
        MultimodalCompositeRetriever([vector, vector], [1.0])
    with pytest.raises(ScopeArgumentError, match="not all 0"):
        MultimodalCompositeRetriever([vector], [0.0])
    for anchors in ([], [2], [-1], [True]):
        with pytest.raises(ScopeArgumentError, match="anchor_retrievers must be"):
            MultimodalCompositeRetriever([vector, vector], anchor_retrievers=anchors)
    with pytest.raises(ValueError, match="needs the vector store"):
        MultimodalCompositeRetriever([vector, LightRAGRetriever(rag.graph)], doc=FAQ)


class _RecordingRetriever(BaseRetriever):
    """A branch of the user's own that records the questions it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        self.seen.append(query_bundle.query_str)
        return [NodeWithScore(node=TextNode(id_="n1", text="x", metadata={"doc": "a.pdf", "page": 0}), score=1.0)]


@pytest.mark.parametrize("call", ["retrieve", "aretrieve"])
async def test_a_composite_hands_any_branch_the_checked_question(call: str) -> None:
    branch = _RecordingRetriever()
    composite = MultimodalCompositeRetriever([branch], top_k=3)
    question = "what\x00is \ud800 this?"
    result = getattr(composite, call)(question)
    nodes = await result if call == "aretrieve" else result
    assert [n.node.node_id for n in nodes] == ["n1"]
    assert branch.seen == ["what is \ufffd this?"]
    with pytest.raises(EmptyQuestionError):
        composite.retrieve(" \x00\t ")
    assert len(branch.seen) == 1  # the empty question reached no branch


class _RankedRetriever(BaseRetriever):
    """A branch of the user's own returning fixed pages of a.pdf, best first."""

    def __init__(self, pages: list[int]) -> None:
        super().__init__()
        self.pages = pages

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [NodeWithScore(node=TextNode(id_=f"p{p}", text="x", metadata={"doc": "a.pdf", "page": p}), score=1.0)
                for p in self.pages]


@pytest.mark.parametrize("call", ["retrieve", "aretrieve"])
async def test_a_weak_branch_reorders_below_the_anchors_best_page_but_never_displaces_it(call: str) -> None:
    vector, graph = _RankedRetriever([1, 2, 3, 4]), _RankedRetriever([3, 9])

    async def pages(composite: MultimodalCompositeRetriever) -> list[int]:
        result = getattr(composite, call)("Which page?")
        nodes = await result if call == "aretrieve" else result
        return [n.metadata["page"] for n in nodes]

    assert await pages(MultimodalCompositeRetriever([vector, graph], [1.0, 0.25], top_k=3)) == [3, 1, 2]
    anchored = MultimodalCompositeRetriever([vector, graph], [1.0, 0.25], top_k=3, anchor_retrievers=[0])
    assert await pages(anchored) == [1, 3, 2]  # the graph still lifts page 3 above page 2
    assert await pages(MultimodalCompositeRetriever([vector, graph], top_k=3, anchor_retrievers=[0, 1])) == [3, 1, 2]


def test_the_facade_anchors_on_every_branch_but_the_graph(rag: MultimodalRAG) -> None:
    composite = rag.as_retriever(top_k=3)
    assert [type(composite.retrievers[i]).__name__ for i in composite.anchor_retrievers or []] == [
        "MilvusModalRetriever", "ReferenceRetriever"
    ]


class _PinningRetriever(_RankedRetriever):
    """A branch of the user's own that pins its pages named in the question ("page 4") first."""

    def pinned(self, question: str, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        return [n for n in nodes if f"page {n.node.metadata['page']}" in question]


@pytest.mark.parametrize("call", ["retrieve", "aretrieve"])
async def test_a_result_a_branch_pins_comes_first_whatever_the_fusion_says(call: str) -> None:
    vector, pinning = _RankedRetriever([1, 2, 3]), _PinningRetriever([2, 4])

    async def pages(question: str, top_k: int = 3) -> list[int]:
        composite = MultimodalCompositeRetriever([vector, pinning], top_k=top_k, anchor_retrievers=[0])
        result = getattr(composite, call)(question)
        nodes = await result if call == "aretrieve" else result
        return [n.metadata["page"] for n in nodes]

    assert await pages("Which page?") == [1, 2, 4]  # nothing pinned: the anchored fusion
    assert await pages("What is on page 4?") == [4, 1, 2]  # page 4 ranked last by the fusion, pinned first
    assert await pages("Compare page 4 with page 2") == [2, 4, 1]  # in the branch's order
    assert await pages("What is on page 4?", top_k=1) == [4]
