"""A composite retriever built by hand returns one node per page, as the facade's does."""

from __future__ import annotations

from llama_index_mmrag import MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG


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
