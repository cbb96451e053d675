"""``kill -9`` of ``mmrag ingest`` while its PDF parser workers run: no worker outlives it, and the same ingest
run again right away works.

Multi-page PDFs are parsed in forked worker processes; a worker left behind keeps the killed process's open
files (the store's locks among them). The process boundary is the point, so these tests run real ``mmrag``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.support.pdfs import make_text_pdf
from tests.support.processes import start_mmrag

WAIT_S = 600  # a ceiling for a busy CI machine, never a timing claim
PAGES = 240  # enough pages that the workers outlive a few seconds of this test being starved of CPU
GONE_S = 5.0  # how long a worker may take to notice its parent's death (it polls twice a second at worst)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return b""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        found.update(int(child) for child in _read(f"/proc/{pid}/task/{task}/children").split())
    return found


def _forked_children(pid: int) -> set[int]:
    """Children of ``pid`` that are forks of it (same command line), not programs it started."""
    cmdline = _read(f"/proc/{pid}/cmdline")
    return {child for child in _children(pid) if cmdline and _read(f"/proc/{child}/cmdline") == cmdline}


def _alive(pid: int, cmdline: bytes) -> bool:
    """Whether ``pid`` is still the process we saw (not a zombie, not a reused pid)."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return False
    state = stat.rsplit(b")", 1)[-1].split()[0]
    return state not in (b"Z", b"X") and _read(f"/proc/{pid}/cmdline") == cmdline


def _wait_for_workers(proc: subprocess.Popen[str]) -> set[int]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        workers = _forked_children(proc.pid)
        if len(workers) >= 2:
            return workers
        assert proc.poll() is None, f"the ingest ended (exit {proc.returncode}) before its parser workers started"
        time.sleep(0.05)
    raise AssertionError("no parser worker appeared")


def _finish(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout: {out[-2000:]}\nstderr: {err[-3000:]}"
    assert "Traceback" not in err, err[-3000:]
    return out


def test_kill_9_during_a_multi_page_pdf_parse_leaves_no_worker_and_the_rerun_works(tmp_path: Path) -> None:
    pdf = tmp_path / "tonnage.pdf"
    make_text_pdf(pdf, pages=PAGES)
    store = tmp_path / "store"
    ingest = start_mmrag("ingest", str(pdf), "--store", str(store))
    workers = _wait_for_workers(ingest)
    command = _read(f"/proc/{ingest.pid}/cmdline")
    os.kill(ingest.pid, signal.SIGKILL)
    assert ingest.wait(timeout=WAIT_S) == -signal.SIGKILL  # not communicate(): a surviving worker keeps the pipes open
    for pipe in (ingest.stdout, ingest.stderr):
        assert pipe is not None
        pipe.close()

    deadline = time.monotonic() + GONE_S
    while time.monotonic() < deadline and any(_alive(pid, command) for pid in workers):
        time.sleep(0.1)
    survivors = sorted(pid for pid in workers if _alive(pid, command))
    for pid in survivors:  # do not leave them behind when the test fails
        os.kill(pid, signal.SIGKILL)
    assert survivors == [], f"parser workers {survivors} outlived the killed ingest"

    _finish(start_mmrag("ingest", str(pdf), "--store", str(store)))
    stats = json.loads(_finish(start_mmrag("stats", "--store", str(store), "--json")))
    assert [(d["doc"], d["pages"]) for d in stats["documents"]] == [("tonnage.pdf", PAGES)], stats
