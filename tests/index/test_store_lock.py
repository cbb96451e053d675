"""The store's writer lock: a second writer waits its turn and says so, and a forked child never keeps it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path

import pytest

from llama_index_mmrag.index.lock import StoreBusyError, StoreLock


def test_a_second_writer_waits_for_the_first_and_says_whom_it_waits_for(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = StoreLock(tmp_path / "write.lock"), StoreLock(tmp_path / "write.lock")
    assert first.try_acquire()

    async def wait_then_release() -> None:
        asyncio.get_running_loop().call_later(0.3, first.release)
        await second.acquire(timeout=60)

    with caplog.at_level(logging.WARNING, logger="llama_index_mmrag.index.lock"):
        asyncio.run(wait_then_release())
    assert second.held and not first.held
    waits = [r.getMessage() for r in caplog.records if "waiting for process" in r.getMessage()]
    assert len(waits) == 1 and str(os.getpid()) in waits[0] and str(tmp_path) in waits[0], waits
    second.release()


def test_a_writer_that_waits_too_long_gets_a_clear_error(tmp_path: Path) -> None:
    first, second = StoreLock(tmp_path / "write.lock"), StoreLock(tmp_path / "write.lock")
    assert first.try_acquire()
    with pytest.raises(StoreBusyError, match=f"held by process {os.getpid()}"):
        asyncio.run(second.acquire(timeout=0.2))
    first.release()


def test_a_forked_child_does_not_keep_the_lock_after_its_parent_dies(tmp_path: Path) -> None:
    path, worker_pid = tmp_path / "write.lock", tmp_path / "worker.pid"
    parent = os.fork()
    if parent == 0:  # a writer: takes the lock, forks a long-lived worker, then dies without releasing
        StoreLock(path).try_acquire()
        worker = os.fork()
        if worker == 0:
            time.sleep(60)
            os._exit(0)
        worker_pid.write_text(str(worker))
        os._exit(0)
    os.waitpid(parent, 0)
    worker = int(worker_pid.read_text())
    try:
        other = StoreLock(path)
        assert other.try_acquire(), "a forked worker kept its dead parent's write lock"
        other.release()
    finally:
        os.kill(worker, signal.SIGKILL)
