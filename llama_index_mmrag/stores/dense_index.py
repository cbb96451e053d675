"""The dense vector index: exact search while a collection is small enough, an approximate one beyond.

On Milvus Lite a new collection's dense field gets an ``IVF_FLAT`` index of 128 lists. A search that probes
every list compares the question with every vector, so it is exact (what ``FLAT`` returns), and on Milvus Lite
it is several times faster than ``FLAT`` itself; Milvus Lite's ``AUTOINDEX`` is approximate. Beyond
``exact_search_max_rows`` rows the search probes a quarter of the lists. On a Milvus server the collection
gets ``AUTOINDEX`` (the server picks its index) unless ``dense_index`` names a type; ``dense_index_params``
and ``dense_search_params`` pass a type's parameters through. The figures behind these defaults are in
``benchmarks/RESULTS.md`` (``benchmarks/dense_index.py``).

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> lite = MMRAGSettings(storage_dir="./store")
    >>> dense_index_config(lite)
    {'index_type': 'IVF_FLAT', 'metric_type': 'COSINE', 'params': {'nlist': 128}}
    >>> dense_search_config(lite, "IVF_FLAT", {"nlist": 128}, rows=3_000)    # small: every list, exact
    {'nprobe': 128}
    >>> dense_search_config(lite, "IVF_FLAT", {"nlist": 128}, rows=10_000_000)
    {'nprobe': 32}
    >>> dense_index_config(MMRAGSettings(milvus_uri="http://milvus:19530"))
    {'index_type': 'AUTOINDEX', 'metric_type': 'COSINE'}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.settings import MMRAGSettings

if TYPE_CHECKING:
    from llama_index.vector_stores.milvus import MilvusVectorStore

__all__ = ["LITE_NLIST", "dense_index_config", "dense_search_config", "tune_dense_search"]

logger = logging.getLogger(__name__)

LITE_NLIST = 128
"""Lists of the ``IVF_FLAT`` index a new Milvus Lite collection gets."""
APPROXIMATE_SHARE = 4
"""Beyond the exact-search size, a search probes one list in this many."""


def dense_index_config(settings: MMRAGSettings) -> dict[str, Any]:
    """The index a new collection's dense field gets (an existing collection keeps the one it has).

    Args:
        settings: ``dense_index`` (``auto``: ``IVF_FLAT`` on Milvus Lite, ``AUTOINDEX`` on a server) and
            ``dense_index_params``.
    """
    kind = settings.dense_index
    if kind == "auto":
        if settings.milvus_uri is None:
            return {"index_type": "IVF_FLAT", "metric_type": "COSINE", "params": {"nlist": LITE_NLIST}}
        return {"index_type": "AUTOINDEX", "metric_type": "COSINE"}
    config: dict[str, Any] = {"index_type": kind, "metric_type": "COSINE"}
    if settings.dense_index_params:
        config["params"] = dict(settings.dense_index_params)
    return config


def dense_search_config(
    settings: MMRAGSettings, index_type: str | None, index_params: Mapping[str, Any], rows: int
) -> dict[str, Any]:
    """The dense search parameters for a collection whose dense index is ``index_type``.

    ``dense_search_params`` wins when given. An ``IVF_*`` index is probed in every list (exact) while the
    collection holds at most ``exact_search_max_rows`` rows, and in a quarter of them beyond. Other indexes
    search with their own defaults.

    Args:
        settings: The search settings.
        index_type: The collection's dense index type, as Milvus describes it (``None`` if unknown).
        index_params: Its build parameters (``nlist`` is read from them).
        rows: How many rows the collection holds.
    """
    if settings.dense_search_params:
        return dict(settings.dense_search_params)
    if not index_type or not index_type.upper().startswith("IVF"):
        return {}
    nlist = int(index_params.get("nlist") or settings.dense_index_params.get("nlist") or LITE_NLIST)
    if rows <= settings.exact_search_max_rows:
        return {"nprobe": nlist}
    return {"nprobe": max(1, nlist // APPROXIMATE_SHARE)}


def tune_dense_search(store: MilvusVectorStore, settings: MMRAGSettings, rows: int) -> MilvusVectorStore:
    """Set the store's dense search parameters from its collection's index and size, read once at opening.

    A store that grows past ``exact_search_max_rows`` in a long-lived process keeps searching exactly until
    it is opened again.

    Args:
        store: The opened (loaded) store.
        settings: The search settings.
        rows: How many rows its collection holds.
    """
    index_type, params = _dense_index_of(store)
    store.search_config = dense_search_config(settings, index_type, params, rows)
    return store


def _dense_index_of(store: MilvusVectorStore) -> tuple[str | None, dict[str, Any]]:
    client, collection = store.client, store.collection_name
    for name in client.list_indexes(collection, field_name=store.embedding_field):
        described = client.describe_index(collection, name)
        params = {k: described[k] for k in ("nlist", "M", "efConstruction") if k in described}
        return described.get("index_type"), params
    return None, {}
