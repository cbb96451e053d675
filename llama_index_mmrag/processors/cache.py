"""A small persistent cache of modal descriptions, keyed by content hash.

An image, table or equation is described once per model: the key is a SHA-256 over the item's content
(image bytes, table body, LaTeX), its modality, the model that describes it and a schema version. With a
``cache_dir`` the entries live in one SQLite file there (safe across threads and processes, survives
restarts); without one they live in memory for the life of the cache object.

Example:
    >>> cache = DescriptionCache()                       # in memory
    >>> key = cache_key("table", b"| a | b |", model="qwen-max")
    >>> cache.get(key) is None
    True
    >>> cache.put(key, {"description": "A table.", "entity_info": {}})
    >>> cache.get(key)["description"]
    'A table.'
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

CACHE_FILE_NAME = "modal_descriptions.sqlite3"
CACHE_SCHEMA_VERSION = 1
"""Bump when the cached value's shape or the prompts change, so old entries are not reused."""


def content_digest(payload: bytes | str) -> str:
    """SHA-256 hex digest of an item's content.

    Args:
        payload: Image bytes, or a table body / LaTeX string (hashed as UTF-8).
    """
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    return hashlib.sha256(data).hexdigest()


def cache_key(modality: str, payload: bytes | str, model: str) -> str:
    """The cache key of one item described by one model.

    Args:
        modality: ``image``, ``table``, ``equation`` (or ``ocr`` for OCR text).
        payload: The item's content: image bytes, table body or LaTeX.
        model: Who describes it, e.g. ``"DashScopeMultiModalLLM:qwen-vl-max"`` or ``"rapidocr"``.
    """
    head = f"v{CACHE_SCHEMA_VERSION}|{modality}|{model}|".encode()
    return hashlib.sha256(head + content_digest(payload).encode("ascii")).hexdigest()


class DescriptionCache:
    """Description cache: SQLite in ``cache_dir`` when given, a dict in memory otherwise.

    Values are JSON-serialisable dicts. Reads and writes are short, synchronous and thread-safe.

    Args:
        cache_dir: Folder for ``modal_descriptions.sqlite3`` (created if missing); ``None`` keeps the
            cache in memory.

    Example:
        >>> cache = DescriptionCache("./mmrag_storage/cache")
        >>> key = cache_key("table", "| Index | Recall |", "qwen-max")
        >>> cache.put(key, {"description": "A table of recall by index."})
        >>> cache.get(key)["description"], len(cache)
        ('A table of recall by index.', 1)
        >>> cache.close()
    """

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._memory: dict[str, dict[str, Any]] = {}
        self.path: Path | None = None
        self._conn: sqlite3.Connection | None = None
        if cache_dir is not None:
            folder = Path(cache_dir).expanduser()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                self.path = folder / CACHE_FILE_NAME
                self._conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False, isolation_level=None)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute(
                    "CREATE TABLE IF NOT EXISTS descriptions (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)"
                )
            except (OSError, sqlite3.Error) as exc:
                raise RuntimeError(
                    f"Cannot open the description cache in {folder}: {exc}. Give cache_dir a writable folder, "
                    "or None to cache in memory."
                ) from exc

    @property
    def persistent(self) -> bool:
        """Whether entries survive this object (a SQLite file backs them)."""
        return self._conn is not None

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached value for ``key``, or ``None``.

        Args:
            key: A key from :func:`cache_key`.
        """
        with self._lock:
            self._check_open()
            if self._conn is None:
                value = self._memory.get(key)
                return dict(value) if value is not None else None
            row = self._conn.execute("SELECT value FROM descriptions WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        """Store ``value`` under ``key`` (replacing what was there).

        Args:
            key: A key from :func:`cache_key`.
            value: A JSON-serialisable dict.
        """
        encoded = json.dumps(value, ensure_ascii=False, sort_keys=True)
        with self._lock:
            self._check_open()
            if self._conn is None:
                self._memory[key] = json.loads(encoded)
                return
            self._conn.execute(
                "INSERT OR REPLACE INTO descriptions (key, value, created) VALUES (?, ?, ?)",
                (key, encoded, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            self._check_open()
            if self._conn is None:
                return len(self._memory)
            return int(self._conn.execute("SELECT COUNT(*) FROM descriptions").fetchone()[0])

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"The description cache {self.path} was closed: create a new DescriptionCache.")

    def close(self) -> None:
        """Close the SQLite file (a no-op in memory); the cache is unusable afterwards."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
                self._closed = True
