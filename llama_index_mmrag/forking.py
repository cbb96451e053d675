"""No fork while another thread of this process is inside a BLAS or torch computation.

OpenBLAS (under numpy) installs fork handlers that wait for its thread pool: a fork taken while another thread
is inside a numpy matrix product can hang both for good. That happened when a PDF's page workers were forked
while the packaged MiniLM embedded a small batch with numpy in another thread. The package forks only to start
PDF page workers; those forks and the embedding's forward passes hold :data:`FORK_GUARD`, so they never overlap.

Example:
    >>> with FORK_GUARD:
    ...     pass
"""

from __future__ import annotations

import threading

__all__ = ["FORK_GUARD"]

FORK_GUARD = threading.Lock()
"""Held around each fork of worker processes and each forward pass of the packaged embedding."""
