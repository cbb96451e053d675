"""``mmrag watch``: real file events in a folder keep a store in sync while another process queries it, and
Ctrl-C stops the watcher cleanly. Also: telling a file still being written from a finished one.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.ingestion.watch import still_being_written
from tests.cli.conftest import invoke
from tests.support.processes import start_mmrag

GENEROUS_S = 300  # a wait for the watcher, not a timing claim (RESULTS.md has the measured figures)


def _until(what: str, check: Callable[[], bool], proc: object) -> None:
    deadline = time.monotonic() + GENEROUS_S
    while not check():
        assert getattr(proc, "poll")() is None, f"the watcher exited while waiting until {what}"
        assert time.monotonic() < deadline, f"not within {GENEROUS_S} s: {what}"
        time.sleep(0.2)


def _found(rag: MultimodalRAG, question: str) -> set[str]:
    return {hit.node.metadata["doc"] for hit in rag.as_retriever(top_k=3, graph_mode="off").retrieve(question)}


def test_watch_makes_new_files_searchable_survives_a_burst_follows_a_delete_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    store = folder / "store"  # kept inside the watched folder: its own files are neither documents nor events
    folder.mkdir()
    (folder / "seed.txt").write_text("The lighthouse keeper logs every passing ship.")
    watcher = start_mmrag("watch", str(folder), "--store", str(store), "--debounce-ms", "200", "--settle", "0.3")
    try:
        _until("the first sync recorded seed.txt", lambda: (store / "manifest.json").exists(), watcher)
        with MultimodalRAG(storage_dir=store) as rag:  # another process, querying while the watcher writes
            (folder / "fresh.txt").write_text("Narwhals tusks are teeth that sense the salinity of water.")
            _until("fresh.txt is searchable", lambda: "fresh.txt" in _found(rag, "narwhal tusk salinity"), watcher)

            for i in range(50):  # a burst, as a copy of many files makes it (one word each: little graph to build)
                (folder / f"burst{i:02d}.txt").write_text(f"zq{i:02d}x")
            _until("the whole burst is stored", lambda: len(rag.documents()) == 52, watcher)
            assert "burst17.txt" in _found(rag, "zq17x")

            (folder / "fresh.txt").unlink()
            _until("fresh.txt is gone", lambda: "fresh.txt" not in {r.doc for r in rag.documents()}, watcher)
            assert "fresh.txt" not in _found(rag, "narwhal tusk salinity")
    finally:
        watcher.send_signal(signal.SIGINT)
        _, stderr = watcher.communicate(timeout=GENEROUS_S)
    assert watcher.returncode == 0, stderr[-3000:]
    assert "stopped watching" in stderr and "Traceback" not in stderr


def test_a_file_still_being_written_is_told_from_a_finished_one(tmp_path: Path) -> None:
    growing, finished = tmp_path / "growing.txt", tmp_path / "finished.txt"
    finished.write_text("done")
    growing.write_text("")
    stop = threading.Event()

    def write_slowly() -> None:
        with growing.open("a") as handle:
            while not stop.is_set():
                handle.write("more text\n")
                handle.flush()
                time.sleep(0.02)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    try:
        busy = asyncio.run(still_being_written([growing, finished, tmp_path / "gone.txt"], settle_s=0.3))
    finally:
        stop.set()
        writer.join()
    assert busy == {growing}
    time.sleep(0.35)
    assert asyncio.run(still_being_written([growing, finished], settle_s=0.3)) == set()


@pytest.mark.parametrize("command", ["sync", "watch"])
def test_sync_and_watch_refuse_a_missing_folder_before_opening_a_store(command: str, tmp_path: Path) -> None:
    result = invoke(command, str(tmp_path / "unmounted"), "--store", str(tmp_path / "store"))

    assert result.exit_code == 2
    assert "unmounted does not exist" in result.stderr and "pass an existing folder" in result.stderr
    assert not (tmp_path / "store").exists()  # nothing was created, nothing deleted
