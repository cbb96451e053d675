"""Node identity has one rule: every place that makes, recomputes or parses a chunk id or a provenance line
(block -> node conversion, descriptions, splitting of oversized nodes, the graph's chunks) agrees with
``schema.identity``, for every modality and for document names that look like provenance themselves."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import BaseNode

from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg
from llama_index_mmrag.graph.stored_chunks import graph_chunk
from llama_index_mmrag.limits import MAX_TEXT_BYTES, fit_nodes
from llama_index_mmrag.processors.annotate import apply_description
from llama_index_mmrag.processors.describer import ModalDescription
from llama_index_mmrag.schema import (
    HIDDEN_FROM_EMBEDDING,
    HIDDEN_FROM_LLM,
    ContentBlock,
    blocks_to_nodes,
    chunk_id,
    make_chunk_id,
    node_graph_content,
    owns_chunk_id,
    parse_provenance,
    strip_provenance,
)

DOC_NAMES = ["report.pdf", "a], page 3, table].pdf", "[draft] notes (v2).md", "résumé, final.txt"]


def _nodes(doc: str, tmp_path: Path) -> list[BaseNode]:
    common = {"doc": doc, "doc_id": "h", "parser": "test", "page": 1}
    picture = tmp_path / "figure.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    blocks = [
        ContentBlock(modality="text", text="Milvus separates storage and compute.", index=0, **common),
        ContentBlock(modality="table", table_body="| Index | Recall |\n|---|---|\n| HNSW | 0.98 |", index=1, **common),
        ContentBlock(modality="image", img_path=str(picture), captions=["Figure 1: Architecture"], index=2, **common),
        ContentBlock(modality="equation", latex=r"e = mc^2", index=3, **common),
    ]
    return blocks_to_nodes(blocks)


def _assert_identity(node: BaseNode) -> None:
    meta = node.metadata
    content = node_graph_content(node)
    assert owns_chunk_id(node)
    assert node.node_id == meta["chunk_id"] == make_chunk_id(content)
    assert node.node_id == chunk_id(node.get_content(), meta["doc"], meta["page"], meta["modality"])
    assert strip_provenance(content, meta["doc"]) == node.get_content()
    assert parse_provenance(content) == (meta["doc"], meta["page"], meta["modality"], node.get_content())
    assert graph_chunk(node.node_id, node.get_content(), meta).content == content


@pytest.mark.parametrize("doc", DOC_NAMES)
def test_every_modality_node_has_the_id_of_its_graph_content(doc: str, tmp_path: Path) -> None:
    nodes = _nodes(doc, tmp_path)
    assert [n.metadata["modality"] for n in nodes] == ["text", "table", "image", "equation"]
    for node in nodes:
        _assert_identity(node)
        assert set(HIDDEN_FROM_EMBEDDING) <= set(node.excluded_embed_metadata_keys)
        assert set(HIDDEN_FROM_LLM) <= set(node.excluded_llm_metadata_keys)


@pytest.mark.parametrize("doc", DOC_NAMES[:2])
def test_a_described_node_and_the_parts_of_a_split_node_keep_the_rule(doc: str, tmp_path: Path) -> None:
    text, table, *_ = _nodes(doc, tmp_path)
    before = table.node_id
    described = ModalDescription(
        modality="table", description="A table of index recall.", model="offline", doc=doc, doc_id="h",
        entity_info={"entity_name": "index recall", "entity_type": "TABLE", "summary": ""}, block_index=1,
    )
    apply_description(table, described)
    assert table.node_id != before
    _assert_identity(table)
    text.set_content("Milvus separates storage and compute. " * (MAX_TEXT_BYTES // 30))
    parts = fit_nodes([text], tmp_path / "overflow")
    assert parts and all(len(p.get_content().encode()) <= MAX_TEXT_BYTES for p in parts)
    for part in parts:
        _assert_identity(part)


def test_the_graph_reads_a_chunk_text_without_its_provenance_line() -> None:
    doc = DOC_NAMES[1]
    content = f"[{doc}, page 0, text]\nQuorum Replicas store the Segment Index."
    kg = build_custom_kg([GraphChunk("chunk-x", content, doc=doc, page=0, modality="text")])
    names = {e["entity_name"] for e in kg["entities"]}
    assert "quorum replicas" in names and not any("page 0" in name or "table]" in name for name in names)
