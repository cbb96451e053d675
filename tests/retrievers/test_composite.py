"""A composite retriever built by hand returns one node per page, as the facade's does."""

from __future__ import annotations

import pytest
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from llama_index_mmrag import MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.retrievers.question import EmptyQuestionError


def test_a_hand_built_composite_returns_each_page_once(demo_rag: MultimodalRAG) -> None:
    vector = MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, similarity_top_k=10)
    chunks = vector.retrieve("How does Milvus store and search vectors?")
    assert len(chunks) > len({(n.metadata["doc"], n.metadata["page"]) for n in chunks})  # several chunks a page
    nodes = MultimodalCompositeRetriever(vector, top_k=5).retrieve("How does Milvus store and search vectors?")
    pages = [(n.metadata["doc"], n.metadata["page"]) for n in nodes]
    assert len(pages) == len(set(pages))
    faq = next(n for n in nodes if n.metadata["doc"] == "milvus_faq.txt")
    assert len(faq.node.metadata["chunk_ids"]) > 1  # the page's other matching chunks come along
    chunk_level = MultimodalCompositeRetriever(vector, top_k=5, page_aggregation=False).retrieve("How does Milvus store and search vectors?")
    assert len(chunk_level) > len(nodes)


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
    composite = MultimodalCompositeRetriever(branch, top_k=3)
    question = "what\x00is \ud800 this?"
    result = getattr(composite, call)(question)
    nodes = await result if call == "aretrieve" else result
    assert [n.node.node_id for n in nodes] == ["n1"]
    assert branch.seen == ["what is \ufffd this?"]
    with pytest.raises(EmptyQuestionError):
        composite.retrieve(" \x00\t ")
    assert len(branch.seen) == 1  # the empty question reached no branch
