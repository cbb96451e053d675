"""The modal item's knowledge-graph fragment, loaded into a real LightRAG (no LLM), and a graph that
query-time postprocessing leaves alone."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import NodeWithScore

from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes, graph_content
from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg
from llama_index_mmrag.models.tokenizer import offline_tokenizer
from llama_index_mmrag.graph.fragments import merge_kg_fragments, modal_kg_fragment
from llama_index_mmrag.processors import ModalDescriber, annotate_nodes, default_postprocessors
from tests.support.fake_mm_llm import FakeMultiModalLLM

DIM = 32


async def _hash_embed(texts: list[str], **_: Any) -> np.ndarray:
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
        vector = np.random.default_rng(seed).normal(size=DIM)
        rows.append(vector / np.linalg.norm(vector))
    return np.asarray(rows, dtype=np.float32)


async def _no_llm(*args: Any, **kwargs: Any) -> str:
    raise AssertionError("LightRAG called an LLM")


@pytest.fixture
async def rag(tmp_path: Path) -> AsyncIterator[Any]:
    from lightrag import LightRAG
    from lightrag.utils import EmbeddingFunc

    instance = LightRAG(
        working_dir=str(tmp_path / "graph"),
        workspace=f"p{tmp_path.name}",
        tokenizer=offline_tokenizer(),
        embedding_func=EmbeddingFunc(embedding_dim=DIM, max_token_size=256, func=_hash_embed),
        llm_model_func=_no_llm,
    )
    await instance.initialize_storages()
    yield instance
    await instance.finalize_storages()


async def _described_nodes(blocks: list[ContentBlock], llm: FakeMultiModalLLM) -> list[Any]:
    results = await ModalDescriber(llm=llm, vlm=llm).adescribe(blocks)
    nodes = blocks_to_nodes(blocks)
    annotate_nodes(nodes, results)
    return nodes


async def test_fragment_has_the_item_entity_and_belongs_to_edges(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    nodes = await _described_nodes(doc_blocks, fake_vlm)
    table = nodes[2]

    kg = modal_kg_fragment(table)

    [chunk] = kg["chunks"]
    assert chunk["source_id"] == table.node_id and chunk["file_path"] == "milvus_arch.pdf"
    item, *extracted = kg["entities"]
    assert item == {
        "entity_name": "table 1: index types (table)",
        "entity_type": "TABLE",
        "description": "Columns Index, Recall, Latency.",
        "source_id": table.node_id,
        "file_path": "milvus_arch.pdf",
        "source_ids": [table.node_id],
    }
    names = {e["entity_name"] for e in extracted}
    assert {"hnsw", "recall", "latency"} <= names
    assert len(kg["relationships"]) == len(extracted) > 0
    for edge in kg["relationships"]:
        assert edge["tgt_id"] == item["entity_name"] and edge["src_id"] in names
        assert edge["keywords"] == "belongs_to,part_of,contained_in" and edge["weight"] == 10.0
        assert edge["source_id"] == table.node_id
        assert edge["description"] == f"Entity {edge['src_id']} belongs to {item['entity_name']}"


async def test_lightrag_stores_the_fragment_under_the_node_id_and_postprocessing_leaves_the_graph_alone(
    rag: Any, doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    nodes = await _described_nodes(doc_blocks, fake_vlm)
    content = graph_content(nodes[0].get_content(), "milvus_arch.pdf", 0, "text")
    text_kg = build_custom_kg([GraphChunk(nodes[0].node_id, content, "milvus_arch.pdf", 0, "text")])
    kg = merge_kg_fragments([text_kg, *(modal_kg_fragment(n) for n in nodes[1:])])

    shared = next(e for e in kg["entities"] if e["entity_name"] == "query node")  # in the text and the figure
    assert shared["source_ids"] == [nodes[0].node_id, nodes[1].node_id]
    assert shared["description"] == "The Query Node serves vector searches."  # the text's description, kept

    await rag.ainsert_custom_kg(kg)

    for node in nodes:  # LightRAG's chunk id (content hash) is the node id
        stored = await rag.text_chunks.get_by_id(node.node_id)
        assert stored is not None and stored["source_id"] == node.node_id
    graph = await rag.chunk_entity_relation_graph._get_graph()
    item = "figure 1: milvus architecture (image)"
    assert graph.nodes[item]["entity_type"] == "FIGURE"
    assert graph.nodes[item]["source_id"] == nodes[1].node_id
    assert graph.nodes["query node"]["source_id"] == nodes[0].node_id  # the fragment did not overwrite it
    edge = graph.edges["blue", item]
    assert edge["keywords"] == "belongs_to,part_of,contained_in" and edge["source_id"] == nodes[1].node_id

    before = (sorted(graph.nodes(data="source_id")), sorted(graph.edges(data="weight")))
    processors = default_postprocessors(llm=FakeMultiModalLLM(), vlm=FakeMultiModalLLM())
    results = [NodeWithScore(node=n, score=1.0) for n in blocks_to_nodes(doc_blocks)]  # undescribed: described now
    for processor in processors:
        results = await processor.apostprocess_nodes(results, query_str="Which figure shows the architecture?")
    graph_after = await rag.chunk_entity_relation_graph._get_graph()
    assert (sorted(graph_after.nodes(data="source_id")), sorted(graph_after.edges(data="weight"))) == before
    captioner = processors[0].describer.captioner
    assert captioner is not None and captioner.host.attempts == []


def test_offline_fragment_derives_the_entity_from_caption_and_headers(doc_blocks: list[ContentBlock]) -> None:
    nodes = blocks_to_nodes(doc_blocks)  # no description, no entity metadata
    kg = modal_kg_fragment(nodes[2], "The index table lists HNSW and IVF_FLAT.")

    assert kg["entities"][0]["entity_name"] == "table 1: index types in milvus_arch.pdf (table)"
    assert {r["src_id"] for r in kg["relationships"]} >= {"hnsw", "ivf_flat"}
    with pytest.raises(ValueError, match=r"only modal items \(image, table, equation\)"):
        modal_kg_fragment(nodes[0])
