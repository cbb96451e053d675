"""Quiet by default: warnings and our own progress only; standard ``logging`` configuration shows more.

Two libraries under the package talk on their own:

* gRPC (under pymilvus) prints ``fork_posix`` and ``GOAWAY`` lines from C++ whenever a parser worker forks or
  a Milvus Lite connection closes. Its settings are environment variables read once, when ``grpc`` is
  imported, so :func:`quiet_grpc` runs first thing on ``import llama_index_mmrag`` and only fills in what the
  user has not set (``GRPC_VERBOSITY=ERROR``).
* LightRAG installs its own console handler on the ``"lightrag"`` logger, at ``INFO``, and stops propagation:
  about 40 lines per ingest and query. :func:`quiet_lightrag_logs` hands that logger back to standard logging:
  LightRAG's handler goes, records propagate, and its level follows the root logger's (``WARNING`` unless
  configured). ``logging.basicConfig(level=logging.INFO)`` or
  ``logging.getLogger("lightrag").setLevel(logging.INFO)`` brings LightRAG's lines back.
  RAG-Anything's modal processors log on that logger too: their ``Error generating <kind> description`` line is
  dropped (:class:`DescriptionErrorFilter`), because the describer reports the same failure itself, naming the file
  and the item, once.

Example:
    >>> import logging
    >>> quiet_lightrag_logs()                              # done when the package first opens a graph
    >>> lightrag_logger = logging.getLogger("lightrag")
    >>> lightrag_logger.propagate                          # its records go through standard logging
    True
    >>> level = lightrag_logger.level
    >>> lightrag_logger.setLevel(logging.INFO)             # LightRAG's INFO lines show again
    >>> lightrag_logger.setLevel(level)
"""

from __future__ import annotations

import logging
import os
import sys

#: gRPC's environment, filled in only where the user left it unset (read by grpc once, at its import).
GRPC_QUIET_ENV: dict[str, str] = {"GRPC_VERBOSITY": "ERROR"}
LIGHTRAG_LOGGER = "lightrag"
_LIGHTRAG_IMPORT_LEVEL = logging.INFO  # what LightRAG sets on its logger when it is imported

_user_lightrag_level: int | None = None
_lightrag_quieted = False


def quiet_grpc() -> None:
    """Set gRPC's log verbosity to errors only, unless the user set it (must run before ``grpc`` is imported).

    If ``grpc`` is already imported, its settings are fixed: nothing is changed.
    """
    if "grpc" in sys.modules:
        return
    for name, value in GRPC_QUIET_ENV.items():
        os.environ.setdefault(name, value)


class _UnconfiguredHandler(logging.Handler):
    """Prints a ``lightrag`` record only while nobody configured logging (the root logger has no handler).

    The record already passed the logger's level, so this is Python's last-resort handler without its fixed
    ``WARNING`` threshold: a user who raises only the ``lightrag`` level to ``INFO`` sees INFO lines, and
    once the root logger has a handler, propagation prints them there instead (never twice).
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if logging.getLogger().handlers:
            return
        stream = sys.stderr
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except (ValueError, OSError):  # stderr already closed at interpreter exit
            pass


class DescriptionErrorFilter(logging.Filter):
    """Drops RAG-Anything's ``Error generating <kind> description: ...`` records (the describer reports each itself).

    Example:
        >>> record = logging.makeLogRecord({"msg": "Error generating image description: HTTP 503", "levelno": 40})
        >>> DescriptionErrorFilter().filter(record), DescriptionErrorFilter().filter(logging.makeLogRecord({"msg": "x"}))
        (False, True)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for RAG-Anything's description-failure record."""
        message = str(record.msg)
        return not (message.startswith("Error generating ") and " description: " in message)


def remember_lightrag_level() -> None:
    """Note the ``lightrag`` logger's level as the user left it, before LightRAG's import resets it to INFO."""
    global _user_lightrag_level
    if "lightrag.utils" not in sys.modules and _user_lightrag_level is None:
        _user_lightrag_level = logging.getLogger(LIGHTRAG_LOGGER).level


def quiet_lightrag_logs() -> None:
    """Hand the ``lightrag`` logger back to standard logging (once per process; imports LightRAG's utils).

    LightRAG's own console handler is removed, its records propagate, and its level is the one the user
    set, else unset (it follows the root logger: ``WARNING`` by default). A level the user set after
    LightRAG's import (anything but the ``INFO`` LightRAG sets) is kept.
    """
    global _lightrag_quieted
    if _lightrag_quieted:
        return
    remember_lightrag_level()
    import lightrag.utils as lightrag_utils

    lightrag_logger = logging.getLogger(LIGHTRAG_LOGGER)
    for handler in list(lightrag_logger.handlers):
        if isinstance(handler, lightrag_utils.SafeStreamHandler):
            lightrag_logger.removeHandler(handler)
    if lightrag_logger.level == _LIGHTRAG_IMPORT_LEVEL:
        lightrag_logger.setLevel(_user_lightrag_level or logging.NOTSET)
    lightrag_logger.propagate = True
    if not any(isinstance(h, _UnconfiguredHandler) for h in lightrag_logger.handlers):
        lightrag_logger.addHandler(_UnconfiguredHandler())
    if not any(isinstance(f, DescriptionErrorFilter) for f in lightrag_logger.filters):
        lightrag_logger.addFilter(DescriptionErrorFilter())
    _lightrag_quieted = True


# On ``import llama_index_mmrag`` (its ``__init__`` imports this module before anything else).
quiet_grpc()
remember_lightrag_level()
