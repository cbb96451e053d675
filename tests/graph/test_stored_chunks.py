"""A document's graph chunks read back from its Milvus rows without LlamaIndex are the chunks its nodes give."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_index_mmrag.graph.store import node_to_graph_chunk
from llama_index_mmrag.graph.stored_chunks import read_stored_chunks, row_graph_chunk
from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.milvus import build_vector_store

DOC = {"doc": 'it\'s "odd" \u00e9t\u00e9.pdf', "doc_id": "d" * 64, "parser": "mmrag"}


def _nodes(image: Path) -> list:
    blocks = [
        ContentBlock(modality="text", text="Milvus keeps vectors in segments. " * 40, page=0, index=0, **DOC),
        ContentBlock(modality="table", table_body="| Index | Recall |\n|---|---|\n| HNSW | 0.99 |", page=1, index=1,
                     captions=["Table 2: Index types"], **DOC),
        ContentBlock(modality="image", img_path=str(image), text="ANNUAL RAINFALL", page=2, index=2,
                     captions=["Figure 1: Rainfall"], **DOC),
        ContentBlock(modality="equation", latex="E = mc^2", text="E = mc^2", page=None, index=3, **DOC),
    ]
    nodes = blocks_to_nodes(blocks, chunk_size=64, chunk_overlap=8)
    for node in nodes:
        if node.metadata["modality"] == "table":
            node.metadata["table_headers"] = ["Index", "Recall"]  # as the annotation step records them
        node.embedding = [0.1, 0.2, 0.3, 0.4]
    return nodes


def test_stored_rows_give_the_graph_chunks_of_the_nodes_as_llamaindex_reads_them(tmp_path: Path, sample_diagram: Path) -> None:
    store = build_vector_store(MMRAGSettings(storage_dir=tmp_path / "store"), dim=4)
    try:
        nodes = _nodes(sample_diagram)
        assert {n.metadata["modality"] for n in nodes} == {"text", "table", "image", "equation"} and len(nodes) > 4
        store.add(nodes)
        ids = [n.node_id for n in nodes]
        expected = [node_to_graph_chunk(n) for n in store.get_nodes(node_ids=ids)]
        stored = read_stored_chunks(store, [*reversed(ids), "chunk-missing", ids[0]])
        assert sorted(stored.chunks, key=lambda c: c.chunk_id) == sorted(expected, key=lambda c: c.chunk_id)
        assert [c.chunk_id for c in stored.chunks] == list(reversed(ids))  # in the order asked, once each
        table = next(c for c in stored.chunks if c.modality == "table")
        assert table.headers == ("Index", "Recall") and table.captions == ("Table 2: Index types",)
        assert stored.ref_doc_ids == [DOC["doc_id"]]
        assert read_stored_chunks(store, []).chunks == []
    finally:
        store.client.close()


@pytest.mark.parametrize("node_content", [None, "", '"just a string"', '{"id_": "c1"}'])
def test_a_row_without_a_serialised_node_is_a_clear_error(node_content: str | None) -> None:
    with pytest.raises(ValueError, match="'c1'"):
        row_graph_chunk({"id": "c1", "text": "x", "_node_content": node_content})
