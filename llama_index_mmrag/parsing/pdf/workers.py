"""The life of the PDF parser's worker processes: they die with the process that started them, never keep its
file locks, carry a recognisable name, and are forked from a thread that lives as long as that process.

A worker left behind by a parent killed with ``kill -9`` would keep the parent's open files, among them the
lock files of a store, and block the next ingest. So each worker:

- asks Linux to send it ``SIGKILL`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then checks that the
  parent is still the one that started it (it may have died between the fork and the ``prctl``);
- runs a daemon thread that exits the worker when its parent process changes (a fallback where ``prctl`` is
  not available, and a second guard where it is);
- closes every inherited descriptor that holds a ``flock`` or open-file-description lock (a forked child
  shares the parent's lock; closing its copy leaves the parent's lock alone and lets it go when the parent
  dies);
- names itself :data:`WORKER_NAME` (``ps``, ``top`` and ``/proc/<pid>/comm`` show it).

Linux sends the death signal when the *thread* that forked the worker ends, not only when the process does,
so workers are forked from :func:`run_in_spawner_thread`'s daemon thread, which never ends before the process.

Example:
    >>> from concurrent.futures import ProcessPoolExecutor
    >>> import multiprocessing, os
    >>> pool = ProcessPoolExecutor(1, multiprocessing.get_context("fork"), initializer=init_worker,
    ...                            initargs=(os.getpid(),))
    >>> run_in_spawner_thread(lambda: pool.submit(os.getpid).result()) != os.getpid()   # forked by that thread
    True
    >>> pool.shutdown()
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "PARENT_POLL_SECONDS",
    "USE_PARENT_DEATH_SIGNAL",
    "WORKER_NAME",
    "close_inherited_locks",
    "init_worker",
    "run_in_spawner_thread",
]

WORKER_NAME = "mmrag-pdfworker"
"""The process name of a parser worker (at most 15 bytes: Linux's limit for ``comm``)."""

PARENT_POLL_SECONDS = 0.5
"""How often a worker's watcher thread checks that its parent is still alive."""

USE_PARENT_DEATH_SIGNAL = True
"""Ask Linux for ``SIGKILL`` on the parent's death (read by each worker as it starts). Without it only the
watcher thread guards a worker, as on platforms without ``prctl``."""

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15
_LOCK_KINDS = ("FLOCK", "OFDLCK")

T = TypeVar("T")

_SPAWNER_LOCK = threading.Lock()
_SPAWNER: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] | None = None


def init_worker(parent_pid: int) -> None:
    """Bind a freshly forked worker's life to ``parent_pid`` and drop the locks it inherited.

    Args:
        parent_pid: The process that started the worker (``os.getpid()`` there, before the fork).
    """
    if USE_PARENT_DEATH_SIGNAL:
        _set_parent_death_signal()
    if os.getppid() != parent_pid:  # the parent died before (or while) the worker bound itself to it
        os._exit(1)
    _start_parent_watcher(parent_pid)
    close_inherited_locks()
    _set_process_name(WORKER_NAME)


def run_in_spawner_thread(function: Callable[[], T]) -> T:
    """Run ``function`` in this process's spawner thread (a daemon thread started on first use) and return
    its result; child processes started there get their parent-death signal only when the process ends.

    Args:
        function: What to run, typically the first ``submit`` to a fork-based process pool (which forks all
            of its workers).
    """
    global _SPAWNER
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(_SPAWNER,), name="mmrag-pdf-spawner", daemon=True).start()
        requests = _SPAWNER
    done: Future[T] = Future()
    requests.put((function, done))
    return done.result()


def close_inherited_locks() -> list[int]:
    """Close this process's descriptors that hold a ``flock`` or an open-file-description lock (Linux).

    In a forked child these are the parent's locks (the child shares them); closing the child's copies
    releases nothing the parent holds, and lets the locks go when the parent exits.

    Returns:
        The descriptors closed (empty where ``/proc`` is not available).
    """
    closed: list[int] = []
    fdinfo = Path("/proc/self/fdinfo")
    try:
        names = os.listdir(fdinfo)
    except OSError:
        return closed
    for name in names:
        try:
            info = (fdinfo / name).read_text()
        except OSError:
            continue  # closed meanwhile (the listing's own descriptor)
        if any(line.startswith("lock:") and any(kind in line for kind in _LOCK_KINDS) for line in info.splitlines()):
            try:
                os.close(int(name))
                closed.append(int(name))
            except OSError:
                pass
    return closed


def _serve(requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]]) -> None:
    while True:
        function, done = requests.get()
        try:
            done.set_result(function())
        except BaseException as exc:  # noqa: BLE001  (handed back to the caller, who re-raises it)
            done.set_exception(exc)


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


def _set_parent_death_signal() -> bool:
    libc = _libc()
    if libc is None:
        return False
    return libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0


def _set_process_name(name: str) -> None:
    libc = _libc()
    if libc is not None:
        libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)


def _start_parent_watcher(parent_pid: int) -> None:
    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(PARENT_POLL_SECONDS):
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="mmrag-parent-watcher", daemon=True).start()


def _reset_in_child() -> None:
    """A forked child has no spawner thread (threads do not survive a fork): it starts its own on use."""
    global _SPAWNER_LOCK, _SPAWNER
    _SPAWNER_LOCK, _SPAWNER = threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
