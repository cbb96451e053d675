"""What the package reads from, and repairs in, a live LightRAG instance: entity and relation counts, re-reading
its files after they were rolled back, and making its vector collections agree with them.

Only :class:`~llama_index_mmrag.graph.store.GraphStore` calls these (``acounts``, ``areload_files``,
``areconcile_vectors``); no module outside ``graph/`` touches LightRAG or its storages' fields.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.graph.file_counts import relation_key, split_sources
from llama_index_mmrag.stores.milvus import iterate_collection

if TYPE_CHECKING:
    from lightrag import LightRAG


async def _tracked(storage: Any, keys: list[str]) -> list[list[str] | None]:
    if storage is None or not keys:
        return [None] * len(keys)
    records = await storage.get_by_ids(keys)
    return [list(r["chunk_ids"]) if isinstance(r, dict) and r.get("chunk_ids") else None for r in records]


async def agraph_counts(rag: LightRAG, chunk_ids: set[str] | None = None) -> tuple[int, int]:
    """``(entities, relations)`` in the LightRAG graph; with ``chunk_ids``, only those sourced from them.

    Sources are LightRAG's full chunk-tracking lists where kept (``entity_chunks`` / ``relation_chunks``),
    else the graph's own ``source_id`` (which LightRAG may cap).

    Args:
        rag: An initialised LightRAG instance.
        chunk_ids: Chunk ids of one document.
    """
    graph = rag.chunk_entity_relation_graph
    nodes = await graph.get_all_nodes()
    edges = await graph.get_all_edges()
    if chunk_ids is None:
        return len(nodes), len(edges)
    names = [str(n["id"]) for n in nodes]
    tracked = await _tracked(getattr(rag, "entity_chunks", None), names)
    entities = sum(
        1 for node, full in zip(nodes, tracked) if not chunk_ids.isdisjoint(full or split_sources(node.get("source_id")))
    )
    keys = [relation_key(str(e["source"]), str(e["target"])) for e in edges]
    tracked = await _tracked(getattr(rag, "relation_chunks", None), keys)
    relations = sum(
        1 for edge, full in zip(edges, tracked) if not chunk_ids.isdisjoint(full or split_sources(edge.get("source_id")))
    )
    return entities, relations


# --- re-reading restored files, reconciling the vector collections ---------------------------------------------

_FILE_BACKED = (
    "full_docs",
    "text_chunks",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "llm_response_cache",
    "doc_status",
    "chunk_entity_relation_graph",
)


async def areload_graph_files(rag: LightRAG) -> list[str]:
    """Make a live LightRAG instance re-read its file-backed storages (after the journal restored them).

    LightRAG keeps JSON key-value stores and the NetworkX graph in (process-shared) memory and only reads the
    files once per process; after the files are restored, memory must follow. Storages that are not
    file-backed (Neo4j, ...) are left alone.

    Args:
        rag: An initialised LightRAG instance.

    Returns:
        The names of the storages re-read.
    """
    from llama_index_mmrag.graph.file_storage import read_graphml_repaired, read_json_repaired

    reloaded: list[str] = []
    for attr in _FILE_BACKED:
        storage = getattr(rag, attr, None)
        lock = getattr(storage, "_storage_lock", None)
        if storage is None or lock is None:
            continue
        graph_file = getattr(storage, "_graphml_xml_file", None)
        config = getattr(storage, "global_config", {})
        if graph_file is not None:
            import networkx as nx

            # a file that does not parse is restored from the store's last good copy first (a warning names it)
            graph = await asyncio.to_thread(read_graphml_repaired, Path(graph_file), config) or nx.Graph()
            async with lock:
                storage._graph = graph
                _forget_unsaved(storage)
        elif getattr(storage, "_file_name", None) and isinstance(getattr(storage, "_data", None), MutableMapping):
            data = await asyncio.to_thread(read_json_repaired, Path(storage._file_name), config) or {}
            async with lock:
                storage._data.clear()
                storage._data.update(data)
                _forget_unsaved(storage)
        else:
            continue
        reloaded.append(attr)
    return reloaded


def _forget_unsaved(storage: Any) -> None:
    """A storage of the package's re-read from its files: what it remembered as changed since its last save is
    not (upstream storages keep no such memory)."""
    forget = getattr(storage, "forget_unsaved_changes", None)
    if forget is not None:
        forget()


def scan_vectors(vdb: Any, fields: list[str], batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every row of one of LightRAG's Milvus collections (no vectors).

    Args:
        vdb: One of LightRAG's vector storages (``entities_vdb``, ``relationships_vdb``, ``chunks_vdb``).
        fields: The fields to read.
        batch_size: Rows per query.
    """
    vdb._ensure_collection_loaded()
    return iterate_collection(vdb._client, vdb.final_namespace, fields, batch_size=batch_size)


def _differs(row: dict[str, Any] | None, record: dict[str, Any], fields: Iterable[str]) -> bool:
    if row is None:
        return True
    for field in fields:
        stored, wanted = str(row.get(field) or ""), str(record.get(field) or "")
        # a VARCHAR field may hold a truncated copy of a long value: a matching prefix is a match
        if stored != wanted and not (stored and wanted.startswith(stored)):
            return True
    return False


async def _amatch_vectors(vdb: Any, wanted: dict[str, dict[str, Any]], fields: list[str]) -> tuple[int, int]:
    """Make a LightRAG vector collection hold exactly ``wanted``: delete the rows it should not have, rewrite
    the missing ones and those whose ``fields`` differ. Returns (deleted, rewritten)."""
    stored = {row["id"]: row for row in await asyncio.to_thread(lambda: list(scan_vectors(vdb, ["id", *fields])))}
    extra = [vid for vid in stored if vid not in wanted]
    stale = {vid: rec for vid, rec in wanted.items() if _differs(stored.get(vid), rec, fields)}
    if extra:
        await vdb.delete(extra)
    if stale:
        await vdb.upsert(stale)
    return len(extra), len(stale)


async def areconcile_graph_vectors(rag: LightRAG, chunk_ids: Iterable[str] = ()) -> dict[str, int]:
    """Make LightRAG's vector collections (entities, relationships, chunks) agree with its graph and chunk store.

    After the graph's files are rolled back, vectors written by the interrupted write are still in Milvus.
    Entities and relations: vectors of names or pairs not in the graph are deleted, missing or stale ones
    (a different description, source list or document list than the graph's) are re-written from the graph.
    Chunks: vectors whose id is not in the chunk store are deleted, and ``chunk_ids`` that are in the chunk
    store but have no vector get one.

    Args:
        rag: An initialised LightRAG instance whose graph and chunk store are authoritative.
        chunk_ids: Chunk ids the interrupted write touched.

    Returns:
        Counts of what was fixed, e.g. ``{"entities_deleted": 3, "entities_rewritten": 1}``.
    """
    from lightrag.utils import compute_mdhash_id, make_relation_vdb_ids

    from llama_index_mmrag.graph.kg_loader import entity_vdb_record, relation_vdb_record

    fixes: Counter[str] = Counter()
    graph = rag.chunk_entity_relation_graph

    nodes = {str(n["id"]): n for n in await graph.get_all_nodes()}
    wanted = {compute_mdhash_id(name, prefix="ent-"): entity_vdb_record(name, node) for name, node in nodes.items()}
    fields = ["entity_name", "source_id", "content", "file_path"]
    fixes["entities_deleted"], fixes["entities_rewritten"] = await _amatch_vectors(rag.entities_vdb, wanted, fields)

    wanted = {}
    for edge in await graph.get_all_edges():
        a, b = sorted((str(edge["source"]), str(edge["target"])))
        wanted[make_relation_vdb_ids(a, b)[0]] = relation_vdb_record(a, b, edge)
    fields = ["src_id", "tgt_id", "source_id", "content", "file_path"]
    fixes["relations_deleted"], fixes["relations_rewritten"] = await _amatch_vectors(rag.relationships_vdb, wanted, fields)

    stored_chunks = {row["id"] for row in await asyncio.to_thread(lambda: list(scan_vectors(rag.chunks_vdb, ["id"])))}
    orphans = sorted(await rag.text_chunks.filter_keys(stored_chunks)) if stored_chunks else []
    if orphans:
        await rag.chunks_vdb.delete(orphans)
    candidates = sorted(set(chunk_ids) - stored_chunks)
    records = await rag.text_chunks.get_by_ids(candidates) if candidates else []
    missing = {cid: rec for cid, rec in zip(candidates, records) if isinstance(rec, dict) and rec.get("content")}
    if missing:
        await rag.chunks_vdb.upsert(missing)
    fixes["chunks_deleted"], fixes["chunks_rewritten"] = len(orphans), len(missing)
    return {k: v for k, v in fixes.items() if v}
