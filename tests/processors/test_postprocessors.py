"""The three modal postprocessors: query-time enrichment and re-scoring, ingestion-time description."""

from __future__ import annotations

import base64
from pathlib import Path

from llama_index.core.base.llms.types import ImageBlock
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode, ImageNode, MetadataMode, NodeWithScore, QueryBundle, TextNode

from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes, graph_content, make_chunk_id
from llama_index_mmrag.processors import (
    EquationModalPostprocessor,
    ImageModalPostprocessor,
    ModalDescriber,
    TableModalPostprocessor,
    annotate_nodes,
    default_postprocessors,
)
from tests.processors.conftest import LATEX
from tests.support.fake_mm_llm import FakeMultiModalLLM


def _ranked(nodes: list[BaseNode]) -> list[NodeWithScore]:
    """Retrieval results: best first, scores 1.0, 0.9, 0.8 ..."""
    return [NodeWithScore(node=n, score=round(1.0 - 0.1 * i, 2)) for i, n in enumerate(nodes)]


def _by_modality(nodes: list[NodeWithScore], modality: str) -> NodeWithScore:
    return next(n for n in nodes if n.node.metadata["modality"] == modality)


async def _offline_nodes(blocks: list[ContentBlock]) -> list[BaseNode]:
    descriptions = await ModalDescriber(ocr=False).adescribe(blocks)
    nodes = blocks_to_nodes(blocks)
    assert annotate_nodes(nodes, descriptions) == 3
    return nodes


async def test_query_time_copies_carry_description_entity_and_body(doc_blocks: list[ContentBlock]) -> None:
    nodes = await _offline_nodes(doc_blocks)
    stored = {n.node_id: (n.get_content(), dict(n.metadata)) for n in nodes}
    processors = default_postprocessors()

    results = _ranked(nodes)
    for processor in processors:
        results = await processor.apostprocess_nodes(results, query_str="How does Milvus scale?")

    assert [n.node.node_id for n in results] == [n.node_id for n in nodes]  # order kept
    assert [n.score for n in results] == [1.0, 0.9, 0.8, 0.7]  # scores kept
    for node in nodes:  # the stored nodes were not touched
        assert (node.get_content(), node.metadata) == stored[node.node_id]
        assert "description" not in node.metadata
    table = _by_modality(results, "table").node
    assert table.metadata["description"] == table.get_content()
    assert table.metadata["entity_name"] == "Table 1: Index types in milvus_arch.pdf (table)"
    llm_view = table.get_content(metadata_mode=MetadataMode.LLM)
    assert "entity_summary: A table in milvus_arch.pdf (page 0) with 2 rows and 3 columns" in llm_view
    assert llm_view.count("| HNSW | 0.98 | 2 ms |") == 1  # the body is in the text: not repeated
    equation = _by_modality(results, "equation").node
    assert equation.metadata["latex"] == LATEX
    image = _by_modality(results, "image").node
    assert isinstance(image, ImageNode) and image.image_path == doc_blocks[2].img_path and image.image is None


async def test_model_descriptions_show_the_table_markdown_to_the_answering_llm(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    describer = ModalDescriber(llm=fake_vlm, vlm=fake_vlm)
    descriptions = await describer.adescribe(doc_blocks)
    nodes = blocks_to_nodes(doc_blocks)
    annotate_nodes(nodes, descriptions)
    table = TableModalPostprocessor(describer=describer)

    [enriched] = table.postprocess_nodes([NodeWithScore(node=nodes[2], score=0.5)], query_str="recall?")

    view = enriched.node.get_content(metadata_mode=MetadataMode.LLM)
    assert view.startswith("doc: milvus_arch.pdf")
    assert view.count("| IVF_FLAT | 0.95 | 5 ms |") == 1  # the markdown reaches the answering LLM once (in the text)
    assert "entity_name: Table 1: Index types (table)" in view
    assert len(fake_vlm.calls) == 3  # already described at ingestion: no call at query time


async def test_multimodal_image_copy_carries_the_picture_only_on_the_copy(blue_png: Path) -> None:
    meta = {"doc": "a.pdf", "page": 0, "modality": "image", "image_path": str(blue_png), "caption": "Figure 1"}
    stored_image = ImageNode(id_="chunk-a", text="Image: Figure 1", image_path=str(blue_png), metadata=dict(meta))
    stored_text = TextNode(id_="chunk-b", text="Image: Figure 1\nFile: architecture", metadata=dict(meta))
    processor = ImageModalPostprocessor(multimodal=True)

    results = await processor.apostprocess_nodes(
        [NodeWithScore(node=stored_image, score=0.4), NodeWithScore(node=stored_text, score=0.3)], query_str="x"
    )

    for result, stored in zip(results, (stored_image, stored_text)):
        copy = result.node
        assert isinstance(copy, ImageNode) and copy.node_id == stored.node_id
        assert base64.b64decode(copy.image or "") == blue_png.read_bytes()
        assert copy.image_mimetype == "image/png"
        blocks = copy.get_content_blocks(metadata_mode=MetadataMode.LLM)
        images = [b for b in blocks if isinstance(b, ImageBlock)]
        assert len(images) == 1 and images[0].resolve_image(as_base64=False).read() == blue_png.read_bytes()
        # an ImageNode's content blocks carry no text, so the description travels as metadata
        assert "description: Image: Figure 1" in copy.get_metadata_str(MetadataMode.LLM)
        assert "description" not in stored.metadata
    assert stored_image.image is None  # never stored


def test_modality_targeted_questions_lift_that_modality_only(doc_blocks: list[ContentBlock]) -> None:
    nodes = [
        TextNode(id_="t1", text="Milvus overview", metadata={"modality": "text"}),
        TextNode(id_="t2", text="Storage layer", metadata={"modality": "text"}),
        TextNode(id_="tab", text="| a | b |", metadata={"modality": "table", "table_body": "| a | b |"}),
        TextNode(id_="fig", text="Figure 1", metadata={"modality": "image"}),
        TextNode(id_="t3", text="Query path", metadata={"modality": "text"}),
    ]
    ranked = [NodeWithScore(node=n, score=s) for n, s in zip(nodes, [0.9, 0.8, 0.7, 0.6, 0.1])]
    image, table, equation = default_postprocessors()

    def run(question: str) -> list[tuple[str, float]]:
        out = ranked
        for processor in (image, table, equation):
            out = processor.postprocess_nodes(out, QueryBundle(question))
        return [(n.node.node_id, round(n.score or 0.0, 3)) for n in out]

    # boost 0.5 of the score range (0.8): +0.4
    assert run("Which figure shows the query path?") == [
        ("fig", 1.0),
        ("t1", 0.9),
        ("t2", 0.8),
        ("tab", 0.7),
        ("t3", 0.1),
    ]
    assert run("In the table, which index is fastest?") == [
        ("tab", 1.1),
        ("t1", 0.9),
        ("t2", 0.8),
        ("fig", 0.6),
        ("t3", 0.1),
    ]
    assert run("What does Milvus store?") == [("t1", 0.9), ("t2", 0.8), ("tab", 0.7), ("fig", 0.6), ("t3", 0.1)]
    # bounded: a lift of 0.1 x 0.8 moves the table past nothing
    gentle = TableModalPostprocessor(boost=0.1)
    assert [n.node.node_id for n in gentle.postprocess_nodes(ranked, query_str="the table")] == [
        "t1",
        "t2",
        "tab",
        "fig",
        "t3",
    ]


async def test_query_time_describes_undescribed_nodes_once_and_caches(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM, tmp_path: Path
) -> None:
    nodes = blocks_to_nodes(doc_blocks)  # never described: raw content
    cache = tmp_path / "cache"
    processors = default_postprocessors(llm=fake_vlm, vlm=fake_vlm, cache_dir=cache)

    async def query() -> list[NodeWithScore]:
        out = _ranked(nodes)
        for processor in processors:
            out = await processor.apostprocess_nodes(out, query_str="Describe the architecture")
        return out

    first = await query()
    assert fake_vlm.kinds == {"image": 1, "table": 1, "equation": 1}
    image = _by_modality(first, "image").node
    assert image.metadata["description"].startswith("A png image of 40x30 pixels, mostly blue")
    assert image.metadata["entity_name"] == "Figure 1: Milvus architecture (image)"
    assert image.metadata["description_model"] == "FakeMultiModalLLM:fake-vlm"

    await query()
    sync_out = _ranked(nodes)
    for processor in default_postprocessors(llm=fake_vlm, vlm=fake_vlm, cache_dir=cache):
        sync_out = processor.postprocess_nodes(sync_out, query_str="Describe the architecture")
    assert len(fake_vlm.calls) == 3  # second query and a new instance on the same cache: no calls
    assert [n.node.metadata.get("description") for n in sync_out] == [n.node.metadata.get("description") for n in first]
    captioner = processors[0].describer.captioner
    assert captioner is not None and captioner.host.attempts == []  # the graph was never touched


async def test_ingestion_pipeline_describes_once_and_keeps_chunk_ids_in_sync(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    transforms = default_postprocessors(llm=fake_vlm, vlm=fake_vlm)
    nodes = blocks_to_nodes(doc_blocks)
    old_ids = [n.node_id for n in nodes]

    described = await IngestionPipeline(transformations=transforms).arun(nodes=nodes)

    assert fake_vlm.kinds == {"image": 1, "table": 1, "equation": 1}
    assert described[0].node_id == old_ids[0]  # the text chunk is untouched
    for node, old_id in zip(described[1:], old_ids[1:]):
        meta = node.metadata
        assert node.get_content() != "" and meta["description_model"] == "FakeMultiModalLLM:fake-vlm"
        expected = make_chunk_id(graph_content(node.get_content(), meta["doc"], meta["page"], meta["modality"]))
        assert node.node_id == meta["chunk_id"] == expected != old_id
        embed_view = node.get_content(metadata_mode=MetadataMode.EMBED)
        assert "description_model" not in embed_view and "entity_summary" not in embed_view
    assert described[2].get_content().startswith("The table Table 1: Index types has the columns")
    assert described[2].metadata["table_headers"] == ["Index", "Recall", "Latency"]

    IngestionPipeline(transformations=transforms).run(nodes=described)  # sync twin; already described
    assert len(fake_vlm.calls) == 3


def test_ingestion_offline_reads_reader_documents(doc_blocks: list[ContentBlock]) -> None:
    from llama_index_mmrag.readers.rag_anything import block_to_document

    documents = [block_to_document(b) for b in doc_blocks]
    out = EquationModalPostprocessor()(documents)

    equation = out[4]
    assert equation.get_content().startswith(f"Equation: {LATEX}")
    assert "The Query Node serves vector searches." in equation.get_content()  # context from the text documents
    assert equation.metadata["description_model"] == "offline"
    assert out[2].metadata.get("description_model") is None  # other modalities are left to their processors
