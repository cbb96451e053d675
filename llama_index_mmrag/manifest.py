"""The store's manifest: which documents are in it, at which content hash, with which node ids.

Written atomically (temporary file + rename), and only after a document's nodes are in Milvus and in the
graph, so a document is either recorded complete or not recorded at all.

Example:
    >>> m = Manifest(Path("/tmp/mmrag-doctest-manifest.json"))
    >>> m.record(DocRecord(doc="a.txt", doc_id="h1", parser="mmrag", node_ids=["chunk-1"], modalities={"text": 1}))
    >>> m.get("a.txt").doc_id
    'h1'
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, Field

MANIFEST_VERSION = 1


class DocRecord(BaseModel):
    """One ingested document.

    Args:
        doc: The document's file name.
        doc_id: Its content hash.
        parser: The parser that read it.
        node_ids: Ids of its nodes (shared by Milvus and the graph).
        modalities: Node count per modality.
        pages: Number of pages seen (highest page index + 1).
        source_path: Where the file was ingested from.
    """

    doc: str
    doc_id: str
    parser: str
    node_ids: list[str] = Field(default_factory=list)
    modalities: dict[str, int] = Field(default_factory=dict)
    pages: int = 0
    source_path: str | None = None


class Manifest:
    """The JSON manifest of a store (``<storage_dir>/manifest.json``).

    Args:
        path: The manifest file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._docs: dict[str, DocRecord] = self._load()

    def _load(self) -> dict[str, DocRecord]:
        if not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RuntimeError(
                f"the store manifest {self.path} is unreadable ({exc}); restore it from a backup or start a new store"
            ) from exc
        return {name: DocRecord.model_validate(rec) for name, rec in data.get("docs", {}).items()}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": MANIFEST_VERSION, "docs": {n: r.model_dump() for n, r in sorted(self._docs.items())}}
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def get(self, doc: str) -> DocRecord | None:
        """The record of a document by file name, if present."""
        return self._docs.get(doc)

    def docs(self) -> list[DocRecord]:
        """All records, by document name."""
        return [self._docs[name] for name in sorted(self._docs)]

    def record(self, record: DocRecord) -> None:
        """Add or replace a document's record and persist the manifest."""
        with self._lock:
            self._docs[record.doc] = record
            self._save()

    def remove(self, doc: str) -> DocRecord | None:
        """Forget a document and persist the manifest; returns the removed record."""
        with self._lock:
            removed = self._docs.pop(doc, None)
            if removed is not None:
                self._save()
            return removed
