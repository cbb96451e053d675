"""How every Milvus client of the package connects: URI and token, and for Milvus Lite no idle keepalive pings.

pymilvus opens its gRPC channels with a keepalive ping every 10 s, even between calls. Milvus Lite's local server
answers a client that pings more often than it allows with ``GOAWAY too_many_pings``: gRPC prints an error line
for it and drops the channel, and a call made at that moment can fail to connect. A Lite server is a process on
the same machine, so there is no network path to keep alive: its clients send no keepalive pings. Servers,
clusters and Zilliz Cloud (``MILVUS_URI``) keep pymilvus's own settings.

Example:
    >>> milvus_connection("mmrag_storage/milvus.db")["grpc_options"]["grpc.keepalive_permit_without_calls"]
    0
    >>> milvus_connection("http://milvus:19530", token="root:Milvus")
    {'uri': 'http://milvus:19530', 'token': 'root:Milvus'}
"""

from __future__ import annotations

from typing import Any

__all__ = ["LITE_GRPC_OPTIONS", "is_lite_uri", "milvus_connection"]

LITE_GRPC_OPTIONS: dict[str, int] = {
    "grpc.keepalive_time_ms": 2**31 - 1,  # gRPC's own client default: no keepalive pings
    "grpc.keepalive_permit_without_calls": 0,
}


def is_lite_uri(uri: str) -> bool:
    """Whether pymilvus runs Milvus Lite for this URI (a local file path, not a server address).

    Args:
        uri: What the package hands pymilvus as ``uri``.
    """
    return "://" not in uri and not uri.startswith("unix:")


def milvus_connection(uri: str, token: str | None = None) -> dict[str, Any]:
    """Keyword arguments for ``MilvusClient`` / ``MilvusVectorStore``: the URI, the token if any, and for
    Milvus Lite the gRPC options above.

    Args:
        uri: A Milvus server address, or the Milvus Lite database path.
        token: The server's token (``user:password`` or an API key).

    Raises:
        LiteServerError: If a Lite path's local server cannot be started.
    """
    connection: dict[str, Any] = {"uri": uri}
    if token:
        connection["token"] = token
    if is_lite_uri(uri):
        from llama_index_mmrag.stores.lite_server import anonymous_uri, serving_enabled

        if serving_enabled():
            connection["uri"] = anonymous_uri(uri)
        connection["grpc_options"] = dict(LITE_GRPC_OPTIONS)
    return connection
