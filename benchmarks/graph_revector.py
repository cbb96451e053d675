"""Rewrite the knowledge graph's entity or relation vectors of a store copy another way, in place.

Retrieval of two ways of building a graph's vectors is compared on one graph: copy a built store twice, rewrite
one copy's vectors with this script, and run ``mmrag eval`` (or ``benchmarks/graph_modes.py``) on both. Only the
vectors change: ids, metadata, nodes, the graph and the chunk vectors stay as they are.

- ``--relations composed``: every relation's vector becomes
  :func:`~llama_index_mmrag.graph.milvus_storage.compose_relation_vector` of its two entities' stored vectors
  (their sum, normalised: no MiniLM pass). ``--relations composed-chunk`` composes that with the vector of the
  relation's first source chunk (the chunk its evidence sentence is from): what an LLM-free ingest writes. ``--relations text`` embeds every relation's
  stored text with the packaged MiniLM (what it wrote before); ``--relations names`` embeds only what identifies
  the relation, ``keywords<TAB>source<LF>target`` (the stored text without its evidence sentence).
- ``--entities name-chunks``: every entity's vector becomes the normalised sum of its name's vector and the mean
  of its first ``--chunks`` source chunks' vectors (the nodes' vectors the graph's chunk collection holds), instead
  of the embedded ``name + description`` (every entity: the collection does not hold the entity type, so image,
  table and equation items are rewritten too).

Usage:
    python benchmarks/graph_revector.py --store COPY_OF_A_STORE --relations composed
    python benchmarks/graph_revector.py --store COPY_OF_A_STORE --entities name-chunks --chunks 3

Example:
    cp -a /tmp/devstore /tmp/devstore_composed
    python benchmarks/graph_revector.py --store /tmp/devstore_composed --relations composed
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

def _rows(client: Any, collection: str, fields: list[str]) -> Iterator[dict[str, Any]]:
    from llama_index_mmrag.stores.milvus import iterate_collection

    return iterate_collection(client, collection, fields, batch_size=1000)


def _collections(client: Any) -> dict[str, str]:
    """The graph's collections by kind (``entities``, ``relationships``, ``chunks``)."""
    names = client.list_collections()
    found = {kind: next((n for n in names if n.endswith(f"_{kind}")), "") for kind in ("entities", "relationships", "chunks")}
    missing = [kind for kind, name in found.items() if not name]
    if missing:
        raise SystemExit(f"the store has no graph collection for {', '.join(missing)}: {names}")
    for name in found.values():
        client.load_collection(name)
    return found


def _write(client: Any, collection: str, rows: list[dict[str, Any]], batch: int = 500) -> None:
    for start in range(0, len(rows), batch):
        client.upsert(collection_name=collection, data=rows[start : start + batch])


def compose_relations(client: Any, names: dict[str, str], with_chunk: bool = False) -> dict[str, int]:
    """Every relation's vector composed from its entities' stored vectors (and, ``with_chunk``, the vector of its
    first source chunk); returns counts."""
    from lightrag.utils import compute_mdhash_id

    from llama_index_mmrag.graph.milvus_storage import compose_relation_vector as compose

    entities = {str(row["id"]): row["vector"] for row in _rows(client, names["entities"], ["id", "vector"])}
    chunks = {str(row["id"]): row["vector"] for row in _rows(client, names["chunks"], ["id", "vector"])} if with_chunk else {}
    rows, missing = [], 0
    for row in _rows(client, names["relationships"], ["*"]):
        src = entities.get(compute_mdhash_id(str(row["src_id"]), prefix="ent-"))
        tgt = entities.get(compute_mdhash_id(str(row["tgt_id"]), prefix="ent-"))
        if src is None or tgt is None:
            missing += 1
            continue
        vector = compose(src, tgt)
        chunk = chunks.get(str(row.get("source_id", "")).split("<SEP>")[0])
        if chunk is not None:
            vector = compose(vector, chunk)
        rows.append({**row, "vector": vector.tolist()})
    _write(client, names["relationships"], rows)
    return {"relations rewritten": len(rows), "relations without both entity vectors (kept)": missing}


def embed_relations(client: Any, names: dict[str, str], embed: Any, identifying_only: bool) -> dict[str, int]:
    """Every relation's vector embedded from its stored text (or its first two lines: keywords and the two
    names); returns counts."""
    rows = list(_rows(client, names["relationships"], ["*"]))
    texts = [str(row["content"]) for row in rows]
    if identifying_only:
        texts = ["\n".join(text.split("\n")[:2]) for text in texts]
    order = sorted(range(len(rows)), key=lambda i: len(texts[i]))  # batches of like lengths
    vectors = embed.get_text_embedding_batch([texts[i] for i in order])
    for i, vector in zip(order, vectors):
        rows[i]["vector"] = list(vector)
    _write(client, names["relationships"], rows)
    return {"relations rewritten": len(rows), "relation texts' characters": sum(len(t) for t in texts)}


def name_chunk_entities(client: Any, names: dict[str, str], embed: Any, chunks: int) -> dict[str, int]:
    """Every entity's vector from its name and its first ``chunks`` source chunks; returns counts."""
    rows = list(_rows(client, names["entities"], ["*"]))
    sources = {str(row["id"]): [s for s in str(row.get("source_id", "")).split("<SEP>") if s][:chunks] for row in rows}
    wanted = sorted({s for ids in sources.values() for s in ids})
    chunk_vectors: dict[str, np.ndarray] = {}
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        for row in client.query(collection_name=names["chunks"], ids=part, output_fields=["vector"]):
            chunk_vectors[str(row["id"])] = np.asarray(row["vector"], dtype=np.float32)
    order = sorted(range(len(rows)), key=lambda i: len(str(rows[i]["entity_name"])))
    name_vectors = embed.get_text_embedding_batch([str(rows[i]["entity_name"]) for i in order])
    without_chunks = 0
    for i, name_vector in zip(order, name_vectors):
        row = rows[i]
        vector = np.asarray(name_vector, dtype=np.float32)
        found = [chunk_vectors[s] for s in sources[str(row["id"])] if s in chunk_vectors]
        if found:
            mean = np.mean(found, axis=0)
            vector = vector + mean / max(float(np.linalg.norm(mean)), 1e-12)
        else:
            without_chunks += 1
        row["vector"] = (vector / float(np.linalg.norm(vector))).tolist()
    _write(client, names["entities"], rows)
    return {"entities rewritten": len(rows), "entities with no chunk vector (name only)": without_chunks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a copy of a built store (rewritten in place)")
    parser.add_argument("--relations", choices=("composed", "composed-chunk", "text", "names"), help="rewrite the relation vectors this way")
    parser.add_argument("--entities", choices=("name-chunks",), help="rewrite the entity vectors this way")
    parser.add_argument("--chunks", type=int, default=3, help="source chunks per entity for --entities name-chunks")
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args()
    if not (args.relations or args.entities):
        parser.error("nothing to rewrite: give --relations and/or --entities")
    from pymilvus import MilvusClient

    from llama_index_mmrag.stores.lite_server import LiteStoreHold

    started = time.process_time()
    result: dict[str, Any] = {"store": str(args.store)}
    with LiteStoreHold(args.store / "milvus.db") as hold:
        client = MilvusClient(uri=hold.uri)
        names = _collections(client)
        embed = None
        if args.relations in ("text", "names") or args.entities:
            from llama_index_mmrag.models.embeddings import local_embedding

            embed = local_embedding()
        if args.entities:  # entities first: composed relations read the entity vectors
            result.update(name_chunk_entities(client, names, embed, args.chunks))
        if args.relations in ("composed", "composed-chunk"):
            result.update(compose_relations(client, names, with_chunk=args.relations == "composed-chunk"))
        elif args.relations in ("text", "names"):
            result.update(embed_relations(client, names, embed, identifying_only=args.relations == "names"))
        for name in names.values():
            client.flush(name)
        client.close()
    result["cpu_s"] = round(time.process_time() - started, 1)
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
