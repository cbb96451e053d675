"""Crash points: where a test makes a writing process kill itself, to prove a write is all or nothing.

Example:
    >>> crash_point("after_vectors")   # MMRAG_TEST_CRASH_AT unset: nothing happens
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_ENV = "MMRAG_TEST_CRASH_AT"
"""Test hook: ``<point>`` or ``<point>:<n>`` makes the process SIGKILL itself at the n-th pass of that point."""
CRASH_POINTS = (
    "after_journal",
    "mid_vectors",
    "after_vectors",
    "after_graph",
    "after_manifest",
    "delete_after_graph",
)
"""The points :func:`crash_point` is called at, in write order."""

_crash_counts: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here when :data:`CRASH_ENV` names this point (a test hook; a no-op
    otherwise).

    Args:
        name: One of :data:`CRASH_POINTS`.

    Example:
        >>> crash_point("after_vectors")   # MMRAG_TEST_CRASH_AT unset: nothing happens
    """
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, nth = spec.partition(":")
    if point != name:
        return
    _crash_counts[name] += 1
    if _crash_counts[name] >= int(nth or 1):
        os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
