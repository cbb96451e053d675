"""Every Milvus client the package opens on a Milvus Lite store sends no idle keepalive pings.

pymilvus pings every 10 s by default, and Milvus Lite's server answers an idle client with ``GOAWAY
too_many_pings``: an error line on stderr and a dropped channel. Server URIs keep pymilvus's own settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pymilvus
import pytest

from llama_index_mmrag.stores.connection import LITE_GRPC_OPTIONS, is_lite_uri, milvus_connection


@pytest.mark.parametrize(
    ("uri", "lite"),
    [
        ("/data/store/milvus.db", True),
        ("./milvus.db", True),
        ("milvus.db", True),
        ("http://localhost:19530", False),
        ("https://in01-xxx.zillizcloud.com", False),
        ("tcp://10.0.0.5:19530", False),
        ("unix:/tmp/milvus.sock", False),
    ],
)
def test_lite_paths_get_no_keepalive_and_servers_keep_pymilvus_defaults(
    uri: str, lite: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MMRAG_LITE_SERVER", "off")  # the connection to the path itself (the local server's own test: test_lite_server)
    assert is_lite_uri(uri) is lite
    connection = milvus_connection(uri, token="root:Milvus")
    assert connection["uri"] == uri and connection["token"] == "root:Milvus"
    assert ("grpc_options" in connection) is lite


def test_no_token_is_left_out() -> None:
    assert "token" not in milvus_connection("http://localhost:19530", None)
    assert "token" not in milvus_connection("http://localhost:19530", "")


def test_a_lite_store_and_its_graph_open_every_client_without_keepalive_pings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index_mmrag.rag import MultimodalRAG

    opened: list[dict[str, Any]] = []
    original = pymilvus.MilvusClient.__init__

    def recording_init(self: Any, *args: Any, **kwargs: Any) -> None:
        opened.append(kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(pymilvus.MilvusClient, "__init__", recording_init)
    rag = MultimodalRAG(storage_dir=tmp_path / "store")
    try:
        rag.stats()  # opens LightRAG and its three Milvus collections too
    finally:
        rag.close()
    assert len(opened) >= 2, opened
    for kwargs in opened:
        assert kwargs.get("grpc_options") == LITE_GRPC_OPTIONS, kwargs
