"""The PDF parser's worker processes: they die with their parent (with and without Linux's parent-death
signal), drop the file locks they inherit, survive the end of the thread that first used the pool, and the
parser never hands the pool more than a few pages per worker ahead of the page it reads."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag.parsing.pdf import parse as pdf, workers as pdf_workers
from tests.support.pdfs import make_text_pdf

ROOT = Path(__file__).resolve().parents[2]
GONE_S = 5.0  # a worker polls its parent twice a second; this is a ceiling, not a timing claim

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers and /proc are Linux's")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def _names(pids: list[int]) -> set[str]:
    return {Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids}


def test_without_the_death_signal_the_watcher_still_ends_workers_of_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys, time
        from llama_index_mmrag.parsing.pdf import parse as pdf, workers as pdf_workers
        pdf_workers.USE_PARENT_DEATH_SIGNAL = False
        pool = pdf._pool(2)
        print(" ".join(str(pid) for pid in pool._processes), flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        workers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        deadline = time.monotonic() + 60  # a worker names itself once its initializer runs
        while time.monotonic() < deadline and _names(workers) != {pdf_workers.WORKER_NAME}:
            time.sleep(0.05)
        assert _names(workers) == {pdf_workers.WORKER_NAME}
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + GONE_S
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert [pid for pid in workers if _alive(pid)] == []


def test_a_forked_worker_closes_the_flock_it_inherited_and_the_parent_keeps_it(tmp_path: Path) -> None:
    lock_path = tmp_path / "write.lock"
    held = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    plain = os.open(tmp_path / "plain.txt", os.O_RDWR | os.O_CREAT)
    try:
        with ProcessPoolExecutor(1) as pool:  # the default start method on Linux (fork) shares the lock
            closed, still_open = pool.submit(_close_locks_and_probe, held, plain).result()
        assert closed == [held] and still_open
        other = os.open(lock_path, os.O_RDWR)
        try:  # the parent still holds its lock
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(other)
    finally:
        os.close(held)
        os.close(plain)


def _close_locks_and_probe(held: int, plain: int) -> tuple[list[int], bool]:
    closed = [fd for fd in pdf_workers.close_inherited_locks() if fd in (held, plain)]
    try:
        os.fstat(plain)
        return closed, True
    except OSError:
        return closed, False


def test_workers_outlive_the_thread_that_started_the_pool(tmp_path: Path) -> None:
    document = tmp_path / "doc.pdf"
    texts = make_text_pdf(document, pages=6)
    pdf.shutdown_workers()
    first: list[Any] = []
    with pdf.keep_workers():
        starter = threading.Thread(target=lambda: first.append(pdf.parse_pdf(document, tmp_path / "a", workers=2)))
        starter.start()
        starter.join()
        while Path(f"/proc/self/task/{starter.native_id}").exists():  # the OS thread is gone, not just joined
            time.sleep(0.01)
        assert pdf._POOL is not None
        workers = set(pdf._POOL._processes)
        second = pdf.parse_pdf(document, tmp_path / "b", workers=2)
        assert set(pdf._POOL._processes) == workers and all(_alive(pid) for pid in workers)
    assert [item["text"] for item in second] == [item["text"] for item in first[0]] == texts


def test_workers_are_stopped_when_the_parse_is_done(tmp_path: Path) -> None:
    """Their memory is not held while the document is embedded and written."""
    document = tmp_path / "doc.pdf"
    texts = make_text_pdf(document, pages=6)
    seen: set[int] = set()
    real_pool = pdf._pool

    def watched_pool(workers: int) -> ProcessPoolExecutor:
        pool = real_pool(workers)
        seen.update(pool._processes)
        return pool

    pdf.shutdown_workers()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pdf, "_pool", watched_pool)
        items = pdf.parse_pdf(document, tmp_path / "out", workers=2)
    assert [item["text"] for item in items] == texts
    assert len(seen) == 2 and pdf._POOL is None
    assert [pid for pid in seen if _alive(pid)] == []


class _CountingPool(ProcessPoolExecutor):
    """A real pool that records how many pages were submitted and not yet read back by the parser."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted = 0
        self.read_back = 0
        self.most_in_flight = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        self.most_in_flight = max(self.most_in_flight, self.submitted - self.read_back)
        return super().submit(fn, *args, **kwargs)


def test_pages_in_flight_never_exceed_the_bound_per_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = tmp_path / "long.pdf"
    texts = make_text_pdf(document, pages=30)
    pdf.shutdown_workers()
    pool = _CountingPool(
        max_workers=2, mp_context=pdf._start_context(), initializer=pdf._init_worker, initargs=(1, os.getpid())
    )
    reported: list[int] = []

    def read_back(done: int, total: int) -> None:
        pool.read_back = done  # the parser reports each page it has read back, in order
        reported.append(done)

    monkeypatch.setattr(pdf, "_pool", lambda workers: pool)
    monkeypatch.setattr(pdf, "report_progress", read_back)
    try:
        items, stats = pdf.parse_pdf_with_stats(document, tmp_path / "out", workers=2)
    finally:
        pool.shutdown(wait=True)
    bound = pdf.PAGES_IN_FLIGHT_PER_WORKER * 2
    assert pool.submitted == 30 and reported[-1] == 30
    assert pool.most_in_flight <= bound
    assert stats.max_pages_in_flight <= bound
    assert [item["text"] for item in items] == texts
