"""A short command-line process's start and end without the interpreter's bulk work on the frameworks' objects.

Importing LlamaIndex, LightRAG and pymilvus creates about 600,000 long-lived objects (modules, classes,
pydantic schemas). While they load, the cyclic garbage collector runs full collections over all of them
(about 0.5 CPU-seconds on this package's query path, for almost no garbage), and at exit the interpreter
tears every module down object by object (about 0.8 CPU-seconds). A command that runs for a few seconds
pays both, so ``mmrag`` pauses the collector while it loads the frameworks (then freezes what was loaded,
so later collections skip it) and ends its read-and-delete commands with :func:`exit_without_teardown`.
Neither is used by the library itself: a long-lived program keeps the interpreter's defaults.

Example:
    >>> with loading_without_gc():
    ...     import json
    >>> import gc
    >>> gc.isenabled()
    True
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

__all__ = ["exit_without_teardown", "loading_without_gc"]


@contextmanager
def loading_without_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while the block loads modules; then freeze what exists and resume.

    Frozen objects (``gc.freeze``) stay in memory and are never scanned again: right for modules and classes,
    which live as long as the process. Reference counting still frees everything else at once. Call it in a
    process that will not run long with what it loads here, or where what it loads lives as long as the
    process (a command-line process, not a library call). Nothing happens if the collector was already off.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def exit_without_teardown(code: int) -> NoReturn:
    """End the process with ``code`` as a normal exit would, minus tearing down every module's objects.

    What a normal exit does that matters is done first: the ``atexit`` handlers run (closing event loops,
    releasing a store's local Milvus Lite server, ``weakref.finalize`` callbacks, ``logging.shutdown``) and
    stdout and stderr are flushed. If a non-daemon thread is still running afterwards, the interpreter would
    wait for it, so the process exits normally instead.

    Args:
        code: The exit status.
    """
    atexit._run_exitfuncs()  # what Py_Finalize runs first; the handlers are cleared, so they never run twice
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written anyway
            pass
    main = threading.main_thread()
    if any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate()):
        sys.exit(code)
    os._exit(code)
