"""One Milvus Lite store shared by every process on the machine, through a small local server process.

Milvus Lite admits one process per database (it takes a ``flock`` on ``<db>/LOCK``) and serves that process
over gRPC on a loopback port. So the package never opens a Lite database in a user's process: the first process
that needs the store starts a detached server process for it (``python -m llama_index_mmrag.stores.lite_server
<db>``), and every process (an ingest, a query from another shell, a notebook, ``mmrag stats``) talks to that
server over ``127.0.0.1`` exactly as it would talk to a Milvus server given by ``MILVUS_URI``. Queries from other
processes keep working during an ingest, and two ingests take turns on the store's write lock.

Files beside the database (``<store>/milvus.db``):

* ``milvus.db.serve.json``: the server's pid and port, written atomically once it listens;
* ``milvus.db.clients.lock``: every process using the store holds a *shared* ``flock`` on it (the kernel drops
  it when the process dies); the server stops once it can take it *exclusively* and has been unused for
  ``MMRAG_LITE_IDLE_S`` seconds (60 by default), or when the store's folder is gone;
* ``milvus.db.serve.lock``: held while a server starts, so that concurrent first users start only one;
* ``milvus.db.serve.log``: the server's own log, quoted in the error when it cannot start.

``MMRAG_LITE_SERVER=off`` opens Milvus Lite in the calling process instead (one process per store, as plain
Milvus Lite does). The server listens on the loopback interface only, like Milvus Lite itself.

Example:
    >>> from llama_index_mmrag.stores.lite_server import LiteStoreHold
    >>> hold = LiteStoreHold("milvus.db")  # the store's Milvus Lite database, e.g. mmrag_storage/milvus.db
    >>> hold.uri
    'http://127.0.0.1:...'
    >>> hold.release()
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.errors import StoreError

if TYPE_CHECKING:
    from llama_index_mmrag.settings import MMRAGSettings

__all__ = [
    "IDLE_ENV",
    "SERVER_ENV",
    "LiteServerError",
    "LiteStoreHold",
    "hold_lite_store",
    "release_anonymous_holds",
    "serve",
    "served_uri",
    "serving_enabled",
]

logger = logging.getLogger(__name__)

SERVER_ENV = "MMRAG_LITE_SERVER"
"""``off`` opens Milvus Lite in the calling process; anything else (the default) serves it to all processes."""
IDLE_ENV = "MMRAG_LITE_IDLE_S"
"""Seconds a server stays up after its last user went away (default 60)."""
START_TIMEOUT_ENV = "MMRAG_LITE_START_TIMEOUT_S"
"""Seconds to wait for a server to start listening (default 120: a busy machine slows the imports down)."""

DEFAULT_IDLE_S = 60.0
DEFAULT_START_TIMEOUT_S = 120.0


class LiteServerError(StoreError, RuntimeError):
    """The local Milvus Lite server for a store could not be started or reached.

    Example:
        >>> Path("store").mkdir()
        >>> os.environ[START_TIMEOUT_ENV] = "0.001"           # a server that cannot start in time (a busy machine)
        >>> try:
        ...     served_uri(Path("store") / "milvus.db")
        ... except LiteServerError as exc:
        ...     print(exc)
        ... finally:
        ...     del os.environ[START_TIMEOUT_ENV]
        the local Milvus Lite server for .../store/milvus.db did not start listening in time; see .../store/milvus.db.serve.log, or raise MMRAG_LITE_START_TIMEOUT_S
    """


def serving_enabled() -> bool:
    """Whether Lite stores are served by a local server process (``MMRAG_LITE_SERVER`` is not ``off``; the
    holds need ``flock``, so never on Windows)."""
    if sys.platform == "win32":
        return False
    return os.environ.get(SERVER_ENV, "").strip().lower() not in {"off", "0", "false", "no"}


def _sidecar(db: str, suffix: str) -> Path:
    path = Path(db)
    return path.with_name(f"{path.name}.{suffix}")


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        logger.warning("%s=%r is not a number of seconds; using %s", name, os.environ.get(name), default)
        return default


# --------------------------------------------------------------------------------------------- client side
class _Holds:
    """This process's shared locks on stores' ``clients.lock``, counted per database path."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.fds: dict[str, int] = {}
        self.counts: dict[str, int] = {}
        self.anonymous: dict[str, int] = {}
        self.uris: dict[str, str] = {}

    def forget_in_child(self) -> None:
        """A forked child shares its parent's lock descriptions: close its copies (never unlock), hold nothing."""
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.lock = threading.RLock()
        self.fds.clear()
        self.counts.clear()
        self.anonymous.clear()
        self.uris.clear()


_HOLDS = _Holds()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_HOLDS.forget_in_child)

_STARTED: list[subprocess.Popen[bytes]] = []  # servers this process started: polled so that none stays a zombie


def _flock(fd: int, operation: int) -> None:
    import fcntl

    fcntl.flock(fd, operation)


def _take(db: str) -> None:
    """Count one more use of ``db`` by this process; the first one takes the shared clients lock."""
    import fcntl

    with _HOLDS.lock:
        if db not in _HOLDS.fds:
            path = _sidecar(db, "clients.lock")
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
            _flock(fd, fcntl.LOCK_SH)  # blocks only while a server is stopping (it holds LOCK_EX then)
            _HOLDS.fds[db] = fd
        _HOLDS.counts[db] = _HOLDS.counts.get(db, 0) + 1


def _drop(db: str) -> None:
    """Count one use less; the last one releases the shared clients lock (the server may then stop)."""
    with _HOLDS.lock:
        count = _HOLDS.counts.get(db, 0) - 1
        if count > 0:
            _HOLDS.counts[db] = count
            return
        _HOLDS.counts.pop(db, None)
        _HOLDS.uris.pop(db, None)
        fd = _HOLDS.fds.pop(db, None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor drops the flock


def _read_serve_file(db: str) -> dict[str, Any] | None:
    try:
        info = json.loads(_sidecar(db, "serve.json").read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and isinstance(info.get("port"), int) else None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie answers kill(0) but serves nothing
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _listening(port: int, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def _live_server(db: str) -> str | None:
    """The URI of the running server for ``db``, if there is one that listens."""
    info = _read_serve_file(db)
    if info is None or info.get("db") != db:
        return None
    if not _pid_alive(int(info.get("pid", -1))) or not _listening(info["port"]):
        return None
    return f"http://127.0.0.1:{info['port']}"


def _reap() -> None:
    for proc in list(_STARTED):
        if proc.poll() is not None:
            _STARTED.remove(proc)


def _log_tail(db: str, lines: int = 8) -> str:
    try:
        text = _sidecar(db, "serve.log").read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])


def _start_server(db: str) -> str:
    """Start a server for ``db`` (caller holds ``serve.lock``) and wait until it listens."""
    log_path = _sidecar(db, "serve.log")
    with open(log_path, "wb") as log:  # owned: the server's own log, beside the database
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_index_mmrag.stores.lite_server", db],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # not in the caller's process group: a Ctrl-C or kill of the caller spares it
            close_fds=True,
        )
    _STARTED.append(proc)
    deadline = time.monotonic() + _float_env(START_TIMEOUT_ENV, DEFAULT_START_TIMEOUT_S)
    while time.monotonic() < deadline:
        uri = _live_server(db)
        if uri is not None:
            return uri
        if proc.poll() is not None:
            tail = _log_tail(db)
            raise LiteServerError(
                f"the local Milvus Lite server for {db} exited at start (code {proc.returncode})"
                + (f": {tail}" if tail else "")
                + "; if another program opened this store with Milvus Lite directly (or with "
                f"{SERVER_ENV}=off), close it and try again"
            )
        time.sleep(0.05)
    proc.kill()
    raise LiteServerError(
        f"the local Milvus Lite server for {db} did not start listening in time; see {log_path}, or raise "
        f"{START_TIMEOUT_ENV}"
    )


def served_uri(db: str | Path) -> str:
    """The loopback URI of the server for a Milvus Lite database, starting one if none runs.

    The caller must hold the store (:class:`LiteStoreHold`, or the anonymous hold :func:`milvus_connection`
    takes): a server only stops when no process holds its store.

    Args:
        db: The Milvus Lite database path (``<store>/milvus.db``).

    Raises:
        LiteServerError: If no server could be started, with what its log said.
    """
    import fcntl

    db = os.path.abspath(db)
    with _HOLDS.lock:
        known = _HOLDS.uris.get(db)
    if known is not None and _live_server(db) == known:
        return known
    _reap()
    uri = _live_server(db)
    if uri is None:
        lock_path = _sidecar(db, "serve.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            _flock(fd, fcntl.LOCK_EX)
            uri = _live_server(db) or _start_server(db)
        finally:
            os.close(fd)
    with _HOLDS.lock:
        if db in _HOLDS.counts:
            _HOLDS.uris[db] = uri
    return uri


class LiteStoreHold:
    """This process's use of a Milvus Lite store: keeps its local server running until released.

    Args:
        db: The Milvus Lite database path (``<store>/milvus.db``).

    Example:
        >>> from pymilvus import MilvusClient
        >>> with LiteStoreHold("milvus.db") as hold:
        ...     MilvusClient(uri=hold.uri).list_collections()
        []
    """

    def __init__(self, db: str | Path) -> None:
        self.db = os.path.abspath(db)
        _take(self.db)
        self._held = True
        try:
            self.uri = served_uri(self.db)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Stop holding the store (idempotent); its server stops once no process holds it."""
        if self._held:
            self._held = False
            _drop(self.db)

    def __enter__(self) -> LiteStoreHold:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold_lite_store(settings: MMRAGSettings) -> LiteStoreHold | None:
    """Hold the settings' Milvus Lite store (starting its server), or ``None`` for a Milvus server or serving off.

    Args:
        settings: Where the store is (``milvus_uri`` unset means Milvus Lite under ``storage_dir``).
    """
    if settings.milvus_uri is not None or not serving_enabled():
        return None
    settings.storage_dir.mkdir(parents=True, exist_ok=True)
    return LiteStoreHold(settings.milvus_lite_path)


def anonymous_uri(db: str | Path) -> str:
    """The server's URI for a caller that opens a client without a :class:`LiteStoreHold` of its own.

    Such a use holds the store until :func:`release_anonymous_holds` (or the process's end).

    Args:
        db: The Milvus Lite database path.
    """
    db = os.path.abspath(db)
    with _HOLDS.lock:
        if db not in _HOLDS.counts:
            _take(db)
            _HOLDS.anonymous[db] = _HOLDS.anonymous.get(db, 0) + 1
    try:
        return served_uri(db)
    except BaseException:
        with _HOLDS.lock:
            if _HOLDS.anonymous.pop(db, 0):
                _drop(db)
        raise


def release_anonymous_holds() -> None:
    """Release the holds taken for clients opened without a :class:`LiteStoreHold` (idle servers may stop)."""
    with _HOLDS.lock:
        anonymous = dict(_HOLDS.anonymous)
        _HOLDS.anonymous.clear()
    for db, count in anonymous.items():
        for _ in range(count):
            _drop(db)


# --------------------------------------------------------------------------------------------- server side
def _write_serve_file(db: str, port: int) -> None:
    path = _sidecar(db, "serve.json")
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"db": db, "pid": os.getpid(), "port": port, "started_at": time.time()}))
    os.replace(tmp, path)


def _remove_serve_file(db: str) -> None:
    info = _read_serve_file(db)
    if info is not None and info.get("pid") == os.getpid():
        _sidecar(db, "serve.json").unlink(missing_ok=True)  # owned: our own serve.json


def _open_lite(db: str, attempts: int = 100) -> Any:
    """Open the database; a server that is just stopping may hold its lock for a moment longer."""
    from milvus_lite.exceptions import DataDirLockedError

    for attempt in range(attempts):
        try:
            from milvus_lite.adapter.grpc.server import start_server_in_thread

            return start_server_in_thread(data_dir=db, host="127.0.0.1", port=0)
        except DataDirLockedError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def serve(db: str, idle_s: float | None = None, poll_s: float = 0.5) -> None:
    """Run the server for one database until it is unused for ``idle_s`` seconds (the module's entry point).

    Args:
        db: The Milvus Lite database path.
        idle_s: Seconds to stay up once no process holds the store (``MMRAG_LITE_IDLE_S``, default 60).
        poll_s: Seconds between checks for users.
    """
    import fcntl

    db = os.path.abspath(db)
    idle_s = _float_env(IDLE_ENV, DEFAULT_IDLE_S) if idle_s is None else idle_s
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # pymilvus probes optional RPCs (AllocTimestamp, ...) that Milvus Lite does not implement: expected, not news
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    server, lite, port = _open_lite(db)
    _write_serve_file(db, port)
    clients = os.open(_sidecar(db, "clients.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    unused_since: float | None = None
    try:
        while not stop.wait(poll_s):
            if not Path(db).parent.is_dir():
                logger.warning("the store folder of %s is gone; stopping", db)
                break
            try:
                fcntl.flock(clients, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                unused_since = None  # some process holds the store
                continue
            now = time.monotonic()
            unused_since = unused_since or now
            if now - unused_since >= idle_s:
                break  # stop while holding LOCK_EX: a newcomer waits, then finds no serve.json and starts anew
            fcntl.flock(clients, fcntl.LOCK_UN)
    finally:
        _remove_serve_file(db)
        server.stop(grace=2).wait()
        try:
            lite.close()
        except Exception:  # noqa: BLE001  (a folder removed under us: nothing left to flush)
            logger.debug("closing Milvus Lite failed", exc_info=True)
        os.close(clients)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m llama_index_mmrag.stores.lite_server <milvus.db path>")
    serve(sys.argv[1])
