"""The store's manifest: which documents are in it, at which content hash, with which node ids.

Written atomically (temporary file, fsync, rename, fsync of the folder), and only after a document's nodes are
in Milvus and in the graph, so a document is either recorded complete or not recorded at all (the write-ahead
journal of :mod:`llama_index_mmrag.index` rolls back whatever a crash left between the two).

Beside it, the store's descriptor (``<storage_dir>/store.json``, :class:`StoreIdentity`) records what built the
store: its embedding model and dimension, and its graph workspace. It is written once, when the store is first
opened, and never by a document write.

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
from datetime import datetime, timezone
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from llama_index_mmrag.errors import StoreError

MANIFEST_VERSION = 1
_TMP_PREFIX = ".manifest-"
STORE_FILE = "store.json"
"""The store's descriptor, beside the manifest (see :class:`StoreIdentity`)."""


def write_atomic(path: Path, write: Callable[[IO[bytes]], None], tmp_prefix: str = ".tmp-") -> None:
    """Write a file so that a failure or a crash leaves the old file or the new one, never a torn one.

    Args:
        path: The file to (re)write.
        write: Writes the whole content to the binary handle it is given.
        tmp_prefix: Prefix of the temporary file (so leftovers of a crash can be recognised and removed).

    Raises:
        Exception: Whatever ``write`` or the file system raised; ``path`` is then unchanged.

    Example:
        >>> write_atomic(Path("/tmp/mmrag-doctest-atomic.txt"), lambda f: f.write(b"ok"))
        >>> Path("/tmp/mmrag-doctest-atomic.txt").read_bytes()
        b'ok'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=tmp_prefix, dir=path.parent)
    try:
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # owned: mkstemp made it just above
        raise
    fsync_dir(path.parent)


def _file_mode(path: Path) -> int:
    """The permissions a replacement of ``path`` gets: the file's own, else those a new file gets (umask)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would, for every thread); 022 if unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022


def write_json_atomic(path: Path, payload: Any, tmp_prefix: str = ".tmp-") -> None:
    """Write JSON so that a crash leaves either the old file or the new one, never a torn one.

    The data goes to a temporary file in the same folder, is flushed and fsynced, renamed over ``path``
    (atomic on POSIX and Windows), and the folder is fsynced so the rename itself survives a power loss.

    Args:
        path: The file to (re)write.
        payload: Anything ``json.dump`` accepts.
        tmp_prefix: Prefix of the temporary file (so leftovers of a crash can be recognised and removed).

    Example:
        >>> write_json_atomic(Path("/tmp/mmrag-doctest.json"), {"a": 1})
        >>> json.loads(Path("/tmp/mmrag-doctest.json").read_text())
        {'a': 1}
    """
    data = json.dumps(payload, ensure_ascii=False, indent=1).encode("utf-8")
    write_atomic(path, lambda handle: handle.write(data), tmp_prefix)


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows).

    Args:
        folder: The folder whose entries changed.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the rename is still atomic
    finally:
        os.close(fd)


def utc_now() -> str:
    """The current time as ISO 8601 in UTC, to the second (``2026-01-31T09:15:02+00:00``)."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


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
        ingested_at: When it was recorded (ISO 8601, UTC); ``None`` in manifests written before it was kept.

    Example:
        >>> record = DocRecord(doc="report.pdf", doc_id="h1", parser="mmrag", node_ids=["chunk-1", "chunk-2"],
        ...                    modalities={"text": 1, "table": 1}, pages=3)
        >>> DocRecord.model_validate_json(record.model_dump_json()) == record   # as the manifest stores it
        True
    """

    doc: str
    doc_id: str
    parser: str
    node_ids: list[str] = Field(default_factory=list)
    modalities: dict[str, int] = Field(default_factory=dict)
    pages: int = 0
    source_path: str | None = None
    ingested_at: str | None = None


class Manifest:
    """The JSON manifest of a store (``<storage_dir>/manifest.json``).

    Args:
        path: The manifest file.

    Example:
        >>> manifest = Manifest(Path("manifest.json"))
        >>> manifest.record(DocRecord(doc="report.pdf", doc_id="h1", parser="mmrag", node_ids=["chunk-1"]))
        >>> [r.doc for r in Manifest(Path("manifest.json")).docs()]     # written at once, atomically
        ['report.pdf']
        >>> manifest.remove("report.pdf").node_ids, manifest.get("report.pdf")
        (['chunk-1'], None)
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: tuple[int, int] | None = None  # (mtime, size) of the file as last read or written
        self._remove_stale_temporaries()
        self._docs: dict[str, DocRecord] = self._load()

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files a crash left mid-save (the manifest itself is intact: it is replaced atomically)."""
        if self.path.parent.is_dir():
            for leftover in self.path.parent.glob(_TMP_PREFIX + "*"):
                leftover.unlink(missing_ok=True)  # owned: .manifest-* temporaries of _save (our prefix)

    def reload(self) -> None:
        """Re-read the manifest from disk (another process may have written it since this one opened it)."""
        with self._lock:
            self._docs = self._load()

    def reload_if_changed(self) -> None:
        """Re-read the manifest if the file changed since this object last read or wrote it."""
        if self._stamp() != self._seen:
            self.reload()

    def _stamp(self) -> tuple[int, int] | None:
        """The file's (mtime, size), or ``None`` when there is no manifest yet."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def _load(self) -> dict[str, DocRecord]:
        self._seen = self._stamp()
        if self._seen is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RuntimeError(
                f"the store manifest {self.path} is unreadable ({exc}); restore it from a backup or start a new store"
            ) from exc
        return {name: DocRecord.model_validate(rec) for name, rec in data.get("docs", {}).items()}

    def _save(self) -> None:
        payload = {"version": MANIFEST_VERSION, "docs": {n: r.model_dump() for n, r in sorted(self._docs.items())}}
        write_json_atomic(self.path, payload, tmp_prefix=_TMP_PREFIX)
        self._seen = self._stamp()

    def get(self, doc: str) -> DocRecord | None:
        """The record of a document by file name, if present."""
        return self._docs.get(doc)

    def docs(self) -> list[DocRecord]:
        """All records, by document name."""
        with self._lock:
            return [self._docs[name] for name in sorted(self._docs)]

    def owned_node_ids(self, exclude: str | None = None) -> set[str]:
        """Node ids recorded for committed documents (all but ``exclude``).

        Args:
            exclude: A document name whose ids are left out.
        """
        with self._lock:
            return {i for name, rec in self._docs.items() if name != exclude for i in rec.node_ids}

    def record(self, record: DocRecord) -> None:
        """Add or replace a document's record and persist the manifest; a record without ``ingested_at`` is
        stamped with the current time (UTC)."""
        if record.ingested_at is None:
            record = record.model_copy(update={"ingested_at": utc_now()})
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


class StoreIdentityError(StoreError, ValueError):
    """A store was opened with another embedding model or dimension than the one that built it, or its
    descriptor (``store.json``) cannot be read.

    Example:
        >>> store = Path("store")
        >>> store.mkdir()
        >>> built = StoreIdentity.open(store, embed_model="all-MiniLM-L6-v2", embed_dim=384, workspace="w1")
        >>> try:  # what MultimodalRAG(storage_dir="store", embed_model=<a 1024-d model>) meets
        ...     StoreIdentity.open(store, embed_model="text-embedding-v3", embed_dim=1024, workspace="w2")
        ... except StoreIdentityError as exc:
        ...     print(exc)
        the store store was built with the embedding model 'all-MiniLM-L6-v2' (384-d), but 'text-embedding-v3' (1024-d) is configured: ...
    """


class StoreIdentity(BaseModel):
    """What built a store, recorded in ``<storage_dir>/store.json`` when the store is first opened.

    Nothing in it is a path, so a store folder moved or copied elsewhere keeps its graph: the graph's folder
    (``<store>/lightrag/<workspace>``) and, on a Milvus server, the graph's collections are named after
    ``workspace``.

    Args:
        embed_model: The embedding model's name (:func:`llama_index_mmrag.models.embeddings.embedding_name`).
        embed_dim: Its dimension.
        workspace: The graph's LightRAG workspace, a stable id (``<collection>_<8 hex digits>``).
        created_at: When it was recorded (ISO 8601, UTC).
        adopted: Recorded on the first open of a store made before stores recorded what built them.
        model_verified: Whether ``embed_model`` is known to have built the store. An adopted store records the
            dimension its Milvus collection has (verified) and the model configured at that first open, which
            nothing can verify: until it is confirmed (:meth:`confirm_model`, ``mmrag confirm-model``), only the
            dimension is checked. A descriptor written before this field existed with ``adopted`` set reads as
            unverified.
        image_embed_model: The multimodal embedding that fills the collection's image field; ``None``: the store
            has no image field (every store made before image fields existed).
        image_embed_dim: Its dimension.

    Example:
        >>> folder = Path(tempfile.mkdtemp())
        >>> first = StoreIdentity.open(folder, embed_model="all-MiniLM-L6-v2 (packaged)", embed_dim=384, workspace="mmrag_1a2b3c4d")
        >>> StoreIdentity.read(folder).workspace
        'mmrag_1a2b3c4d'
        >>> try:
        ...     StoreIdentity.open(folder, embed_model="text-embedding-v3", embed_dim=384, workspace="mmrag_0")
        ... except StoreIdentityError as exc:
        ...     print(str(exc).split(":")[0])
        the store ... was built with the embedding model 'all-MiniLM-L6-v2 (packaged)' (384-d), but 'text-embedding-v3' (384-d) is configured
    """

    version: int = 1
    embed_model: str
    embed_dim: int
    workspace: str
    created_at: str | None = None
    adopted: bool = False
    model_verified: bool = True
    image_embed_model: str | None = None
    image_embed_dim: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _unverified_if_adopted_before(cls, data: Any) -> Any:
        """A descriptor from before ``model_verified`` existed: an adopted store's model was never verified."""
        if isinstance(data, dict) and "model_verified" not in data and data.get("adopted"):
            return {**data, "model_verified": False}
        return data

    @staticmethod
    def path(storage_dir: Path) -> Path:
        """The descriptor file of a store.

        Args:
            storage_dir: The store's folder.
        """
        return storage_dir / STORE_FILE

    @classmethod
    def read(cls, storage_dir: Path) -> StoreIdentity | None:
        """The store's recorded identity; ``None`` for a store that has none yet (new, or made before it was kept).

        Args:
            storage_dir: The store's folder.

        Raises:
            StoreIdentityError: If ``store.json`` exists but cannot be read.
        """
        path = cls.path(storage_dir)
        try:
            return cls.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError) as exc:
            raise StoreIdentityError(
                f"the store descriptor {path} is unreadable ({' '.join(str(exc).split())[:300]}); restore it from a "
                f"backup of the store, or ingest the documents into a new store"
            ) from exc

    @classmethod
    def open(
        cls,
        storage_dir: Path,
        *,
        embed_model: str,
        embed_dim: int,
        workspace: str,
        adopted: bool = False,
        stored_dim: int | None = None,
        image_embed_model: str | None = None,
        image_embed_dim: int | None = None,
    ) -> StoreIdentity:
        """The store's identity, recorded now if it has none, checked against the configured embedding.

        Two processes opening a new store at once record one identity: the file is created whole or not at
        all (a hard link of a complete temporary file), and the one that loses reads the winner's.

        Args:
            storage_dir: The store's folder.
            embed_model: The configured embedding model's name.
            embed_dim: Its dimension.
            workspace: The workspace to record if the store has no identity yet.
            adopted: Whether the store existed before (it gets its current workspace, not a new one, and its
                model is recorded as unverified: nothing tells which model built it).
            stored_dim: The dimension of the vectors an adopted store already holds (its Milvus collection's),
                recorded instead of ``embed_dim``; ``None`` if it holds none.
            image_embed_model: The configured image embedding's name, recorded if the store has no identity yet
                (an adopted store records none: it was made without an image field); checked by
                :meth:`check_image`.
            image_embed_dim: Its dimension.

        Raises:
            StoreIdentityError: If the store was built with another model or dimension, or ``store.json`` is
                unreadable.
        """
        recorded = cls.read(storage_dir)
        if recorded is None:
            new = cls(
                embed_model=embed_model,
                embed_dim=stored_dim if adopted and stored_dim is not None else embed_dim,
                workspace=workspace,
                created_at=utc_now(),
                adopted=adopted,
                model_verified=not adopted,
                image_embed_model=None if adopted else image_embed_model,
                image_embed_dim=None if adopted or image_embed_model is None else image_embed_dim,
            )
            recorded = new._create(storage_dir)
        recorded.check(storage_dir, embed_model, embed_dim)
        return recorded

    def _create(self, storage_dir: Path) -> StoreIdentity:
        """Write this identity unless the store has one already; return the one on disk."""
        path = self.path(storage_dir)
        storage_dir.mkdir(parents=True, exist_ok=True)
        data = self.model_dump_json(indent=1).encode("utf-8")
        fd, tmp = tempfile.mkstemp(prefix=".store-", dir=storage_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp, path)  # fails if another process recorded one first
            except FileExistsError:
                return self.read(storage_dir) or self
            except OSError:  # a file system without hard links: last writer wins, still never torn
                os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)  # owned: mkstemp made it just above
        fsync_dir(storage_dir)
        return self

    def check(self, storage_dir: Path, embed_model: str, embed_dim: int) -> None:
        """Raise unless the configured embedding is the one that built the store.

        Args:
            storage_dir: The store's folder (named in the error).
            embed_model: The configured embedding model's name.
            embed_dim: Its dimension.

        Raises:
            StoreIdentityError: If the dimension differs, or the model does and the recorded one is verified.
        """
        if self.embed_dim == embed_dim and (self.embed_model == embed_model or not self.model_verified):
            return
        if not self.model_verified:
            raise StoreIdentityError(
                f"the store {storage_dir} holds {self.embed_dim}-d vectors (made before stores recorded their "
                f"embedding model), but {embed_model!r} ({embed_dim}-d) is configured: vectors of different models "
                f"cannot be compared. Open it with the model that built it (MMRAG_EMBED_MODEL / MMRAG_EMBED_DIM, or "
                f"embed_model= and embed_dim=), or give this model a new store (another storage_dir) and ingest the "
                f"documents there"
            )
        raise StoreIdentityError(
            f"the store {storage_dir} was built with the embedding model {self.embed_model!r} ({self.embed_dim}-d), "
            f"but {embed_model!r} ({embed_dim}-d) is configured: vectors of different models cannot be compared. "
            f"Open it with the model that built it (MMRAG_EMBED_MODEL / MMRAG_EMBED_DIM, or embed_model= and "
            f"embed_dim=), or give this model a new store (another storage_dir) and ingest the documents there"
        )

    def check_image(self, storage_dir: Path, image_embed_model: str | None, image_embed_dim: int | None) -> None:
        """Raise unless the configured image embedding (or its absence) is the one the store was built with.

        Args:
            storage_dir: The store's folder (named in the error).
            image_embed_model: The configured image embedding's name (``None``: none configured).
            image_embed_dim: Its dimension.

        Raises:
            StoreIdentityError: If the store has an image field and another (or no) image model is configured, or
                it has none and one is configured.

        Example:
            >>> folder = Path(tempfile.mkdtemp())
            >>> built = StoreIdentity.open(folder, embed_model="m", embed_dim=384, workspace="w",
            ...                            image_embed_model="colour-histogram", image_embed_dim=11)
            >>> try:
            ...     built.check_image(folder, "tongyi-embedding-vision-plus", 1152)
            ... except StoreIdentityError as exc:
            ...     print(str(exc).split(":")[0])
            the store ... was built with the image embedding 'colour-histogram' (11-d), but 'tongyi-embedding-vision-plus' (1152-d) is configured
        """
        if (self.image_embed_model, self.image_embed_dim) == (
            image_embed_model, image_embed_dim if image_embed_model else None
        ):
            return
        if self.image_embed_model is None:
            raise StoreIdentityError(
                f"the store {storage_dir} was built without an image embedding (its collection has no image field), "
                f"but {image_embed_model!r} is configured: open it with MMRAG_IMAGE_EMBED_MODEL=none (no "
                f"image_embed_model=), or give the image model a new store (another storage_dir) and ingest the "
                f"documents there"
            )
        configured = "none" if image_embed_model is None else f"{image_embed_model!r} ({image_embed_dim}-d)"
        raise StoreIdentityError(
            f"the store {storage_dir} was built with the image embedding {self.image_embed_model!r} "
            f"({self.image_embed_dim}-d), but {configured} is configured: image vectors of different models cannot "
            f"be compared. Open it with MMRAG_IMAGE_EMBED_MODEL={self.image_embed_model} (or that model as "
            f"image_embed_model=), or give the new model a new store and ingest the documents there"
        )

    @classmethod
    def confirm_model(cls, storage_dir: Path, *, embed_model: str, embed_dim: int) -> StoreIdentity:
        """Record that ``embed_model`` built the store (for a store whose model is unverified), and check it.

        Args:
            storage_dir: The store's folder.
            embed_model: The embedding model's name (:func:`llama_index_mmrag.models.embeddings.embedding_name`).
            embed_dim: Its dimension.

        Raises:
            StoreIdentityError: If the store has no descriptor yet (open it once first), its dimension differs, or
                another model is recorded as verified.

        Example:
            >>> folder = Path(tempfile.mkdtemp())
            >>> adopted = StoreIdentity.open(folder, embed_model="m", embed_dim=384, workspace="w", adopted=True)
            >>> adopted.model_verified
            False
            >>> StoreIdentity.confirm_model(folder, embed_model="m", embed_dim=384).model_verified
            True
        """
        recorded = cls.read(storage_dir)
        if recorded is None:
            raise StoreIdentityError(
                f"the store {storage_dir} has no descriptor ({STORE_FILE}) yet: open it once (any `mmrag` command "
                f"or MultimodalRAG(storage_dir=...)), then confirm its embedding model"
            )
        recorded.check(storage_dir, embed_model, embed_dim)
        if recorded.model_verified and recorded.embed_model == embed_model:
            return recorded
        confirmed = recorded.model_copy(update={"embed_model": embed_model, "model_verified": True})
        data = confirmed.model_dump_json(indent=1).encode("utf-8")
        write_atomic(cls.path(storage_dir), lambda handle: handle.write(data), ".store-")
        return confirmed
