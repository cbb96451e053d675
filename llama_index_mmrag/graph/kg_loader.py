"""Loading a custom knowledge graph into LightRAG under OUR chunk ids, and removing it again.

``LightRAG.ainsert_custom_kg`` keeps one source chunk per entity, ids chunks by content hash and cannot be
undone; :func:`ainsert_kg` keeps every source, merges with what is stored, and :func:`adelete_kg` is its
exact inverse (a document's contribution goes, what other documents still support stays).

Example:
    >>> from lightrag import LightRAG
    >>> from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg
    >>> from llama_index_mmrag.models.adapters import lightrag_embedding_func, no_llm_func
    >>> from llama_index_mmrag.models.embeddings import local_embedding
    >>> from llama_index_mmrag.models.tokenizer import offline_tokenizer
    >>> from llama_index_mmrag.runtime import engine_loop
    >>> lightrag = LightRAG(working_dir="lightrag", embedding_func=lightrag_embedding_func(local_embedding(), 384),
    ...                     llm_model_func=no_llm_func, tokenizer=offline_tokenizer(),
    ...                     vector_storage="NanoVectorDBStorage")         # no LLM is called
    >>> chunks = [GraphChunk("faq-1", "Milvus Lite runs Milvus in one Python process.", doc="faq.txt", page=0,
    ...                      modality="text")]
    >>> async def load_and_remove() -> tuple[int, int]:
    ...     await lightrag.initialize_storages()
    ...     await ainsert_kg(lightrag, build_custom_kg(chunks))
    ...     loaded = len(await lightrag.chunk_entity_relation_graph.get_all_labels())
    ...     await adelete_kg(lightrag, build_custom_kg(chunks))     # its exact inverse
    ...     return loaded, len(await lightrag.chunk_entity_relation_graph.get_all_labels())
    >>> engine_loop().run(load_and_remove())                        # entities in the graph, then none
    (3, 0)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lightrag.constants import GRAPH_FIELD_SEP
from lightrag.utils import (
    apply_source_ids_limit,
    compute_mdhash_id,
    make_relation_chunk_key,
    make_relation_vdb_ids,
    merge_source_ids,
    sanitize_text_for_encoding,
    subtract_source_ids,
)

from llama_index_mmrag.graph.extract import _MAX_DESCRIPTION_FRAGMENTS, TEMPLATE_EDGE_KEYWORDS, type_rank
from llama_index_mmrag.graph.milvus_storage import PRECOMPUTED_VECTOR_KEY, MMRAGMilvusVectorStorage
from llama_index_mmrag.graph.safe_text import graph_safe_kg
from llama_index_mmrag.progress import advance_progress, report_progress

if TYPE_CHECKING:
    from lightrag import LightRAG

__all__ = ["adelete_kg", "ainsert_kg", "apersist"]

UPSERT_SLICE = 1024
"""Entity or relation vectors written per upsert call during an insert: the progress bar of a large document's
graph moves every slice instead of twice."""




def _split(value: str | None) -> list[str]:
    return [part for part in (value or "").split(GRAPH_FIELD_SEP) if part]


def _join_limited(values: list[str], limit: int, placeholder: str) -> str:
    if limit > 0 and len(values) > limit:
        values = values[:limit] + [placeholder]
    return GRAPH_FIELD_SEP.join(values)


def _stronger_type(a: str | None, b: str) -> str:
    rank_a = type_rank(a) if a else None
    if rank_a is None:
        return b
    rank_b = type_rank(b)
    return a if rank_b is None or rank_a <= rank_b else b


def entity_vdb_record(name: str, node: dict[str, Any]) -> dict[str, Any]:
    """The entity vector record for a graph node, as LightRAG writes it (``operate._merge_nodes_then_upsert``).

    Args:
        name: Entity name.
        node: The graph node (``description``, ``source_id``, ``entity_type``, ``file_path``).
    """
    description = str(node.get("description", ""))
    return {
        "content": f"{name}\n{description}",
        "entity_name": name,
        "source_id": str(node.get("source_id", "")),
        "description": description,
        "entity_type": str(node.get("entity_type", "UNKNOWN")),
        "file_path": str(node.get("file_path", "")),
    }


def relation_vector_text(src: str, tgt: str, edge: dict[str, Any]) -> str:
    """The text embedded for a relation: LightRAG's ``keywords<TAB>src<LF>tgt<LF>description``, without the
    description when every keyword of the edge is a template one (its description only repeats the names).

    Template edges are most of an LLM-free graph, and their descriptions were about half of the tokens
    embedded at ingestion.

    Args:
        src: Source entity.
        tgt: Target entity.
        edge: The graph edge (``keywords``, ``description``).
    """
    keywords = str(edge.get("keywords", ""))
    head = f"{keywords}\t{src}\n{tgt}"
    names = {k.strip() for k in keywords.split(",") if k.strip()}
    if names and names <= TEMPLATE_EDGE_KEYWORDS:
        return head
    return f"{head}\n{edge.get('description', '')}"


def relation_vdb_record(src: str, tgt: str, edge: dict[str, Any]) -> dict[str, Any]:
    """The relation vector record for a graph edge; its ``content`` is :func:`relation_vector_text`.

    Args:
        src: Source entity.
        tgt: Target entity.
        edge: The graph edge (``keywords``, ``description``, ``source_id``, ``weight``, ``file_path``).
    """
    return {
        "src_id": src,
        "tgt_id": tgt,
        "source_id": str(edge.get("source_id", "")),
        "content": relation_vector_text(src, tgt, edge),
        "keywords": str(edge.get("keywords", "")),
        "description": str(edge.get("description", "")),
        "weight": float(edge.get("weight", 1.0)),
        "file_path": str(edge.get("file_path", "")),
    }


def by_content_length(records: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Vector records ordered by the length of their ``content``, shortest first.

    A LightRAG vector storage embeds an upsert's records in batches of ``embedding_batch_num`` in the dict's
    order, and a batch costs as much as its longest text times its size. Entity and relation texts range from a
    name to a paragraph: in extraction order the graph of a 336-page report cost about three times the tokens
    its texts hold (``benchmarks/RESULTS.md``), in this order hardly more than them. The vectors are the same.

    Args:
        records: Vector records by id, each with a ``content``.
    """
    return dict(sorted(records.items(), key=lambda item: len(str(item[1].get("content", "")))))


async def _upsert_vectors(storage: Any, records: dict[str, dict[str, Any]]) -> None:
    """Upsert vector records shortest text first (:func:`by_content_length`), :data:`UPSERT_SLICE` at a time,
    advancing the open progress bar (if any) by each slice: every entity and relation upsert goes through here."""
    ordered = list(by_content_length(records).items())
    for start in range(0, len(ordered), UPSERT_SLICE):
        part = dict(ordered[start : start + UPSERT_SLICE])
        await storage.upsert(part)
        advance_progress(len(part))


def _graph_lock(rag: LightRAG, names: Iterable[str]) -> Any:
    """LightRAG's own per-entity graph lock (the one its merge step takes), over all our entity names."""
    from lightrag.kg.shared_storage import get_storage_keyed_lock

    namespace = f"{rag.workspace}:GraphDB" if rag.workspace else "GraphDB"
    return get_storage_keyed_lock(sorted(set(names)), namespace=namespace, enable_logging=False)


async def _tracked_keywords(storage: Any, keys: list[str]) -> list[dict[str, str]]:
    """Per-chunk relation keywords recorded in LightRAG's relation tracking KV (empty where none)."""
    tracked = await storage.get_by_ids(keys) if storage is not None and keys else [None] * len(keys)
    return [dict(record.get("chunk_keywords") or {}) if isinstance(record, dict) else {} for record in tracked]


def _keywords_of(chunk_keywords: dict[str, str]) -> str:
    """An edge's keywords: the union of its chunks' keywords, in first-seen order."""
    return ", ".join(merge_source_ids([], [k.strip() for kws in chunk_keywords.values() for k in kws.split(",")]))


async def _tracked_sources(storage: Any, keys: list[str], graph_values: list[dict | None]) -> list[list[str]]:
    """Full source-chunk lists: LightRAG's chunk-tracking KV when present, else the graph's ``source_id``."""
    tracked = await storage.get_by_ids(keys) if storage is not None and keys else [None] * len(keys)
    result: list[list[str]] = []
    for record, graph_value in zip(tracked, graph_values):
        if isinstance(record, dict) and record.get("chunk_ids"):
            result.append([c for c in record["chunk_ids"] if c])
        else:
            result.append(_split((graph_value or {}).get("source_id")))
    return result


async def _tracked_descriptions(storage: Any, keys: list[str]) -> list[dict[str, str]]:
    """Per-document description fragments recorded in a tracking KV (empty where none)."""
    tracked = await storage.get_by_ids(keys) if storage is not None and keys else [None] * len(keys)
    return [dict(record.get("descriptions") or {}) if isinstance(record, dict) else {} for record in tracked]


def _merge_fragments(existing: str | None, new: str) -> str:
    fragments = merge_source_ids(_split(existing), [new])
    return GRAPH_FIELD_SEP.join(fragments[:_MAX_DESCRIPTION_FRAGMENTS])


def _add_description(
    old_description: str | None, old_by_doc: dict[str, str], docs: list[str], fragment: str
) -> tuple[str, dict[str, str]]:
    """The description with ``fragment`` (of ``docs``) added, and the per-document fragments to record."""
    if not docs:  # a fragment of no document is kept like one written before fragments were recorded
        return _merge_fragments(old_description, fragment), old_by_doc
    by_doc = dict(old_by_doc)
    for doc in docs:
        by_doc[doc] = _merge_fragments(by_doc.get(doc), fragment)
    return _compose_description(old_description, old_by_doc, by_doc), by_doc


def _compose_description(
    old_description: str | None, old_by_doc: dict[str, str], by_doc: dict[str, str], removed: str | None = None
) -> str:
    """An entity's or relation's description: the fragments of the documents that still support it.

    ``by_doc`` holds each document's fragment (recorded in LightRAG's tracking KV next to the source chunks);
    fragments of the stored description that no document claims (written before fragments were recorded per
    document, or by LightRAG's own extraction) are kept, except ``removed``. So a deleted document's text
    leaves the description whatever order its chunks are read back in.
    """
    claimed = {piece for fragment in old_by_doc.values() for piece in _split(fragment)}
    unclaimed = [f for f in _split(old_description) if f not in claimed and f != removed]
    fragments = merge_source_ids(unclaimed, [piece for fragment in by_doc.values() for piece in _split(fragment)])
    return GRAPH_FIELD_SEP.join(fragments[:_MAX_DESCRIPTION_FRAGMENTS])


async def apersist(rag: LightRAG) -> None:
    """Write LightRAG's file storages (JSON key-value stores, the NetworkX graph) to disk."""
    storages = [
        rag.text_chunks,
        rag.chunks_vdb,
        rag.entities_vdb,
        rag.relationships_vdb,
        rag.chunk_entity_relation_graph,
        rag.entity_chunks,
        rag.relation_chunks,
    ]
    await asyncio.gather(*(s.index_done_callback() for s in storages if s is not None))


async def _insert_chunks(
    rag: LightRAG, chunks: list[dict[str, Any]], vectors: Mapping[str, Sequence[float]] | None = None
) -> None:
    records: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        content = sanitize_text_for_encoding(chunk["content"])
        records[chunk["source_id"]] = {
            "content": content,
            "tokens": len(rag.tokenizer.encode(content)),
            "chunk_order_index": chunk.get("chunk_order_index", 0),
            "full_doc_id": chunk.get("full_doc_id", chunk.get("file_path", "custom_kg")),
            "file_path": chunk.get("file_path", "custom_kg"),
        }
    if records:
        if not isinstance(rag.chunks_vdb, MMRAGMilvusVectorStorage):
            vectors = None  # another vector storage embeds the content itself
        vectors = vectors or {}
        vdb_records = {
            key: {**record, PRECOMPUTED_VECTOR_KEY: vectors[key]} if key in vectors else record
            for key, record in records.items()
        }
        await asyncio.gather(rag.chunks_vdb.upsert(vdb_records), rag.text_chunks.upsert(records))


async def _insert_entities(rag: LightRAG, entities: list[dict[str, Any]], now: int) -> None:
    names = [e["entity_name"] for e in entities]
    existing = await rag.chunk_entity_relation_graph.get_nodes_batch(names)
    graph_values = [existing.get(name) for name in names]
    sources = await _tracked_sources(rag.entity_chunks, names, graph_values)
    described = await _tracked_descriptions(rag.entity_chunks, names)
    nodes: list[tuple[str, dict[str, Any]]] = []
    tracking: dict[str, dict[str, Any]] = {}
    for entity, old, old_sources, old_by_doc in zip(entities, graph_values, sources, described):
        name = entity["entity_name"]
        old = old or {}
        description, by_doc = _add_description(
            old.get("description"), old_by_doc, _split(entity.get("file_path")), entity["description"]
        )
        full = merge_source_ids(old_sources, entity.get("source_ids") or [entity["source_id"]])
        limited = apply_source_ids_limit(
            full, rag.max_source_ids_per_entity, rag.source_ids_limit_method, identifier=name
        )
        files = merge_source_ids(_split(old.get("file_path")), _split(entity.get("file_path")))
        files = [f for f in files if f != rag.file_path_more_placeholder]
        node = {
            "entity_id": name,
            "entity_type": _stronger_type(old.get("entity_type"), entity.get("entity_type", "UNKNOWN")),
            "description": description,
            "source_id": GRAPH_FIELD_SEP.join(limited),
            "file_path": _join_limited(files, rag.max_file_paths, rag.file_path_more_placeholder),
            "created_at": old.get("created_at", now),
        }
        nodes.append((name, node))
        tracking[name] = {"chunk_ids": full, "count": len(full), "descriptions": by_doc}
    await rag.chunk_entity_relation_graph.upsert_nodes_batch(nodes)
    vdb = {compute_mdhash_id(name, prefix="ent-"): entity_vdb_record(name, node) for name, node in nodes}
    await _upsert_vectors(rag.entities_vdb, vdb)
    if rag.entity_chunks is not None:
        await rag.entity_chunks.upsert(tracking)


async def _insert_relationships(rag: LightRAG, relationships: list[dict[str, Any]], now: int) -> None:
    pairs = [tuple(sorted((r["src_id"], r["tgt_id"]))) for r in relationships]
    existing = await rag.chunk_entity_relation_graph.get_edges_batch(
        [{"src": a, "tgt": b} for a, b in pairs]
    )
    graph_values = [existing.get(pair) or existing.get(pair[::-1]) for pair in pairs]
    keys = [make_relation_chunk_key(a, b) for a, b in pairs]
    sources = await _tracked_sources(rag.relation_chunks, keys, graph_values)
    old_keywords = await _tracked_keywords(rag.relation_chunks, keys)
    described = await _tracked_descriptions(rag.relation_chunks, keys)
    edges: list[tuple[str, str, dict[str, Any]]] = []
    tracking: dict[str, dict[str, Any]] = {}
    for rel, (a, b), key, old, old_sources, chunk_keywords, old_by_doc in zip(
        relationships, pairs, keys, graph_values, sources, old_keywords, described
    ):
        old = old or {}
        description, by_doc = _add_description(
            old.get("description"), old_by_doc, _split(rel.get("file_path")), rel["description"]
        )
        chunk_weights = rel.get("chunk_weights") or {rel["source_id"]: float(rel.get("weight", 1.0))}
        counted = set(old_sources)
        added = sum(w for cid, w in chunk_weights.items() if cid not in counted)
        full = merge_source_ids(old_sources, list(chunk_weights))
        limited = apply_source_ids_limit(
            full, rag.max_source_ids_per_relation, rag.source_ids_limit_method, identifier=key
        )
        files = merge_source_ids(_split(old.get("file_path")), _split(rel.get("file_path")))
        files = [f for f in files if f != rag.file_path_more_placeholder]
        if not chunk_keywords and old.get("keywords"):  # an edge stored without tracking: keep its keywords
            chunk_keywords = {cid: str(old["keywords"]) for cid in old_sources[:1]}
        new_keywords = rel.get("chunk_keywords") or {cid: rel["keywords"] for cid in chunk_weights}
        chunk_keywords = {**chunk_keywords, **new_keywords}
        edge = {
            "weight": float(old.get("weight", 0.0)) + added,
            "description": description,
            "keywords": _keywords_of(chunk_keywords),
            "source_id": GRAPH_FIELD_SEP.join(limited),
            "file_path": _join_limited(files, rag.max_file_paths, rag.file_path_more_placeholder),
            "created_at": old.get("created_at", now),
        }
        edges.append((a, b, edge))
        tracking[key] = {
            "chunk_ids": full, "count": len(full), "chunk_keywords": chunk_keywords, "descriptions": by_doc
        }
    await rag.chunk_entity_relation_graph.upsert_edges_batch(edges)
    vdb = {make_relation_vdb_ids(a, b)[0]: relation_vdb_record(a, b, edge) for a, b, edge in edges}
    await _upsert_vectors(rag.relationships_vdb, vdb)
    if rag.relation_chunks is not None:
        await rag.relation_chunks.upsert(tracking)


async def ainsert_kg(
    rag: LightRAG,
    kg: dict[str, Any],
    chunk_vectors: Mapping[str, Sequence[float]] | None = None,
    persist: bool = True,
) -> None:
    """Add a custom kg to LightRAG's storages, keeping OUR chunk ids and merging with what is there.

    Unlike ``LightRAG.ainsert_custom_kg`` (one source chunk per entity, content-hash chunk ids), this:

    - stores each chunk under its ``source_id`` (our chunk id) in ``text_chunks`` and ``chunks_vdb``, so
      ``aquery_data`` returns our ids as ``chunk_id`` in every mode;
    - unions an entity's / relationship's source chunks and documents with those already in the graph
      (``<SEP>``-joined, with LightRAG's ``max_source_ids_per_*`` / ``max_file_paths`` limits; the full
      lists go to LightRAG's ``entity_chunks`` / ``relation_chunks`` tracking stores);
    - adds relationship weights per chunk (a chunk already counted is not counted twice, so inserting the
      same kg again changes nothing), keeps the stronger entity type and appends the description;
    - holds LightRAG's per-entity graph lock while it reads and writes, then persists the storages (unless
      ``persist`` is off: a caller loading several kgs persists once, with :func:`apersist`).

    No LLM is called; embeddings are computed for entities, relationships and the chunks that
    ``chunk_vectors`` does not cover.

    Args:
        rag: An initialised LightRAG instance (``await rag.initialize_storages()`` done).
        kg: A dict from :func:`build_custom_kg`.
        chunk_vectors: Vectors by chunk id to store in ``chunks_vdb`` as they are (the vectors the chunks'
            Milvus nodes were embedded with), instead of embedding the chunks a second time.
        persist: Write the file storages to disk at the end (each write rewrites them whole).

    Example:
        See the module docstring (a LightRAG instance loaded, then emptied again by :func:`adelete_kg`).
    """
    kg = graph_safe_kg(kg)
    entities = list(kg.get("entities", []))
    relationships = list(kg.get("relationships", []))
    now = int(time.time())
    report_progress(0, len(entities) + len(relationships))  # the vectors an open progress bar counts
    async with _graph_lock(rag, (e["entity_name"] for e in entities)):
        await _insert_chunks(rag, list(kg.get("chunks", [])), chunk_vectors)
        if entities:
            await _insert_entities(rag, entities, now)
        if relationships:
            await _insert_relationships(rag, relationships, now)
        if persist:
            await apersist(rag)


async def _delete_entities(rag: LightRAG, entities: list[dict[str, Any]], chunk_ids: set[str]) -> None:
    names = [e["entity_name"] for e in entities]
    existing = await rag.chunk_entity_relation_graph.get_nodes_batch(names)
    graph_values = [existing.get(name) for name in names]
    sources = await _tracked_sources(rag.entity_chunks, names, graph_values)
    described = await _tracked_descriptions(rag.entity_chunks, names)
    gone: list[str] = []
    kept: list[tuple[str, dict[str, Any]]] = []
    tracking: dict[str, dict[str, Any]] = {}
    for entity, old, old_sources, old_by_doc in zip(entities, graph_values, sources, described):
        name = entity["entity_name"]
        if old is None or chunk_ids.isdisjoint(old_sources):
            continue  # not there, or not from these chunks: deleting twice changes nothing
        remaining = subtract_source_ids(old_sources, chunk_ids)
        if not remaining:
            gone.append(name)
            continue
        docs = set(_split(entity.get("file_path")))
        files = [f for f in _split(old.get("file_path")) if f not in docs]
        limited = apply_source_ids_limit(remaining, rag.max_source_ids_per_entity, rag.source_ids_limit_method)
        by_doc = {doc: fragment for doc, fragment in old_by_doc.items() if doc not in docs}
        description = _compose_description(old.get("description"), old_by_doc, by_doc, removed=entity["description"])
        node = dict(old)
        node.update(
            description=description or f"{name} ({str(old.get('entity_type', 'UNKNOWN')).lower()}).",
            source_id=GRAPH_FIELD_SEP.join(limited),
            file_path=GRAPH_FIELD_SEP.join(files),
        )
        kept.append((name, node))
        tracking[name] = {"chunk_ids": remaining, "count": len(remaining), "descriptions": by_doc}
    if gone:
        edges = await rag.chunk_entity_relation_graph.get_nodes_edges_batch(gone)
        pairs = sorted({tuple(sorted(e)) for name in gone for e in edges.get(name, [])})
        await rag.relationships_vdb.delete([i for a, b in pairs for i in make_relation_vdb_ids(a, b)])
        if rag.relation_chunks is not None:
            await rag.relation_chunks.delete([make_relation_chunk_key(a, b) for a, b in pairs])
        await rag.chunk_entity_relation_graph.remove_nodes(gone)
        await rag.entities_vdb.delete([compute_mdhash_id(name, prefix="ent-") for name in gone])
        if rag.entity_chunks is not None:
            await rag.entity_chunks.delete(gone)
    if kept:
        await rag.chunk_entity_relation_graph.upsert_nodes_batch(kept)
        await _upsert_vectors(
            rag.entities_vdb, {compute_mdhash_id(name, prefix="ent-"): entity_vdb_record(name, node) for name, node in kept}
        )
        if rag.entity_chunks is not None:
            await rag.entity_chunks.upsert(tracking)


async def _delete_relationships(
    rag: LightRAG, relationships: list[dict[str, Any]], chunk_ids: set[str]
) -> dict[str, dict[str, Any]]:
    """Remove the chunks' contribution from the relationships; returns the vector records of those that stay, for
    the caller to write once the entities are rewritten (an offline graph composes a relation's vector from its
    entities' vectors)."""
    pairs = [tuple(sorted((r["src_id"], r["tgt_id"]))) for r in relationships]
    existing = await rag.chunk_entity_relation_graph.get_edges_batch([{"src": a, "tgt": b} for a, b in pairs])
    graph_values = [existing.get(pair) or existing.get(pair[::-1]) for pair in pairs]
    keys = [make_relation_chunk_key(a, b) for a, b in pairs]
    sources = await _tracked_sources(rag.relation_chunks, keys, graph_values)
    old_keywords = await _tracked_keywords(rag.relation_chunks, keys)
    described = await _tracked_descriptions(rag.relation_chunks, keys)
    gone: list[tuple[str, str]] = []
    kept: list[tuple[str, str, dict[str, Any]]] = []
    tracking: dict[str, dict[str, Any]] = {}
    for rel, pair, key, old, old_sources, tracked_keywords, old_by_doc in zip(
        relationships, pairs, keys, graph_values, sources, old_keywords, described
    ):
        if old is None or chunk_ids.isdisjoint(old_sources):
            continue
        remaining = subtract_source_ids(old_sources, chunk_ids)
        if not remaining:
            gone.append(pair)
            continue
        present = set(old_sources)
        chunk_weights = rel.get("chunk_weights") or {rel["source_id"]: float(rel.get("weight", 1.0))}
        removed = sum(w for cid, w in chunk_weights.items() if cid in present and cid in chunk_ids)
        docs = set(_split(rel.get("file_path")))
        limited = apply_source_ids_limit(remaining, rag.max_source_ids_per_relation, rag.source_ids_limit_method)
        edge = dict(old)
        for stale in ("source", "target"):
            edge.pop(stale, None)
        chunk_keywords = {cid: kws for cid, kws in tracked_keywords.items() if cid not in chunk_ids}
        by_doc = {doc: fragment for doc, fragment in old_by_doc.items() if doc not in docs}
        description = _compose_description(old.get("description"), old_by_doc, by_doc, removed=rel["description"])
        edge.update(
            # an edge stored without keyword tracking keeps its keywords; a tracked one keeps its remaining chunks'
            keywords=_keywords_of(chunk_keywords) if tracked_keywords else old.get("keywords", ""),
            weight=max(float(old.get("weight", 0.0)) - removed, 0.0),
            description=description or f"{pair[0]} and {pair[1]} are related.",
            source_id=GRAPH_FIELD_SEP.join(limited),
            file_path=GRAPH_FIELD_SEP.join(f for f in _split(old.get("file_path")) if f not in docs),
        )
        kept.append((pair[0], pair[1], edge))
        tracking[key] = {
            "chunk_ids": remaining, "count": len(remaining), "chunk_keywords": chunk_keywords, "descriptions": by_doc
        }
    if gone:
        await rag.relationships_vdb.delete([i for a, b in gone for i in make_relation_vdb_ids(a, b)])
        await rag.chunk_entity_relation_graph.remove_edges(gone)
        if rag.relation_chunks is not None:
            await rag.relation_chunks.delete([make_relation_chunk_key(a, b) for a, b in gone])
    if kept:
        await rag.chunk_entity_relation_graph.upsert_edges_batch(kept)
        if rag.relation_chunks is not None:
            await rag.relation_chunks.upsert(tracking)
    return {make_relation_vdb_ids(a, b)[0]: relation_vdb_record(a, b, edge) for a, b, edge in kept}


async def adelete_kg(rag: LightRAG, kg: dict[str, Any]) -> None:
    """Remove exactly what :func:`ainsert_kg` added for this kg (the inverse operation).

    Chunks are deleted by our id; every entity and relationship of the kg loses those source chunks, its
    documents, its description fragment and (relationships) the weight those chunks contributed; the ones left
    with no source chunk are deleted from the graph and both vector stores. Rebuild the kg with
    :func:`build_custom_kg` from the same chunks (e.g. the document's nodes read back from Milvus): the
    extraction is deterministic, so it names the same entities. Give it all chunks of the documents being
    removed, since documents are dropped from ``file_path`` lists as a whole.

    ``LightRAG.adelete_by_doc_id`` cannot do this: a custom kg writes no doc-status record (it answers
    ``not_found``), and its rebuild step needs cached LLM extraction results.

    Args:
        rag: An initialised LightRAG instance.
        kg: A dict from :func:`build_custom_kg` over the chunks to remove.

    Example:
        See the module docstring (a kg loaded by :func:`ainsert_kg`, then removed).
    """
    kg = graph_safe_kg(kg)
    chunk_ids = {c["source_id"] for c in kg.get("chunks", [])}
    entities = list(kg.get("entities", []))
    relationships = list(kg.get("relationships", []))
    async with _graph_lock(rag, (e["entity_name"] for e in entities)):
        kept_relations = await _delete_relationships(rag, relationships, chunk_ids) if relationships else {}
        if entities:
            await _delete_entities(rag, entities, chunk_ids)
        if kept_relations:
            await _upsert_vectors(rag.relationships_vdb, kept_relations)
        if chunk_ids:
            ids = sorted(chunk_ids)
            await asyncio.gather(rag.chunks_vdb.delete(ids), rag.text_chunks.delete(ids))
        await apersist(rag)
