"""LightRAG's Milvus vector storage, connected from our settings instead of process environment variables.

LightRAG's ``MilvusVectorDBStorage`` reads ``MILVUS_URI`` / ``MILVUS_TOKEN`` / ``MILVUS_DB_NAME`` from the
environment when it connects. A process may hold several stores (tests, notebooks, two collections), so this
subclass takes the connection from ``vector_db_storage_cls_kwargs`` (set by :class:`GraphStore` from
:class:`~llama_index_mmrag.settings.MMRAGSettings`) and is registered with LightRAG's storage registry
under :data:`STORAGE_NAME`. Its upsert embeds only the texts it has no vector for (see
:meth:`MMRAGMilvusVectorStorage.upsert`), and in a graph built without an LLM a relation's vector is composed
from its two entities' vectors and its first source chunk's (:func:`compose_relation_vector`) instead of embedding
its text; the schema, index and search are LightRAG's own code.

Example:
    >>> register_milvus_storage()
    >>> STORAGE_NAME
    'MMRAGMilvusVectorStorage'
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pymilvus  # (imported before LightRAG's Milvus module, which reads MILVUS_URI at import)
from lightrag import kg as lightrag_kg
from lightrag.constants import GRAPH_FIELD_SEP
from lightrag.kg.milvus_impl import MilvusVectorDBStorage
from lightrag.utils import compute_mdhash_id

from llama_index_mmrag.models.adapters import no_llm_func
from llama_index_mmrag.stores.literals import escape_string
from llama_index_mmrag.stores.connection import milvus_connection

STORAGE_NAME = "MMRAGMilvusVectorStorage"
URI_KEY = "mmrag_milvus_uri"
TOKEN_KEY = "mmrag_milvus_token"
DB_NAME_KEY = "mmrag_milvus_db_name"
PRECOMPUTED_VECTOR_KEY = "__mmrag_vector__"
"""A record carrying this key is stored with that vector instead of embedding its ``content`` again (the graph's
chunks reuse the vectors their Milvus nodes were embedded with)."""
STORED_IDS_PER_QUERY = 512
"""Ids per Milvus query when an upsert looks up the vectors already stored under its ids."""
RELATIONS_NAMESPACE = "relationships"
ENTITIES_NAMESPACE = "entities"
CHUNKS_NAMESPACE = "chunks"


def compose_relation_vector(source: Any, target: Any) -> np.ndarray:
    """Two vectors summed and normalised to unit length: a relation's two entities', then that and its chunk's.

    A query close to either part is close to the composition (cosine to the sum of two unit vectors is the mean
    of the two cosines, scaled by one factor per pair), and the order of the pair does not matter.

    Args:
        source: The first vector (the source entity's).
        target: The second vector (the target entity's, or the chunk's).

    Returns:
        A float32 unit vector of the same dimension.

    Example:
        >>> [round(float(x), 3) for x in compose_relation_vector([1.0, 0.0], [0.0, 1.0])]
        [0.707, 0.707]
    """
    total = np.asarray(source, dtype=np.float32) + np.asarray(target, dtype=np.float32)
    norm = float(np.linalg.norm(total))
    return total / norm if norm > 0 else np.asarray(source, dtype=np.float32)


@dataclass
class MMRAGMilvusVectorStorage(MilvusVectorDBStorage):  # type: ignore[misc]  # upstream marks it @final for typing only
    """``MilvusVectorDBStorage`` whose connection comes from the LightRAG instance's own configuration.

    It also checks that its collection exists and is loaded once, not before every call: upstream asks
    Milvus ``has_collection`` and ``load_collection`` before each search, two round trips that cost 5 to 10
    ms of every graph query. A search that fails re-checks and retries once.

    Example:
        >>> from lightrag.kg.shared_storage import initialize_share_data
        >>> from llama_index_mmrag.models.adapters import lightrag_embedding_func
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> initialize_share_data()                            # LightRAG does this when it opens its storages
        >>> config = {"embedding_batch_num": 64, "working_dir": str(rag.settings.graph_dir),
        ...           "vector_db_storage_cls_kwargs": {"cosine_better_than_threshold": 0.2,
        ...                                            URI_KEY: rag.settings.effective_milvus_uri, TOKEN_KEY: None}}
        >>> entities = MMRAGMilvusVectorStorage(namespace="entities", workspace=rag.graph.workspace, global_config=config,
        ...                                     embedding_func=lightrag_embedding_func(rag.embed_model, 384),
        ...                                     meta_fields={"entity_name"})   # the graph's entity vectors
        >>> async def search() -> list:
        ...     await entities.initialize()
        ...     return await entities.query("Milvus Lite", top_k=3)
        >>> "milvus lite" in [hit["entity_name"] for hit in engine_loop().run(search())]
        True
    """

    def _ensure_collection_loaded(self) -> None:
        if self.__dict__.get("_mmrag_loaded"):
            return
        super()._ensure_collection_loaded()
        self._mmrag_loaded = True

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        """Upsert records, embedding only the texts no vector is known for.

        A record with :data:`PRECOMPUTED_VECTOR_KEY` keeps that vector. In a graph built without an LLM a
        relation's vector is composed from its entities' and its first source chunk's stored vectors (see
        :attr:`composes_relations`). A record whose ``content`` is the text already stored under its id keeps
        the stored vector: an entity or relation that another document mentions again is rewritten for its new
        sources, but its text (and so its vector) often stays the same. The other records are embedded, each
        distinct text once, in batches of LightRAG's ``embedding_batch_num``.

        Args:
            data: Records by id, as LightRAG passes them (``content`` plus the storage's meta fields).
        """
        if not data:
            return
        self._ensure_collection_loaded()
        vectors = {key: record[PRECOMPUTED_VECTOR_KEY] for key, record in data.items() if PRECOMPUTED_VECTOR_KEY in record}
        if self.composes_relations:
            vectors.update(self._composed_relation_vectors({k: r for k, r in data.items() if k not in vectors}))
        pending = {key: str(record.get("content", "")) for key, record in data.items() if key not in vectors}
        vectors.update(self._stored_vectors(pending))
        texts = list(dict.fromkeys(text for key, text in pending.items() if key not in vectors))
        embedded = dict(zip(texts, await self._embed(texts)))
        vectors.update({key: embedded[text] for key, text in pending.items() if key not in vectors})
        now = int(time.time())
        rows = [
            {
                "id": key,
                "created_at": now,
                **{field: value for field, value in record.items() if field in self.meta_fields},
                "vector": np.asarray(vectors[key], dtype=np.float32),
            }
            for key, record in data.items()
        ]
        self._client.upsert(collection_name=self.final_namespace, data=rows)

    @property
    def composes_relations(self) -> bool:
        """Whether this storage holds a graph's relations built without an LLM, whose vectors it composes.

        The LLM-free extractor's relation text is its two entities' names, its keywords and at most an evidence
        sentence of a chunk whose own vector the graph already holds: embedding it cost about half of the
        graph's word pieces. Composed from the two entities' vectors and that chunk's, the relation vectors
        found more pages in global mode on the development set than the embedded texts did
        (``benchmarks/RESULTS.md``). A relation an LLM described (LightRAG's own extraction) keeps its embedded
        text.
        """
        return self.namespace == RELATIONS_NAMESPACE and self.global_config.get("llm_model_func") is no_llm_func

    def _composed_relation_vectors(self, records: dict[str, dict[str, Any]]) -> dict[str, np.ndarray]:
        """:func:`compose_relation_vector` of each record's ``src_id`` and ``tgt_id`` entities, as stored in the
        graph's entity collection, composed again with the vector of its first source chunk (the chunk its
        evidence sentence comes from) where the chunk collection holds it; a record with an entity that has no
        stored vector is left out (embedded).

        Args:
            records: Relation records by id.
        """
        ends = {
            key: (compute_mdhash_id(str(r["src_id"]), prefix="ent-"), compute_mdhash_id(str(r["tgt_id"]), prefix="ent-"))
            for key, r in records.items()
            if r.get("src_id") and r.get("tgt_id")
        }
        if not ends:
            return {}
        prefix = self.final_namespace.removesuffix(self.namespace)
        entities, chunks = prefix + ENTITIES_NAMESPACE, prefix + CHUNKS_NAMESPACE
        if not self.__dict__.get("_mmrag_ends_loaded"):
            for collection in (entities, chunks):  # a delete may write relations before anything read these
                self._client.load_collection(collection)
            self._mmrag_ends_loaded = True
        found = self._vectors_by_id(entities, sorted({i for pair in ends.values() for i in pair}), "vector")
        first = {key: str(records[key].get("source_id", "")).split(GRAPH_FIELD_SEP)[0] for key in ends}
        sources = self._vectors_by_id(chunks, sorted({c for c in first.values() if c}), "vector")
        composed: dict[str, np.ndarray] = {}
        for key, (src, tgt) in ends.items():
            if src in found and tgt in found:
                vector = compose_relation_vector(found[src][0], found[tgt][0])
                chunk = sources.get(first[key])
                composed[key] = vector if chunk is None else compose_relation_vector(vector, chunk[0])
        return composed

    def _vectors_by_id(self, collection: str, ids: list[str], *fields: str) -> dict[str, tuple[Any, ...]]:
        """``id -> (field values)`` of the rows of ``collection`` stored under ``ids`` (one query per
        :data:`STORED_IDS_PER_QUERY` ids; ids with no row are left out).

        Args:
            collection: A Milvus collection of this client.
            ids: Primary keys.
            fields: The fields to read, in the order of the returned tuples.
        """
        found: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(ids), STORED_IDS_PER_QUERY):
            part = ids[start : start + STORED_IDS_PER_QUERY]
            rows = self._client.query(collection_name=collection, ids=part, output_fields=list(fields))
            found.update({str(row["id"]): tuple(row.get(field) for field in fields) for row in rows})
        return found

    def _stored_vectors(self, texts: dict[str, str]) -> dict[str, Any]:
        """The stored vectors of the ids in ``texts`` whose stored ``content`` is that text (a cache by id and
        text: the same text under the same id has the same vector).

        Args:
            texts: The text to be stored, by id.
        """
        if not texts or "content" not in self.meta_fields:
            return {}
        stored = self._vectors_by_id(self.final_namespace, list(texts), "content", "vector")
        return {key: vector for key, (content, vector) in stored.items() if content == texts.get(key)}

    async def _embed(self, texts: list[str]) -> list[Any]:
        """Embed texts in batches of ``embedding_batch_num`` (as upstream's upsert does).

        Args:
            texts: Distinct texts.
        """
        if not texts:
            return []
        size = max(1, int(self._max_batch_size))
        batches = [texts[start : start + size] for start in range(0, len(texts), size)]
        embedded = await asyncio.gather(*(self.embedding_func(batch, context="document") for batch in batches))
        return list(np.concatenate(embedded))

    async def query(self, query: str, top_k: int, query_embedding: list[float] | None = None) -> list[dict[str, Any]]:
        """Search the collection (upstream's search), re-loading it once if the search fails.

        Args:
            query: The query text (embedded unless ``query_embedding`` is given).
            top_k: How many hits.
            query_embedding: A precomputed query vector.
        """
        try:
            return await super().query(query, top_k, query_embedding)
        except pymilvus.MilvusException:
            if not self.__dict__.get("_mmrag_loaded"):
                raise
            self._mmrag_loaded = False  # released or dropped by someone else: check and load again
            return await super().query(query, top_k, query_embedding)

    async def drop(self) -> dict[str, str]:
        """Drop and recreate the collection (upstream's drop); the next call checks it again."""
        self._mmrag_loaded = False
        return await super().drop()

    def _get_milvus_connection_kwargs(self, include_db_name: bool = True) -> dict[str, Any]:
        kwargs = self.global_config.get("vector_db_storage_cls_kwargs", {})
        uri = kwargs.get(URI_KEY)
        if not uri:
            raise ValueError(
                f"{STORAGE_NAME} needs '{URI_KEY}' in vector_db_storage_cls_kwargs; build LightRAG through GraphStore"
            )
        connection = milvus_connection(uri, kwargs.get(TOKEN_KEY))
        if include_db_name and kwargs.get(DB_NAME_KEY):
            connection["db_name"] = kwargs[DB_NAME_KEY]
        return connection

    async def delete(self, ids: list[str]) -> None:
        """Delete vectors by id; a failure raises instead of being logged and dropped.

        Milvus Lite's ``delete`` returns the deleted keys as a list where a server returns
        ``{"delete_count": n}``; upstream reads only the latter and logs an error for the former.

        Args:
            ids: Vector ids to delete.
        """
        if not ids:
            return
        self._ensure_collection_loaded()
        self._client.delete(collection_name=self.final_namespace, pks=list(ids))

    async def delete_entity_relation(self, entity_name: str) -> None:
        """Delete the relation vectors that start or end at an entity.

        Args:
            entity_name: The entity whose relations go.
        """
        self._ensure_collection_loaded()
        name = escape_string(entity_name)  # upstream interpolates the name unescaped
        expr = f"src_id == {name} or tgt_id == {name}"
        rows = self._client.query(collection_name=self.final_namespace, filter=expr, output_fields=["id"])
        if rows:
            self._client.delete(collection_name=self.final_namespace, pks=[row["id"] for row in rows])


def register_milvus_storage() -> None:
    """Make :data:`STORAGE_NAME` a valid ``vector_storage`` name for LightRAG (idempotent)."""
    implementations = lightrag_kg.STORAGE_IMPLEMENTATIONS["VECTOR_STORAGE"]["implementations"]
    if STORAGE_NAME not in implementations:
        implementations.append(STORAGE_NAME)
    lightrag_kg.STORAGES[STORAGE_NAME] = __name__
    lightrag_kg.STORAGE_ENV_REQUIREMENTS.setdefault(STORAGE_NAME, [])
