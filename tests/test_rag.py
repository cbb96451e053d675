"""The facade end to end, offline: ingest a text file and an image, then retrieve, query, and use the tool."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llama_index.core.schema import ImageNode

from llama_index_mmrag import MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.doc_names import UnknownDocumentError


def test_ingest_puts_text_and_image_nodes_in_the_store(demo_rag: MultimodalRAG) -> None:
    records = {r.doc: r for r in demo_rag.documents()}
    assert set(records) == {"milvus_faq.txt", "milvus_architecture.png"}
    assert records["milvus_faq.txt"].modalities.get("text", 0) >= 2
    assert records["milvus_architecture.png"].modalities == {"image": 1}
    image_id = records["milvus_architecture.png"].node_ids[0]
    node = demo_rag.vector_store.get_nodes(node_ids=[image_id])[0]
    assert isinstance(node, ImageNode)
    assert node.metadata["modality"] == "image"
    assert Path(node.image_path).name == "milvus_architecture.png"
    # the offline description holds words read from the image's pixels
    assert "Query Node" in node.get_content() and "Data Coordinator" in node.get_content()


def test_text_question_is_answered_extractively_with_citations(demo_rag: MultimodalRAG) -> None:
    response = demo_rag.as_query_engine(top_k=3).query("Does Milvus support simultaneous insertion and search?")
    assert "simultaneous insertion and search" in response.response
    assert "[milvus_faq.txt, p.1, text]" in response.response
    top = response.source_nodes[0].node.metadata
    assert (top["doc"], top["page"], top["modality"]) == ("milvus_faq.txt", 0, "text")


def test_image_question_retrieves_the_diagram(demo_rag: MultimodalRAG) -> None:
    nodes = demo_rag.as_retriever(top_k=3).retrieve("What are the key components of the Milvus architecture?")
    modalities = [n.node.metadata["modality"] for n in nodes]
    assert "image" in modalities
    image = nodes[modalities.index("image")].node
    assert image.metadata["doc"] == "milvus_architecture.png"


def test_modality_and_doc_filters_scope_the_results(demo_rag: MultimodalRAG) -> None:
    images = demo_rag.as_retriever(modalities=["image"]).retrieve("storage")
    assert images and all(n.node.metadata["modality"] == "image" for n in images)
    faq_only = demo_rag.as_retriever(doc="milvus_faq.txt").retrieve("architecture components")
    assert faq_only and {n.node.metadata["doc"] for n in faq_only} == {"milvus_faq.txt"}
    hostile = 'milvus_faq.txt" or doc != "'
    with pytest.raises(UnknownDocumentError):  # a name no document has is an error, never a filter
        demo_rag.as_retriever(doc=hostile)
    scoped = MilvusModalRetriever(demo_rag.vector_store, demo_rag.embed_model, doc=hostile, mode=demo_rag.vector_mode)
    assert scoped.retrieve("Milvus") == []  # and the filter quotes it: no node matches


def test_retriever_is_a_composite_with_native_async(demo_rag: MultimodalRAG) -> None:
    retriever = demo_rag.as_retriever(top_k=4)
    assert isinstance(retriever, MultimodalCompositeRetriever)
    sync_ids = [n.node.node_id for n in retriever.retrieve("index types HNSW")]
    async_ids = [n.node.node_id for n in asyncio.run(retriever.aretrieve("index types HNSW"))]
    assert sync_ids == async_ids
    assert len(sync_ids) == 2  # one node per page by default: the FAQ's page and the diagram


def test_without_page_aggregation_every_chunk_competes(demo_rag: MultimodalRAG) -> None:
    demo_rag.settings.page_aggregation = False
    try:
        nodes = demo_rag.as_retriever(top_k=4).retrieve("index types HNSW")
    finally:
        demo_rag.settings.page_aggregation = True
    ids = [n.node.node_id for n in nodes]
    assert len(ids) == 4 and len(set(ids)) == 4
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)


def test_reingesting_unchanged_files_is_a_no_op(demo_rag: MultimodalRAG, sample_faq: Path) -> None:
    before = {r.doc: r.node_ids for r in demo_rag.documents()}
    report = demo_rag.ingest([sample_faq], show_progress=False)
    assert report.unchanged == ["milvus_faq.txt"] and report.ingested == []
    assert {r.doc: r.node_ids for r in demo_rag.documents()} == before


def test_query_engine_tool_answers_for_an_agent(demo_rag: MultimodalRAG) -> None:
    tool = demo_rag.as_tool(name="milvus_docs", description="Milvus documentation")
    assert tool.metadata.name == "milvus_docs"
    output = tool.call("Does Milvus support simultaneous insertion and search?")
    assert "simultaneous insertion and search" in str(output)


def test_an_invalid_setting_names_the_value(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="chunk_overlap"):
        MultimodalRAG(storage_dir=tmp_path, chunk_size=64, chunk_overlap=64)
