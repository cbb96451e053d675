"""LightRAG's Milvus vector storage, connected from our settings instead of process environment variables.

LightRAG's ``MilvusVectorDBStorage`` reads ``MILVUS_URI`` / ``MILVUS_TOKEN`` / ``MILVUS_DB_NAME`` from the
environment when it connects. A process may hold several stores (tests, notebooks, two collections), so this
subclass takes the connection from ``vector_db_storage_cls_kwargs`` (set by :class:`GraphStore` from
:class:`~llama_index_mmrag.settings.MMRAGSettings`) and is registered with LightRAG's storage registry
under :data:`STORAGE_NAME`. Everything else (schema, index, upsert, search) is LightRAG's own code.

Example:
    >>> register_milvus_storage()
    >>> STORAGE_NAME
    'MMRAGMilvusVectorStorage'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pymilvus  # noqa: F401  (imported before LightRAG's Milvus module, which reads MILVUS_URI at import)
from lightrag import kg as lightrag_kg
from lightrag.kg.milvus_impl import MilvusVectorDBStorage

from llama_index_mmrag.retrievers.filters import escape_string

STORAGE_NAME = "MMRAGMilvusVectorStorage"
URI_KEY = "mmrag_milvus_uri"
TOKEN_KEY = "mmrag_milvus_token"
DB_NAME_KEY = "mmrag_milvus_db_name"


@dataclass
class MMRAGMilvusVectorStorage(MilvusVectorDBStorage):  # type: ignore[misc]  # upstream marks it @final for typing only
    """``MilvusVectorDBStorage`` whose connection comes from the LightRAG instance's own configuration."""

    def _get_milvus_connection_kwargs(self, include_db_name: bool = True) -> dict[str, Any]:
        kwargs = self.global_config.get("vector_db_storage_cls_kwargs", {})
        uri = kwargs.get(URI_KEY)
        if not uri:
            raise ValueError(
                f"{STORAGE_NAME} needs '{URI_KEY}' in vector_db_storage_cls_kwargs; build LightRAG through GraphStore"
            )
        connection: dict[str, Any] = {"uri": uri}
        if kwargs.get(TOKEN_KEY):
            connection["token"] = kwargs[TOKEN_KEY]
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
