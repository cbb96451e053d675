"""LightRAG's file storages (GraphML graph, JSON key-value and doc-status stores) saved atomically and repaired
on load.

Upstream writes each file in place (``open(path, "w")``): a save that fails half-way (a string XML cannot hold,
a full disk) leaves a truncated file, and the graph storage logs the error and carries on. These subclasses,
registered with LightRAG under :data:`GRAPH_STORAGE_NAME`, :data:`KV_STORAGE_NAME` and
:data:`DOC_STATUS_STORAGE_NAME`, instead:

- write the file whole to a temporary file in the same folder, fsync it and ``os.replace`` it over the old one,
  so a reader (in this process or another) sees the old file or the new one, never a torn one; a failed save
  leaves the old file and raises :class:`GraphFileError` (the document write that caused it is then rolled
  back by the journal, :mod:`llama_index_mmrag.index`);
- write the graph with every string made safe for XML (:func:`~llama_index_mmrag.graph.safe_text.xml_safe`,
  a last guard: the package's own data is made safe before it reaches LightRAG);
- on load, restore a file that does not parse from the store's last committed copy (or the journal's copy of
  an interrupted write), with a warning naming it; with no copy to restore from, raise
  :class:`GraphFileError` naming the file and what to do.

Because every save replaces the file (a new inode), the journal keeps the files as they were before a write as
hard links to them (:meth:`llama_index_mmrag.index.Journal.begin`): a link keeps its version whatever the write
saves, so beginning a write copies nothing.

Example:
    >>> register_file_storages()
    >>> GRAPH_STORAGE_NAME, KV_STORAGE_NAME
    ('MMRAGNetworkXStorage', 'MMRAGJsonKVStorage')
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
from lightrag import kg as lightrag_kg
from lightrag.kg.json_doc_status_impl import JsonDocStatusStorage
from lightrag.kg.json_kv_impl import JsonKVStorage
from lightrag.kg.networkx_impl import NetworkXStorage
from lightrag.kg.shared_storage import clear_all_update_flags, set_all_update_flags
from lightrag.utils import SanitizingJSONEncoder

from llama_index_mmrag.errors import StoreError
from llama_index_mmrag.graph.safe_text import is_xml_safe, xml_safe
from llama_index_mmrag.graph.file_copies import looks_whole, restore_sources
from llama_index_mmrag.graph.graphml_read import read_graphml_lean
from llama_index_mmrag.manifest import fsync_dir, write_atomic

logger = logging.getLogger(__name__)

GRAPH_STORAGE_NAME = "MMRAGNetworkXStorage"
KV_STORAGE_NAME = "MMRAGJsonKVStorage"
DOC_STATUS_STORAGE_NAME = "MMRAGJsonDocStatusStorage"
JOURNAL_DIR_KEY = "mmrag_journal_dir"
"""Key in LightRAG's ``addon_params``: the store's journal folder, where the copies to restore from are."""
TMP_PREFIX = ".mmrag-save-"
"""Prefix of the temporary files of a save (a crash may leave one; it is never read)."""


class GraphFileError(StoreError, RuntimeError):
    """A graph or key-value file of the store could not be saved, or is damaged with no copy to restore.

    Example:
        >>> graph_dir = Path("lightrag")
        >>> graph_dir.mkdir()
        >>> damaged = graph_dir / "graph_chunk_entity_relation.graphml"
        >>> _ = damaged.write_text("<graphml><graph")  # cut short, and the store kept no copy of it
        >>> try:
        ...     read_graphml_repaired(damaged, {"working_dir": str(graph_dir)})
        ... except GraphFileError as exc:
        ...     print(exc)
        the store file lightrag/graph_chunk_entity_relation.graphml is damaged (ParseError: ...) and the store keeps no good copy of it: ...
    """


# --- writing ---------------------------------------------------------------------------------------------------


def _unsafe_strings(graph: nx.Graph) -> int:
    """How many node ids and string attribute values of ``graph`` XML cannot hold."""
    count = sum(1 for node in graph.nodes if isinstance(node, str) and not is_xml_safe(node))
    for _, data in graph.nodes(data=True):
        count += sum(1 for v in data.values() if isinstance(v, str) and not is_xml_safe(v))
    for _, _, data in graph.edges(data=True):
        count += sum(1 for v in data.values() if isinstance(v, str) and not is_xml_safe(v))
    return count


def _xml_safe_copy(graph: nx.Graph) -> nx.Graph:
    def safe(value: Any) -> Any:
        return xml_safe(value) if isinstance(value, str) else value

    copy = graph.__class__()
    copy.add_nodes_from((safe(n), {k: safe(v) for k, v in d.items()}) for n, d in graph.nodes(data=True))
    copy.add_edges_from((safe(a), safe(b), {k: safe(v) for k, v in d.items()}) for a, b, d in graph.edges(data=True))
    return copy


def write_graphml_atomic(graph: nx.Graph, path: Path) -> None:
    """Save a graph as GraphML, atomically, with every string XML cannot hold replaced (and a warning).

    Args:
        graph: The graph.
        path: The GraphML file.

    Raises:
        Exception: What the writer or the file system raised; ``path`` is then unchanged.
    """
    unsafe = _unsafe_strings(graph)
    if unsafe:
        logger.warning(
            "%d string(s) of the graph hold characters XML cannot store; they are saved to %s with visible "
            "stand-ins (see llama_index_mmrag.graph.safe_text)", unsafe, path,
        )
        graph = _xml_safe_copy(graph)
    write_atomic(path, lambda handle: nx.write_graphml(graph, handle), TMP_PREFIX)


def _json_bytes(data: Any) -> tuple[bytes, bool]:
    """``data`` as LightRAG's JSON files hold it, and whether strings had to be cleaned (lone surrogates)."""
    try:
        return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"), False
    except UnicodeEncodeError:
        text = json.dumps(data, indent=2, ensure_ascii=False, cls=SanitizingJSONEncoder)
        return text.encode("utf-8"), True


# --- reading and repairing -------------------------------------------------------------------------------------

_PARSE_ERRORS = (ET.ParseError, ValueError, UnicodeDecodeError, nx.NetworkXError, KeyError, IndexError)
"""What a damaged GraphML or JSON file raises when read (``json.JSONDecodeError`` is a ``ValueError``)."""


def _load_graph(path: str) -> nx.Graph | None:
    """The graph in a GraphML file (``None`` if there is none), read without the file's whole XML tree in memory."""
    return read_graphml_lean(path) if os.path.exists(path) else None


def _check_graphml(path: Path) -> None:
    read_graphml_lean(path)


def _check_json(path: Path) -> None:
    with open(path, encoding="utf-8-sig") as handle:
        json.load(handle)


def repair_file(path: Path, working_dir: Path, journal_dir: str | None, check: Callable[[Path], None]) -> bool:
    """Restore ``path`` if it does not parse: from the last committed copy, else the journal's copy.

    The damaged file is kept next to it as ``<name>.damaged``.

    Args:
        path: A file of LightRAG's working dir.
        working_dir: LightRAG's working dir (the copies mirror its layout).
        journal_dir: The store's journal folder (where the copies are); ``None``: no copies.
        check: Raises if a file does not parse.

    Returns:
        Whether the file was restored (``False``: it is missing or parses).

    Raises:
        GraphFileError: If it does not parse and no copy of it does.
    """
    if not path.is_file():
        return False
    try:
        check(path)
        return False
    except _PARSE_ERRORS as exc:
        damage = f"{type(exc).__name__}: {exc}"
    relative = path.relative_to(working_dir)
    for source in restore_sources(journal_dir):
        candidate = source / relative
        if not candidate.is_file():
            continue
        try:
            check(candidate)
        except _PARSE_ERRORS:
            continue
        shutil.copy2(path, path.with_name(path.name + ".damaged"))
        with open(candidate, "rb") as original:
            write_atomic(path, lambda handle: shutil.copyfileobj(original, handle), TMP_PREFIX)
        logger.warning("the store file %s was damaged (%s); restored it from %s", path, damage, candidate)
        return True
    raise GraphFileError(
        f"the store file {path} is damaged ({damage}) and the store keeps no good copy of it: ingest the "
        f"documents into a new store (or delete the folder {working_dir.parent} and ingest them again)"
    )


def _read_repaired(path: Path, global_config: dict[str, Any], load: Callable[[str], Any], check: Callable[[Path], None]) -> Any:
    """``load(path)``, repairing the file first (see :func:`repair_file`) if it does not parse."""
    try:
        return load(str(path))
    except _PARSE_ERRORS:
        repair_file(path, Path(global_config["working_dir"]), _journal_dir(global_config), check)
        return load(str(path))


def read_graphml_repaired(path: Path, global_config: dict[str, Any]) -> nx.Graph | None:
    """Read a storage's GraphML (``None`` if there is none), repairing it first if it does not parse.

    Args:
        path: The GraphML file.
        global_config: The LightRAG instance's configuration (its working dir and journal folder).

    Raises:
        GraphFileError: If the file is damaged and no copy of it parses.
    """
    return _read_repaired(path, global_config, _load_graph, _check_graphml)


def read_json_repaired(path: Path, global_config: dict[str, Any]) -> Any:
    """Read a storage's JSON file (``None`` if there is none), repairing it first if it does not parse.

    Args:
        path: The JSON file.
        global_config: The LightRAG instance's configuration (its working dir and journal folder).

    Raises:
        GraphFileError: If the file is damaged and no copy of it parses.
    """
    from lightrag.utils import load_json

    return _read_repaired(path, global_config, load_json, _check_json)


# --- storages --------------------------------------------------------------------------------------------------


def _journal_dir(global_config: dict[str, Any]) -> str | None:
    return (global_config.get("addon_params") or {}).get(JOURNAL_DIR_KEY)


@dataclass
class MMRAGNetworkXStorage(NetworkXStorage):  # type: ignore[misc]  # upstream marks it @final for typing only
    """``NetworkXStorage`` that saves its GraphML atomically, raises when a save fails and repairs a damaged file
    on load (see the module docstring).

    Example:
        >>> from lightrag.kg.shared_storage import initialize_share_data
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> initialize_share_data()                      # LightRAG does this when it opens its storages
        >>> graph = MMRAGNetworkXStorage(namespace="chunk_entity_relation", workspace="example_graph",
        ...                              global_config={"working_dir": "lightrag"}, embedding_func=None)
        >>> async def save() -> None:
        ...     await graph.initialize()
        ...     await graph.upsert_node("Milvus", {"entity_id": "Milvus", "entity_type": "PRODUCT",
        ...                                        "description": "a vector database\\x1b"})   # an escape character
        ...     await graph.index_done_callback()
        >>> engine_loop().run(save())
        >>> graphml = Path("lightrag/example_graph/graph_chunk_entity_relation.graphml").read_text()
        >>> "a vector database\u241b" in graphml          # saved whole, with a visible stand-in XML can hold
        True
    """

    def __post_init__(self) -> None:
        # upstream's set-up, reading the file lean (networkx's reader holds a tree of the whole file: about four
        # times the graph's memory) and repairing it first if it does not parse
        working_dir = self.global_config["working_dir"]
        self.workspace = self.workspace or ""
        workspace_dir = os.path.join(working_dir, self.workspace) if self.workspace else working_dir
        os.makedirs(workspace_dir, exist_ok=True)
        self._graphml_xml_file = os.path.join(workspace_dir, f"graph_{self.namespace}.graphml")
        self._storage_lock = None
        self.storage_updated = None
        self._graph = read_graphml_repaired(Path(self._graphml_xml_file), self.global_config) or nx.Graph()

    async def _get_graph(self) -> nx.Graph:
        """The graph, re-read (lean) if another process saved it since (upstream's check)."""
        async with self._storage_lock:
            if self.storage_updated.value:
                self._graph = _load_graph(self._graphml_xml_file) or nx.Graph()
                self.storage_updated.value = False
            return self._graph

    async def index_done_callback(self) -> bool:
        """Save the graph (atomically).

        Raises:
            GraphFileError: If the file cannot be written (it is left as it was), or another writer changed it
                since this instance read it (this instance's changes are then dropped, as upstream does).
        """
        path = Path(self._graphml_xml_file)
        async with self._storage_lock:
            if self.storage_updated.value:
                self._graph = _load_graph(self._graphml_xml_file) or nx.Graph()
                self.storage_updated.value = False
                raise GraphFileError(f"the graph {path} was changed by another writer meanwhile; this write is dropped")
            try:
                await asyncio.to_thread(write_graphml_atomic, self._graph, path)
            except Exception as exc:
                raise GraphFileError(
                    f"could not save the graph {path} ({type(exc).__name__}: {exc}); the previous file is kept"
                ) from exc
            await set_all_update_flags(self.namespace, workspace=self.workspace)
            self.storage_updated.value = False
        return True


class _AtomicJsonMixin:
    """Atomic saves and repair on load for LightRAG's JSON key-value storages."""

    _file_name: str
    _storage_lock: Any
    _data: Any
    storage_updated: Any
    global_config: dict[str, Any]
    namespace: str
    workspace: str

    async def initialize(self) -> None:
        """Load the store (upstream's initialisation); a file that does not parse is repaired and loaded.

        Raises:
            GraphFileError: If the file is damaged and no copy of it parses.
        """
        path = Path(self._file_name)
        # a file cut short is repaired before anything reads it, also where this process already holds the
        # workspace's data (upstream then does not read the file); a cheap look at its end tells
        if await asyncio.to_thread(lambda: path.is_file() and not looks_whole(path)):
            await asyncio.to_thread(
                repair_file, path, Path(self.global_config["working_dir"]), _journal_dir(self.global_config), _check_json
            )
        try:
            await super().initialize()  # type: ignore[misc]
        except _PARSE_ERRORS:
            # upstream has made this workspace's (empty) shared data and failed reading the file into it
            if self._data is None or self._storage_lock is None:
                raise
            data = await asyncio.to_thread(read_json_repaired, Path(self._file_name), self.global_config) or {}
            async with self._storage_lock:
                self._data.update(data)

    async def index_done_callback(self) -> None:
        """Save the store (atomically) if it changed.

        Raises:
            GraphFileError: If the file cannot be written (it is left as it was).
        """
        path = Path(self._file_name)
        async with self._storage_lock:
            if not self.storage_updated.value:
                return
            data = dict(self._data) if hasattr(self._data, "_getvalue") else self._data
            try:
                payload, cleaned = _json_bytes(data)
                await asyncio.to_thread(write_atomic, path, lambda handle: handle.write(payload), TMP_PREFIX)
            except Exception as exc:
                raise GraphFileError(
                    f"could not save {path} ({type(exc).__name__}: {exc}); the previous file is kept"
                ) from exc
            if cleaned:  # as upstream: memory follows what was written
                self._data.clear()
                self._data.update(json.loads(payload))
            await clear_all_update_flags(self.namespace, workspace=self.workspace)


@dataclass
class MMRAGJsonKVStorage(_AtomicJsonMixin, JsonKVStorage):  # type: ignore[misc]
    """``JsonKVStorage`` with atomic saves and repair on load (see the module docstring).

    Example:
        >>> import json
        >>> from lightrag.kg.shared_storage import initialize_share_data
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> initialize_share_data()                      # LightRAG does this when it opens its storages
        >>> kv = MMRAGJsonKVStorage(namespace="text_chunks", workspace="example_kv",
        ...                         global_config={"working_dir": "lightrag"}, embedding_func=None)
        >>> async def save() -> None:
        ...     await kv.initialize()
        ...     await kv.upsert({"chunk-1": {"content": "Milvus Lite runs in one process."}})
        ...     await kv.index_done_callback()           # a temporary file, renamed over the old one
        >>> engine_loop().run(save())
        >>> json.loads(Path("lightrag/example_kv/kv_store_text_chunks.json").read_text())["chunk-1"]["content"]
        'Milvus Lite runs in one process.'
    """


@dataclass
class MMRAGJsonDocStatusStorage(_AtomicJsonMixin, JsonDocStatusStorage):  # type: ignore[misc]
    """``JsonDocStatusStorage`` with atomic saves and repair on load (see the module docstring).

    Example:
        >>> from lightrag.kg.shared_storage import initialize_share_data
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> initialize_share_data()                      # LightRAG does this when it opens its storages
        >>> status = MMRAGJsonDocStatusStorage(namespace="doc_status", workspace="example_status",
        ...                                    global_config={"working_dir": "lightrag"}, embedding_func=None)
        >>> async def record() -> dict:
        ...     await status.initialize()
        ...     await status.upsert({"doc-1": {"status": "processed", "file_path": "milvus_faq.txt"}})
        ...     await status.index_done_callback()
        ...     return await status.get_by_id("doc-1")
        >>> engine_loop().run(record())["status"]
        'processed'
        >>> Path("lightrag/example_status/kv_store_doc_status.json").is_file()
        True
    """


_REGISTRY = {
    "GRAPH_STORAGE": GRAPH_STORAGE_NAME,
    "KV_STORAGE": KV_STORAGE_NAME,
    "DOC_STATUS_STORAGE": DOC_STATUS_STORAGE_NAME,
}


def register_file_storages() -> None:
    """Make the storages of this module valid LightRAG storage names (idempotent)."""
    for kind, name in _REGISTRY.items():
        implementations = lightrag_kg.STORAGE_IMPLEMENTATIONS[kind]["implementations"]
        if name not in implementations:
            implementations.append(name)
        lightrag_kg.STORAGES[name] = __name__
        lightrag_kg.STORAGE_ENV_REQUIREMENTS.setdefault(name, [])
