"""Openers of a new store at the same moment (threads here, processes in tests/lifecycle/test_processes.py) all
get it: one creates the collections, the others find them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.milvus import build_vector_store


def test_eight_openers_of_a_new_store_at_once_all_open_the_same_collection(tmp_path: Path) -> None:
    settings = MMRAGSettings(storage_dir=tmp_path / "store")
    with ThreadPoolExecutor(8) as pool:
        stores = list(pool.map(lambda _: build_vector_store(settings, dim=4), range(8)))
    assert {s.collection_name for s in stores} == {settings.milvus_collection}
    assert stores[0].client.list_collections() == [settings.milvus_collection]
    for store in stores:
        store.client.close()
