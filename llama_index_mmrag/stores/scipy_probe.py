"""Searching Milvus without importing SciPy: pymilvus asks, for every search, whether the query vectors are a
SciPy sparse matrix, and answers by importing ``scipy.sparse`` (about 0.35 CPU-seconds, once per process).

An object can only be a SciPy sparse matrix if ``scipy.sparse`` has been imported, so until it has, the
answer is "no" without importing it; once anything imports it, pymilvus's own check runs as before. Vectors
from this package are lists of floats, sparse queries are text (BM25): neither is ever a SciPy matrix.

Example:
    >>> skip_scipy_probe_before_import()
    >>> from pymilvus.client.utils import SciPyHelper
    >>> SciPyHelper.is_scipy_sparse([[0.1, 0.2]])
    False
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

__all__ = ["skip_scipy_probe_before_import"]

logger = logging.getLogger(__name__)

_LOCK = threading.Lock()
_MARK = "_mmrag_skips_probe_before_import"


def skip_scipy_probe_before_import() -> None:
    """Make pymilvus's sparse-matrix check answer "no" without importing SciPy while SciPy is not imported.

    Idempotent and thread-safe. If pymilvus no longer has the helper this wraps, nothing changes (the check
    then costs what it costs).
    """
    try:
        from pymilvus.client.utils import SciPyHelper
    except ImportError:  # pragma: no cover - another pymilvus layout
        return
    with _LOCK:
        if getattr(SciPyHelper, _MARK, False):
            return
        original = getattr(SciPyHelper, "is_scipy_sparse", None)
        if original is None:  # pragma: no cover - another pymilvus layout
            logger.debug("pymilvus has no SciPyHelper.is_scipy_sparse; its SciPy probe is left as it is")
            return

        def is_scipy_sparse(cls: type, data: Any) -> bool:
            if "scipy.sparse" not in sys.modules:  # no object can be a SciPy matrix before SciPy is loaded
                return False
            return original(data)

        SciPyHelper.is_scipy_sparse = classmethod(is_scipy_sparse)  # type: ignore[method-assign,assignment]
        setattr(SciPyHelper, _MARK, True)
