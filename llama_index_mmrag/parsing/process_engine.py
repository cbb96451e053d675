"""One onnxruntime-backed engine per process (the OCR engine, the layout detector), safe across ``fork``.

The engine is built on first use with the thread count last set, and used under one lock (its sessions are
not re-entrant across threads). A forked child neither uses nor destroys its parent's engine: the sessions'
thread pools did not survive the fork, so running them hangs, and so does destroying them (which joins those
threads). The child keeps the parent's engine referenced and builds its own on first use.

Example:
    >>> engine = ProcessEngine(lambda threads: f"an engine on {threads} thread(s)")
    >>> engine.set_threads(1)
    >>> with engine.lock:
    ...     engine.get()
    'an engine on 1 thread(s)'
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["ProcessEngine"]

EngineT = TypeVar("EngineT")


class ProcessEngine(Generic[EngineT]):
    """Builds one engine per process on first use; see the module docstring.

    Args:
        build: Makes the engine, given its thread count (``None``: onnxruntime's default).

    Example:
        >>> engine = ProcessEngine(lambda threads: object())
        >>> with engine.lock:
        ...     engine.get() is engine.get()
        True
    """

    def __init__(self, build: Callable[[int | None], EngineT]) -> None:
        self._build = build
        self._threads: int | None = None
        self._engine: EngineT | None = None
        self._inherited: list[Any] = []  # engines a forked child got from its parent: never used, never destroyed
        self.lock = threading.Lock()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset_in_child)

    def set_threads(self, threads: int | None) -> None:
        """Set how many threads the engine may use; it is rebuilt on next use.

        Args:
            threads: Threads per inference session, at least 1, or ``None``.

        Raises:
            ValueError: For a count below 1.
        """
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1 or None, got {threads}")
        with self.lock:
            self._threads, self._engine = threads, None

    def get(self) -> EngineT:
        """The process's engine, built on first use (call with :attr:`lock` held)."""
        if self._engine is None:
            self._engine = self._build(self._threads)
        return self._engine

    def _reset_in_child(self) -> None:
        self.lock = threading.Lock()
        if self._engine is not None:
            self._inherited.append(self._engine)
        self._engine = None
