"""Milvus limits are handled, not hit: a table far past one VARCHAR (65,535 bytes) lands whole, in parts; an
oversized description is clipped with its full text kept in a file; metadata stays under its cap."""

from __future__ import annotations

import json
from pathlib import Path

from llama_index.core.schema import ImageNode, TextNode

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.schema import graph_content, make_chunk_id
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.limits import MAX_METADATA_BYTES, MAX_TEXT_BYTES, fit_nodes, fits
from llama_index_mmrag.stores.milvus import scan_rows

REGIONS = ("north", "south", "east", "west")


def _long_table(path: Path, rows: int = 1000) -> list[str]:
    body = [
        f"| P-{i:04d} | {REGIONS[i % 4]} warehouse of the regional distribution network | {i * 7 % 101} units in stock |"
        for i in range(rows)
    ]
    body.append("| P-9999 zircon gasket | west warehouse | 1 unit in stock |")
    path.write_text(
        "# Inventory\n\nThe inventory lists every part we hold.\n\n| Part | Region | Count |\n|---|---|---|\n"
        + "\n".join(body)
        + "\n"
    )
    return body


def _owned_id(node: TextNode) -> str:
    meta = node.metadata
    return make_chunk_id(graph_content(node.get_content(), meta["doc"], meta.get("page"), meta["modality"]))


def test_a_table_far_past_one_varchar_lands_whole_in_parts(tmp_path: Path) -> None:
    doc = tmp_path / "inventory.md"
    rows = _long_table(doc)
    assert len("\n".join(rows).encode()) > 65_535
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        report = rag.ingest([doc], show_progress=False)
        assert report.ok, report.failures
        stored = [
            r for r in scan_rows(rag.vector_store, ["id", "text", "table_body", "table_part", "table_parts", "modality"])
            if r["modality"] == "table"
        ]
        assert len(stored) >= 2 and rag.stats()["nodes"]["table"] == len(stored)
        stored.sort(key=lambda r: r["table_part"])
        assert [r["table_part"] for r in stored] == list(range(len(stored)))
        assert {r["table_parts"] for r in stored} == {len(stored)}
        for row in stored:
            assert len(row["text"].encode()) <= MAX_TEXT_BYTES
            assert row["table_body"].startswith("| Part | Region | Count |")  # every part is a table with its header
        landed = [line for r in stored for line in r["table_body"].splitlines()[2:]]
        assert [line.split("|")[1].strip() for line in landed] == [line.split("|")[1].strip() for line in rows]
        search = MilvusModalRetriever(
            rag.vector_store, rag.embed_model, similarity_top_k=2, modalities=["table"], mode=rag.vector_mode
        )
        hits = search.retrieve("P-9999 zircon gasket")  # the part holding the last row is found by its words
        assert len(stored) - 1 in [h.node.metadata["table_part"] for h in hits]


def test_an_oversized_description_is_clipped_and_kept_whole_in_a_file(tmp_path: Path) -> None:
    long_text = "The figure shows " + "a dense grid of labelled boxes, arrows and numbers; " * 3000
    meta = {"doc": "scan.png", "doc_id": "d" * 64, "page": 0, "modality": "image", "block_index": 3, "image_path": "/x.png"}
    image = ImageNode(text=long_text, image_path="/x.png", metadata=dict(meta))
    image.id_ = image.metadata["chunk_id"] = _owned_id(image)
    big_meta = TextNode(text="an equation", metadata=dict(meta, modality="equation", latex="x" * 60_000))
    big_meta.id_ = big_meta.metadata["chunk_id"] = _owned_id(big_meta)
    small = TextNode(text="short", metadata=dict(meta, modality="text", block_index=4))
    fitted = fit_nodes([image, big_meta, small], tmp_path / "overflow")
    assert len(fitted) == 3 and fitted[2] is small and all(fits(n) for n in fitted)
    clipped = fitted[0]
    assert len(clipped.get_content().encode()) <= MAX_TEXT_BYTES and clipped.get_content().endswith("[...]")
    assert Path(clipped.metadata["full_text_path"]).read_text() == long_text
    assert clipped.node_id == clipped.metadata["chunk_id"] == _owned_id(clipped)  # still the graph's chunk id
    moved = fitted[1]
    assert Path(moved.metadata["latex_path"]).read_text() == "x" * 60_000
    assert len(json.dumps(moved.metadata).encode()) <= MAX_METADATA_BYTES
    assert "latex_path" in moved.excluded_embed_metadata_keys
