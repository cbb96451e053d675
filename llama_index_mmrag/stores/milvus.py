"""The one Milvus collection every node lives in: dense vectors plus Milvus's built-in BM25.

Milvus Lite in the storage dir by default; ``MILVUS_URI`` (+ ``MILVUS_TOKEN``) points the same code at a
Milvus server, a cluster or Zilliz Cloud.

Sparse vectors and the BM25 function arrived in Milvus 2.5. Against an older server (or a collection created
without them) the store opens **dense-only**, with a warning; ``store.enable_sparse`` tells which, and the
facade then retrieves in dense mode. Writes are upserts: a node id written twice is stored once.

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> store = build_vector_store(MMRAGSettings(storage_dir="./store"), dim=384)
    >>> store.enable_sparse
    True
    >>> server_supports_bm25("v2.3.5-lite"), server_supports_bm25("2.5.4")
    (False, True)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.connection import milvus_connection
from llama_index_mmrag.stores.creation import creating_collections
from llama_index_mmrag.stores.dense_index import dense_index_config, tune_dense_search
from llama_index_mmrag.stores.image_field import ImageField
from llama_index_mmrag.stores.lite_server import hold_lite_store, serving_enabled

if TYPE_CHECKING:
    from llama_index.vector_stores.milvus import MilvusVectorStore

# LlamaIndex's Milvus store is imported where a store is built: the row helpers below (counts, scans, deletes)
# need only a client and a collection name, so reading a store's counts does not import LlamaIndex.
logger = logging.getLogger(__name__)


class Rows(Protocol):
    """What the row helpers read and delete in: a ``MilvusClient`` and the nodes' collection (a LlamaIndex
    ``MilvusVectorStore`` is one, and so is :class:`CollectionRows`).

    Example:
        >>> count_rows(rag.vector_store) == sum(rag.stats()["nodes"].values())   # a MilvusVectorStore is Rows
        True
    """

    @property
    def client(self) -> Any:
        """A ``MilvusClient`` (only read, so a read-only property or a frozen field fits)."""

    @property
    def collection_name(self) -> str:
        """The nodes' collection."""


@dataclass(frozen=True)
class CollectionRows:
    """A bare client and collection name, for the paths that read or delete rows without LlamaIndex.

    Example:
        >>> rows = CollectionRows(rag.vector_store.client, rag.vector_store.collection_name)
        >>> count_rows(rows, 'doc == "milvus_architecture.png"')
        1
    """

    client: Any
    collection_name: str


@contextmanager
def bare_collection(settings: MMRAGSettings) -> Iterator[CollectionRows | None]:
    """The store's node collection over a bare ``MilvusClient`` (no LlamaIndex), ``None`` if it has none yet.

    A Milvus Lite store's local server is held meanwhile; the client is closed on leaving. The collection is
    not loaded: :func:`ensure_loaded` it before reading rows.

    Args:
        settings: Where the store is (Milvus Lite under ``storage_dir``, or a server).

    Example:
        >>> with bare_collection(rag.settings) as rows:
        ...     count_rows(ensure_loaded(rows)) == count_rows(rag.vector_store)
        True
    """
    from pymilvus import MilvusClient

    hold = hold_lite_store(settings)
    try:
        client = MilvusClient(**milvus_connection(settings.effective_milvus_uri, settings.milvus_token))
        try:
            has = client.has_collection(settings.milvus_collection)
            yield CollectionRows(client, settings.milvus_collection) if has else None
        finally:
            client.close()
    finally:
        if hold is not None:
            hold.release()


LoadableRows = TypeVar("LoadableRows", bound=Rows)

BM25_MIN_VERSION = (2, 5, 0)
"""The first Milvus release with sparse vectors and the built-in BM25 function."""
SPARSE_FIELD = "sparse_embedding"
"""Name of the BM25 sparse-vector field in the collection (the LlamaIndex store's default)."""


class _LiteUnimplementedRpcFilter(logging.Filter):
    """Milvus Lite's in-process server logs an error for RPCs it leaves out (``AllocTimestamp``, which
    pymilvus calls while waiting for an index and handles itself); drop that one message."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Method not implemented" not in record.getMessage() and "Method not implemented" not in str(record.exc_info)


class _LiteIteratorTimestampFilter(logging.Filter):
    """Milvus Lite (and servers before 2.4) return no MVCC timestamp for query iterators; pymilvus warns on every
    scan and then uses a client-side timestamp, which is right for a scan: drop that one warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "failed to get mvccTs" not in record.getMessage()


def _quiet(name: str, kind: type[logging.Filter]) -> None:
    log = logging.getLogger(name)
    if not any(isinstance(f, kind) for f in log.filters):
        log.addFilter(kind())


def _quiet_lite_server() -> None:
    _quiet("grpc._server", _LiteUnimplementedRpcFilter)


def quiet_scan_warnings() -> None:
    """Drop pymilvus's warning on every scan of a Milvus Lite collection (see ``_LiteIteratorTimestampFilter``);
    :func:`build_vector_store` does this, and so must a caller that scans with a ``MilvusClient`` of its own."""
    _quiet("pymilvus.orm.iterator", _LiteIteratorTimestampFilter)


def parse_version(version: str) -> tuple[int, int, int] | None:
    """``(major, minor, patch)`` of a Milvus version string such as ``"v2.3.5-lite"`` or ``"2.5.4"``.

    Args:
        version: What ``MilvusClient.get_server_version()`` returned.

    Example:
        >>> parse_version("v2.3.5-lite"), parse_version("nightly")
        ((2, 3, 5), None)
    """
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", version or "")
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def server_supports_bm25(version: str) -> bool:
    """Whether a Milvus server of this version has sparse vectors and the BM25 function (2.5 and later).

    An unparsable version (a custom build, Zilliz Cloud's own naming) is taken as recent: creating the
    collection then tells, and :func:`build_vector_store` falls back if it fails.

    Args:
        version: What ``MilvusClient.get_server_version()`` returned.
    """
    parsed = parse_version(version)
    return parsed is None or parsed >= BM25_MIN_VERSION


def _server_facts(settings: MMRAGSettings) -> tuple[str | None, list[str] | None]:
    """The server's version and the fields of our collection (``None`` when it does not exist yet)."""
    from pymilvus import MilvusClient

    client = MilvusClient(**milvus_connection(settings.effective_milvus_uri, settings.milvus_token))
    try:
        try:
            version: str | None = str(client.get_server_version())
        except Exception:  # noqa: BLE001  (a proxy or cloud endpoint that hides its version: decided at creation)
            logger.debug("Milvus server version unavailable", exc_info=True)
            version = None
        fields = None
        if client.has_collection(settings.milvus_collection):
            info = client.describe_collection(settings.milvus_collection)
            fields = [str(f.get("name")) for f in info.get("fields", [])]
        return version, fields
    finally:
        client.close()


def _open_store(settings: MMRAGSettings, dim: int, hybrid: bool, image_field: ImageField | None) -> MilvusVectorStore:
    from llama_index.vector_stores.milvus.utils import BM25BuiltInFunction

    from llama_index_mmrag.stores.node_store import MMRAGMilvusVectorStore

    extra: dict[str, Any] = (
        {
            "enable_sparse": True,
            "sparse_embedding_function": BM25BuiltInFunction(),
            "hybrid_ranker": "RRFRanker",
            "hybrid_ranker_params": {"k": 60},
        }
        if hybrid
        else {"enable_sparse": False}
    )
    return MMRAGMilvusVectorStore(
        settings.storage_dir,  # nodes name their files relative to it: the store folder can be moved
        image_field,
        **milvus_connection(settings.effective_milvus_uri, settings.milvus_token),
        collection_name=settings.milvus_collection,
        dim=dim,
        similarity_metric="COSINE",
        index_config=dense_index_config(settings),
        overwrite=False,
        use_async=False,
        upsert_mode=True,
        **extra,
    )


def _drop_if_empty(settings: MMRAGSettings) -> None:
    """Drop a collection a failed hybrid creation left behind (never one holding data)."""
    from pymilvus import MilvusClient

    client = MilvusClient(**milvus_connection(settings.effective_milvus_uri, settings.milvus_token))
    try:
        if client.has_collection(settings.milvus_collection):
            stats = client.get_collection_stats(settings.milvus_collection)
            if int(stats.get("row_count", 0)) == 0:
                client.drop_collection(settings.milvus_collection)
    finally:
        client.close()


def build_vector_store(settings: MMRAGSettings, dim: int, image_field: ImageField | None = None) -> MilvusVectorStore:
    """Open (or create) the hybrid dense + BM25 collection described by the settings.

    Milvus Lite and servers from 2.5 on get the hybrid collection. A server older than 2.5, or an existing
    collection without the BM25 field, gets a dense-only store and a logged warning; so does a server whose
    version is hidden but which rejects the sparse schema (the half-created collection is dropped first).

    Args:
        settings: Where Milvus is and which collection to use.
        dim: Dimension of the dense embedding.
        image_field: The image vector field a new collection gets, and an existing one must have (``None``: none).

    Raises:
        RuntimeError: If Milvus cannot be reached or opened, with the URI and what to check.

    Example:
        >>> store = build_vector_store(MMRAGSettings(milvus_uri="http://localhost:19530"), dim=384)  # doctest: +SKIP
        >>> "hybrid" if store.enable_sparse else "dense"                                              # doctest: +SKIP
        'dense'
    """
    where = settings.milvus_uri or f"Milvus Lite at {settings.milvus_lite_path}"
    if settings.milvus_uri:
        hint = "check MILVUS_URI / MILVUS_TOKEN and that the server is up"
    elif serving_enabled():
        hint = (
            "its local Milvus Lite server did not answer; see <store>/milvus.db.serve.log, or set "
            "MMRAG_LITE_SERVER=off to open the store in this process (one process at a time)"
        )
    else:
        hint = (
            "with MMRAG_LITE_SERVER=off only one process may open a Milvus Lite store, and another process (or "
            "the store's local server, which stops a minute after its last user) has it open; close it, or unset "
            "MMRAG_LITE_SERVER so that processes share the store"
        )
    hybrid = True
    _quiet("pymilvus.orm.iterator", _LiteIteratorTimestampFilter)
    if settings.milvus_uri is None:
        settings.storage_dir.mkdir(parents=True, exist_ok=True)
        _quiet_lite_server()
    else:
        try:
            version, fields = _server_facts(settings)
        except Exception as exc:
            raise RuntimeError(f"cannot reach Milvus at {settings.milvus_uri}: {exc}; {hint}") from exc
        if fields is not None and SPARSE_FIELD not in fields:
            hybrid = False
            logger.warning(
                "Milvus collection %r at %s has no BM25 field (created dense-only): dense retrieval only",
                settings.milvus_collection, settings.milvus_uri,
            )
        elif version is not None and not server_supports_bm25(version):
            hybrid = False
            logger.warning(
                "Milvus server %s is version %s; sparse vectors and BM25 need 2.5 or later: dense retrieval only",
                settings.milvus_uri, version,
            )
    try:
        with creating_collections(settings.storage_dir):
            return _opened(settings, dim, hybrid, image_field)
    except Exception as exc:
        if hybrid and settings.milvus_uri is not None:
            logger.warning(
                "Milvus at %s rejected the hybrid dense + BM25 collection (%s): dense retrieval only",
                settings.milvus_uri, " ".join(str(exc).split())[:300],
            )
            try:
                _drop_if_empty(settings)
                with creating_collections(settings.storage_dir):
                    return _opened(settings, dim, False, image_field)
            except Exception as retry_exc:
                exc = retry_exc
        raise RuntimeError(f"cannot open Milvus collection {settings.milvus_collection!r} ({where}): {exc}; {hint}") from exc


def _opened(settings: MMRAGSettings, dim: int, hybrid: bool, image_field: ImageField | None) -> MilvusVectorStore:
    store = ensure_loaded(_open_store(settings, dim, hybrid, image_field))
    return tune_dense_search(store, settings, rows=count_rows(store))


def ensure_loaded(store: LoadableRows) -> LoadableRows:
    """Load the store's collection into memory if it is not (a reopened Milvus Lite store starts unloaded,
    and queries, counts and scans refuse a collection that is not loaded).

    Args:
        store: The store.
    """
    from pymilvus.client.types import LoadState

    state = store.client.get_load_state(store.collection_name).get("state")
    if state != LoadState.Loaded:
        store.client.load_collection(store.collection_name)
    return store


def flush_collections(client: Any, names: list[str]) -> None:
    """Seal the rows written to these collections so Milvus indexes them (skipping any that do not exist).

    Until then Milvus searches the unsealed rows by brute force: on the 882-page development set a query
    right after ingestion took about 10x longer than on the same store reopened.

    Args:
        client: A ``MilvusClient``.
        names: Collection names.
    """
    for name in names:
        if client.has_collection(name):
            client.flush(name)


def count_rows(store: Rows, expr: str = "") -> int:
    """Count the rows of the store's collection that match a filter expression (strongly consistent).

    Args:
        store: The store.
        expr: A Milvus boolean expression (already escaped), or ``""`` for all rows.
    """
    rows = store.client.query(
        collection_name=store.collection_name, filter=expr, output_fields=["count(*)"], consistency_level="Strong"
    )
    return int(rows[0]["count(*)"]) if rows else 0


def iterate_collection(
    client: Any, collection_name: str, fields: list[str], expr: str = "", batch_size: int = 1000
) -> Iterator[dict[str, Any]]:
    """Every row of a Milvus collection matching ``expr``, with ``fields`` only, fetched in batches.

    Args:
        client: A ``MilvusClient``.
        collection_name: The collection.
        fields: Output fields.
        expr: A Milvus boolean expression (already escaped), or ``""`` for all rows.
        batch_size: Rows fetched per round trip.
    """
    iterator = client.query_iterator(
        collection_name=collection_name, batch_size=batch_size, filter=expr, output_fields=fields
    )
    try:
        while True:
            rows = iterator.next()
            if not rows:
                return
            yield from rows
    finally:
        iterator.close()


def scan_rows(store: Rows, fields: list[str], expr: str = "", batch_size: int = 1000) -> Iterator[dict[str, Any]]:
    """Every row of the store's collection matching ``expr``, with ``fields`` only (no vectors).

    Args:
        store: The store.
        fields: Output fields (``id``, or metadata keys such as ``doc`` and ``modality``).
        expr: A Milvus boolean expression (already escaped), or ``""`` for all rows.
        batch_size: Rows fetched per round trip.
    """
    return iterate_collection(store.client, store.collection_name, fields, expr, batch_size)


def delete_ids(store: Rows, ids: list[str], batch_size: int = 1000) -> None:
    """Delete rows by primary key (missing ids are ignored).

    Args:
        store: The store.
        ids: Node ids.
        batch_size: Ids per delete call.
    """
    for start in range(0, len(ids), batch_size):
        store.client.delete(collection_name=store.collection_name, ids=ids[start : start + batch_size])
