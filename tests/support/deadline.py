"""A time limit for a test or a fixture: a hang fails with ``TimeoutError`` instead of stalling the suite.

Example:
    >>> with deadline(5):
    ...     total = sum(range(1000))
    >>> total
    499500
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise ``TimeoutError`` in the main thread once ``seconds`` have passed (no limit outside the main thread).

    Args:
        seconds: The limit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s: it hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    remaining, _ = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, remaining)  # an outer deadline keeps counting
        signal.signal(signal.SIGALRM, previous)
