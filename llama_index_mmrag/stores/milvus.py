"""The one Milvus collection every node lives in: dense vectors plus Milvus's built-in BM25.

Milvus Lite in the storage dir by default; ``MILVUS_URI`` (+ ``MILVUS_TOKEN``) points the same code at a
Milvus server, a cluster or Zilliz Cloud.

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> store = build_vector_store(MMRAGSettings(storage_dir="./store"), dim=384)  # doctest: +SKIP
"""

from __future__ import annotations

import logging

from llama_index.vector_stores.milvus import MilvusVectorStore
from llama_index.vector_stores.milvus.utils import BM25BuiltInFunction

from llama_index_mmrag.settings import MMRAGSettings


class _LiteUnimplementedRpcFilter(logging.Filter):
    """Milvus Lite's in-process server logs an error for RPCs it leaves out (``AllocTimestamp``, which
    pymilvus calls while waiting for an index and handles itself); drop that one message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage() and "Method not implemented" not in str(record.exc_info)


def _quiet_lite_server() -> None:
    server_log = logging.getLogger("grpc._server")
    if not any(isinstance(f, _LiteUnimplementedRpcFilter) for f in server_log.filters):
        server_log.addFilter(_LiteUnimplementedRpcFilter())


def build_vector_store(settings: MMRAGSettings, dim: int) -> MilvusVectorStore:
    """Open (or create) the hybrid dense + BM25 collection described by the settings.

    Args:
        settings: Where Milvus is and which collection to use.
        dim: Dimension of the dense embedding.

    Raises:
        RuntimeError: If Milvus cannot be reached or opened, with the URI and what to check.
    """
    if settings.milvus_uri is None:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        _quiet_lite_server()
    try:
        return MilvusVectorStore(
            uri=settings.effective_milvus_uri,
            token=settings.milvus_token or "",
            collection_name=settings.milvus_collection,
            dim=dim,
            similarity_metric="COSINE",
            index_config={"index_type": "AUTOINDEX", "metric_type": "COSINE"},
            enable_sparse=True,
            sparse_embedding_function=BM25BuiltInFunction(),
            hybrid_ranker="RRFRanker",
            hybrid_ranker_params={"k": 60},
            overwrite=False,
            use_async=False,
        )
    except Exception as exc:
        where = settings.milvus_uri or f"Milvus Lite at {settings.milvus_lite_path}"
        hint = (
            "check MILVUS_URI / MILVUS_TOKEN and that the server is up"
            if settings.milvus_uri
            else "only one process may open a Milvus Lite store at a time; close the other one"
        )
        raise RuntimeError(f"cannot open Milvus collection {settings.milvus_collection!r} ({where}): {exc}; {hint}") from exc
