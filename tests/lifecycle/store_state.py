"""A complete, comparable picture of a store: manifest, Milvus rows, the LightRAG graph and its vectors.

Two stores built from the same files must have equal states, whatever happened in between (a crash and a
recovery, a delete and a re-ingest). Timestamps are left out; everything else is compared.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from lightrag.constants import GRAPH_FIELD_SEP

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.live import scan_vectors
from llama_index_mmrag.stores.milvus import count_rows, scan_rows


def _sources(value: Any) -> tuple[str, ...]:
    return tuple(sorted(s for s in str(value or "").split(GRAPH_FIELD_SEP) if s))


async def _graph_state(rag: MultimodalRAG) -> dict[str, Any]:
    light = await rag.graph._rag_instance()
    graph = light.chunk_entity_relation_graph
    entities = {
        str(n["id"]): (n.get("entity_type"), n.get("description"), _sources(n.get("source_id")), _sources(n.get("file_path")))
        for n in await graph.get_all_nodes()
    }
    relations = {
        tuple(sorted((str(e["source"]), str(e["target"])))): (
            round(float(e.get("weight", 0.0)), 6),
            e.get("description"),
            e.get("keywords"),
            _sources(e.get("source_id")),
            _sources(e.get("file_path")),
        )
        for e in await graph.get_all_edges()
    }
    vectors = {}
    for name in ("entities_vdb", "relationships_vdb", "chunks_vdb"):
        ids = [row["id"] for row in scan_vectors(getattr(light, name), ["id"])]
        assert len(ids) == len(set(ids)), f"duplicate ids in LightRAG's {name}"
        vectors[name] = sorted(ids)
    chunk_ids = vectors["chunks_vdb"]
    stored_chunks = await light.text_chunks.get_by_ids(chunk_ids) if chunk_ids else []
    vectors["text_chunks_missing"] = sorted(c for c, rec in zip(chunk_ids, stored_chunks) if rec is None)
    return {"entities": entities, "relations": relations, "vectors": vectors}


def store_state(rag: MultimodalRAG) -> dict[str, Any]:
    """Everything a store holds, in a form two stores can be compared by (``==``).

    Args:
        rag: An open store.
    """
    rows = list(scan_rows(rag.vector_store, ["id", "doc", "modality"]))
    ids = Counter(str(r["id"]) for r in rows)
    duplicates = sorted(i for i, n in ids.items() if n > 1)
    state: dict[str, Any] = {
        "manifest": {r.doc: (r.doc_id, tuple(sorted(r.node_ids)), tuple(sorted(r.modalities.items()))) for r in rag.documents()},
        "milvus_count": count_rows(rag.vector_store),
        "milvus_duplicates": duplicates,
        "milvus_ids": {m: sorted(str(r["id"]) for r in rows if r.get("modality") == m) for m in ("text", "image", "table", "equation")},
        "milvus_docs": sorted({str(r.get("doc")) for r in rows}),
        "journal_pending": rag.index.journal.pending() is not None,
    }
    state.update(rag._loop.run(_graph_state(rag)))
    return state


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Human-readable differences between two states (empty when equal)."""
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        left, right = a.get(key), b.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            for sub in sorted(set(left) | set(right), key=str):
                if left.get(sub) != right.get(sub):
                    out.append(f"{key}[{sub!r}]: {left.get(sub)!r} != {right.get(sub)!r}")
        else:
            out.append(f"{key}: {left!r} != {right!r}")
    return out
