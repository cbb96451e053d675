"""The local Milvus Lite server: one per store, shared by every process, gone when nobody uses the store.

The server is a separate process by design, so these tests start real ones; the clients are this process.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from pymilvus import MilvusClient

from llama_index_mmrag.stores.connection import milvus_connection
from llama_index_mmrag.stores.lite_server import SERVER_ENV, LiteStoreHold, served_uri

SERVER_WAIT_S = 60.0  # generous: a busy machine slows the server's start and its idle checks


def _serve_file(db: Path) -> Path:
    return db.with_name(f"{db.name}.serve.json")


def _server_pid(db: Path) -> int:
    return int(json.loads(_serve_file(db).read_text())["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = SERVER_WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MMRAG_LITE_IDLE_S", "1")
    return tmp_path / "store" / "milvus.db"


def test_holds_in_one_process_share_one_server_that_stops_after_the_last_release(db: Path) -> None:
    first = LiteStoreHold(db)
    second = LiteStoreHold(db)
    assert first.uri == second.uri and first.uri.startswith("http://127.0.0.1:")
    pid = _server_pid(db)
    client = MilvusClient(uri=first.uri)
    assert client.list_collections() == []
    client.close()
    first.release()
    time.sleep(2.5)  # past the idle time: the second hold still keeps the server up
    assert _alive(pid) and _serve_file(db).exists()
    second.release()
    _wait_for(lambda: not _alive(pid), "the server stopped after its last user left")
    assert not _serve_file(db).exists()


def test_a_killed_server_is_replaced_and_the_data_is_still_there(db: Path) -> None:
    with LiteStoreHold(db) as hold:
        client = MilvusClient(uri=hold.uri)
        client.create_collection("kept", dimension=4)
        client.insert("kept", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
        client.close()
        pid = _server_pid(db)
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _alive(pid), "the killed server is gone")
        uri = served_uri(db)  # the stale serve.json names a dead process: a new server starts
        assert _server_pid(db) != pid
        client = MilvusClient(uri=uri)
        client.load_collection("kept")  # a new server starts with collections released, as a new process does
        assert client.query("kept", filter="id >= 0", output_fields=["id"]) == [{"id": 1}]
        client.close()


def test_a_forked_child_does_not_keep_the_store_held_after_its_parent_lets_go(db: Path) -> None:
    hold = LiteStoreHold(db)
    pid = _server_pid(db)
    child = os.fork()
    if child == 0:  # a parser worker, say: it outlives its parent's hold
        time.sleep(30)
        os._exit(0)
    try:
        hold.release()
        _wait_for(lambda: not _alive(pid), "the server stopped although a forked child still runs")
        assert _alive(child)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_folder_removed_under_a_server_stops_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_LITE_IDLE_S", "600")
    db = tmp_path / "gone" / "milvus.db"
    hold = LiteStoreHold(db)
    pid = _server_pid(db)
    import shutil

    shutil.rmtree(db.parent)  # owned: this test's own store
    _wait_for(lambda: not _alive(pid), "the server of a removed store stopped")
    hold.release()


def test_lite_paths_connect_to_the_local_server_unless_serving_is_off(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = milvus_connection(str(db))
    assert served["uri"].startswith("http://127.0.0.1:") and "grpc_options" in served
    monkeypatch.setenv(SERVER_ENV, "off")
    assert milvus_connection(str(db))["uri"] == str(db)


def test_opening_in_process_while_the_server_has_the_store_says_why_and_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index_mmrag.settings import MMRAGSettings
    from llama_index_mmrag.stores.milvus import build_vector_store

    settings = MMRAGSettings(storage_dir=tmp_path / "store")
    with LiteStoreHold(settings.milvus_lite_path):
        monkeypatch.setenv(SERVER_ENV, "off")
        with pytest.raises(RuntimeError, match="unset MMRAG_LITE_SERVER so that processes share the store"):
            build_vector_store(settings, dim=4)


def test_a_store_that_fails_to_open_or_is_dropped_unclosed_is_let_go(db: Path) -> None:
    import gc

    from llama_index_mmrag import MultimodalRAG

    store = db.parent
    store.mkdir(parents=True)
    (store / "manifest.json").write_text("{ not json")
    with pytest.raises(Exception):
        MultimodalRAG(storage_dir=store)
    pid = _server_pid(db)
    _wait_for(lambda: not _alive(pid), "the server of a store that failed to open stopped")

    (store / "manifest.json").unlink()
    rag = MultimodalRAG(storage_dir=store)
    pid = _server_pid(db)
    del rag
    gc.collect()
    _wait_for(lambda: not _alive(pid), "the server of a store dropped without close() stopped")
