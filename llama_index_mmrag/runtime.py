"""A private event loop in a daemon thread, so loop-bound engines work from sync and async callers alike.

LightRAG's storages bind locks and clients to the loop that initialised them; LlamaIndex users call
``retrieve`` from plain scripts, ``aretrieve`` from their own loop, and both from notebooks (where a loop
is already running). Running every engine coroutine on one private loop serves all three.

LightRAG also keeps process-wide shared state (locks bound to the first loop that used them), so every
engine in a process shares one loop: :func:`engine_loop`.

Example:
    >>> loop = BackgroundLoop()
    >>> async def answer() -> int:
    ...     return 42
    >>> loop.run(answer())
    42
    >>> loop.close()
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_CLOSE_HOOKS: list[Callable[[], Coroutine[Any, Any, None]]] = []


def on_loop_close(hook: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``hook()`` on every :class:`BackgroundLoop` just before it closes, once per hook.

    A client that keeps one session per event loop (the DashScope SDK's aiohttp session) registers its close
    here, so a process that ends does not report the session as unclosed.

    Args:
        hook: A coroutine function run on the closing loop; its errors are ignored.

    Example:
        >>> closed = []
        >>> async def close_session() -> None:
        ...     closed.append("session")
        >>> on_loop_close(close_session)
        >>> BackgroundLoop().close()
        >>> closed
        ['session']
        >>> _CLOSE_HOOKS.remove(close_session)
    """
    if hook not in _CLOSE_HOOKS:
        _CLOSE_HOOKS.append(hook)


async def _run_close_hooks() -> None:
    await asyncio.gather(*(hook() for hook in list(_CLOSE_HOOKS)), return_exceptions=True)


async def _cancel_pending() -> None:
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)


class BackgroundLoop:
    """An event loop running in its own daemon thread.

    Example:
        >>> BackgroundLoop().run(asyncio.sleep(0, result="done"))
        'done'
    """

    def __init__(self, name: str = "mmrag-engine") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The private loop."""
        return self._loop

    def _in_own_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the private loop and wait for its result (from any thread, any loop).

        Args:
            coro: The coroutine to run.
        """
        if self._in_own_thread():
            coro.close()
            raise RuntimeError("BackgroundLoop.run was called from the engine loop itself; await the coroutine instead")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine that runs on the private loop, without blocking the caller's loop.

        Args:
            coro: The coroutine to run.
        """
        if self._in_own_thread():
            return await coro
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def close(self) -> None:
        """Run the close hooks (:func:`on_loop_close`), cancel what is still pending on the loop (engines leave worker
        tasks behind), stop it, join its thread."""
        if self._loop.is_closed():
            return
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(_run_close_hooks(), self._loop).result(timeout=30)
            asyncio.run_coroutine_threadsafe(_cancel_pending(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


_ENGINE_LOOP: BackgroundLoop | None = None
_ENGINE_LOOP_LOCK = threading.Lock()


def engine_loop() -> BackgroundLoop:
    """The process-wide loop every LightRAG instance of this package runs on (closed at interpreter exit)."""
    global _ENGINE_LOOP
    with _ENGINE_LOOP_LOCK:
        if _ENGINE_LOOP is None or _ENGINE_LOOP.loop.is_closed():
            _ENGINE_LOOP = BackgroundLoop()
            atexit.register(_ENGINE_LOOP.close)
        return _ENGINE_LOOP
