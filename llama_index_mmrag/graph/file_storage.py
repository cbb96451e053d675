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

A save costs what it changed, not what the store holds: it appends the nodes, edges or keys changed since the
last save to the file's change log (:mod:`llama_index_mmrag.graph.change_log`), and writes the file whole
(atomically, as above, then empties the log) only once the log outgrows :data:`COMPACT_FRACTION` of the file.
Reading a file replays its log on top of it.

Because a file is only ever replaced whole (a new inode) and its log only grows until it is replaced by an empty
one, the journal keeps the files as they were before a write as hard links to them and the logs' lengths
(:meth:`llama_index_mmrag.index.Journal.begin`): beginning a write copies nothing, and rolling it back cuts each
log back to its length.

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
from lightrag.kg.shared_storage import (
    clear_all_update_flags,
    get_data_init_lock,
    get_namespace_data,
    get_namespace_lock,
    get_update_flag,
    set_all_update_flags,
    try_initialize_namespace,
)
from lightrag.utils import SanitizingJSONEncoder

from llama_index_mmrag.errors import StoreError
from llama_index_mmrag.graph.change_log import (
    LOG_SUFFIX,
    append_changes,
    apply_graph_changes,
    apply_kv_changes,
    change_log_path,
    edge_entry,
    kv_entry,
    node_entry,
    read_with_changes,
    replace_with_empty,
)
from llama_index_mmrag.graph.file_copies import copied_log, looks_whole, restore_sources
from llama_index_mmrag.graph.safe_text import is_xml_safe, xml_safe
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
COMPACT_FRACTION = 0.5
"""A file is written whole (and its change log emptied) once its log is larger than this fraction of it: what a
document's save writes then stays proportional to what it changes (amortised, about ``1 / COMPACT_FRACTION``
times more), and replaying the log on load costs at most this fraction of reading the file."""
COMPACT_MIN_BYTES = 64 * 1024
"""Below this, a change log is never compacted (small files would otherwise be rewritten at every save)."""


def needs_compaction(path: Path, log_bytes: int) -> bool:
    """Whether the file ``path`` is to be written whole, its change log holding ``log_bytes``.

    Args:
        path: A graph file.
        log_bytes: Its change log's length.

    Example:
        >>> needs_compaction(Path("missing.graphml"), 0)      # no file yet: it is written whole
        True
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return True
    return log_bytes > max(COMPACT_MIN_BYTES, COMPACT_FRACTION * size)


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
    """The graph in a GraphML file with its change log replayed (``None`` if there is neither), read without the
    file's whole XML tree in memory."""
    graph, changes = read_with_changes(Path(path), lambda p: read_graphml_lean(p) if p.exists() else None)
    return apply_graph_changes(graph if graph is not None else nx.Graph(), changes) if changes else graph


def read_graph_file(path: Path) -> nx.Graph:
    """The graph a GraphML file holds with its change log replayed: what the store's graph storage loads (an empty
    graph if there is neither).

    Args:
        path: The GraphML file.

    Example:
        >>> read_graph_file(Path("missing.graphml")).number_of_nodes()
        0
    """
    return _load_graph(str(path)) or nx.Graph()


def _load_json(path: str) -> Any:
    """The data in a JSON key-value file with its change log replayed (``None`` if there is neither)."""
    from lightrag.utils import load_json

    data, changes = read_with_changes(Path(path), lambda p: load_json(str(p)))
    return apply_kv_changes(data if isinstance(data, dict) else {}, changes) if changes else data


def _check_graphml(path: Path) -> None:
    read_graphml_lean(path)


def _check_json(path: Path) -> None:
    with open(path, encoding="utf-8-sig") as handle:
        json.load(handle)


def repair_file(path: Path, working_dir: Path, journal_dir: str | None, check: Callable[[Path], None]) -> bool:
    """Restore ``path`` if it does not parse: from the last committed copy, else the journal's copy. Its change
    log is restored from the same copy (a log only holds what follows its own file).

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
        log = copied_log(source, change_log_path(relative))
        write_atomic(change_log_path(path), lambda handle: handle.write(log), TMP_PREFIX)
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
    return _read_repaired(path, global_config, _load_json, _check_json)


def fold_change_logs(working_dir: Path) -> list[Path]:
    """Write every graph file under ``working_dir`` that has a non-empty change log whole, with its log replayed,
    then empty the log: no earlier version of anything the file holds is left in it (a deleted or replaced
    document leaves no trace). The store reads the same before and after, also if this is interrupted.

    Args:
        working_dir: LightRAG's working dir.

    Returns:
        The files written whole.

    Example:
        >>> fold_change_logs(Path("no-graph-here"))
        []
    """
    folded = []
    for log in sorted(working_dir.rglob(f"*{LOG_SUFFIX}")) if working_dir.is_dir() else []:
        if log.name.startswith(".") or not log.stat().st_size:
            continue
        path = log.with_name(log.name[: -len(LOG_SUFFIX)])
        if path.suffix == ".graphml":
            write_graphml_atomic(_load_graph(str(path)) or nx.Graph(), path)
        else:
            payload, _ = _json_bytes(_load_json(str(path)) or {})
            write_atomic(path, lambda handle: handle.write(payload), TMP_PREFIX)
        replace_with_empty(log)
        folded.append(path)
    return folded


# --- storages --------------------------------------------------------------------------------------------------


def _journal_dir(global_config: dict[str, Any]) -> str | None:
    return (global_config.get("addon_params") or {}).get(JOURNAL_DIR_KEY)


@dataclass
class MMRAGNetworkXStorage(NetworkXStorage):  # type: ignore[misc]  # upstream marks it @final for typing only
    """``NetworkXStorage`` that saves what changed to its change log (the GraphML whole, atomically, now and
    then), raises when a save fails and repairs a damaged file on load (see the module docstring).

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
        ...     await graph.index_done_callback()       # no file yet: written whole
        ...     await graph.upsert_node("Lite", {"entity_id": "Lite", "entity_type": "PRODUCT"})
        ...     await graph.index_done_callback()       # appended to the change log
        >>> engine_loop().run(save())
        >>> graphml = Path("lightrag/example_graph/graph_chunk_entity_relation.graphml").read_text()
        >>> "a vector database\u241b" in graphml          # saved whole, with a visible stand-in XML can hold
        True
        >>> sorted(_load_graph("lightrag/example_graph/graph_chunk_entity_relation.graphml").nodes)
        ['Lite', 'Milvus']
    """

    def __post_init__(self) -> None:
        # upstream's set-up, reading the file lean (networkx's reader holds a tree of the whole file: about four
        # times the graph's memory) with its change log, and repairing it first if it does not parse
        working_dir = self.global_config["working_dir"]
        self.workspace = self.workspace or ""
        workspace_dir = os.path.join(working_dir, self.workspace) if self.workspace else working_dir
        os.makedirs(workspace_dir, exist_ok=True)
        self._graphml_xml_file = os.path.join(workspace_dir, f"graph_{self.namespace}.graphml")
        self._storage_lock = None
        self.storage_updated = None
        self._unsaved_nodes: set[str] = set()
        self._unsaved_edges: set[tuple[str, str]] = set()
        self._graph = read_graphml_repaired(Path(self._graphml_xml_file), self.global_config) or nx.Graph()

    def forget_unsaved_changes(self) -> None:
        """Forget what changed since the last save (the graph was re-read from its files)."""
        self._unsaved_nodes.clear()
        self._unsaved_edges.clear()

    def _touch_edges(self, graph: nx.Graph, nodes: list[str]) -> None:
        """Mark the edges of ``nodes`` changed (removing a node removes them)."""
        for node in nodes:
            if graph.has_node(node):
                self._unsaved_edges.update(_edge_key(node, other) for other in graph.neighbors(node))

    async def _get_graph(self) -> nx.Graph:
        """The graph, re-read (lean) if another process saved it since (upstream's check)."""
        async with self._storage_lock:
            if self.storage_updated.value:
                self._graph = _load_graph(self._graphml_xml_file) or nx.Graph()
                self.forget_unsaved_changes()
                self.storage_updated.value = False
            return self._graph

    async def upsert_node(self, node_id: str, node_data: dict[str, str]) -> None:
        """Upstream's, remembering the node for the next save."""
        await super().upsert_node(node_id, node_data)
        self._unsaved_nodes.add(node_id)

    async def upsert_nodes_batch(self, nodes: list[tuple[str, dict[str, str]]]) -> None:
        """Upstream's, remembering the nodes for the next save."""
        await super().upsert_nodes_batch(nodes)
        self._unsaved_nodes.update(node_id for node_id, _ in nodes)

    async def upsert_edge(self, source_node_id: str, target_node_id: str, edge_data: dict[str, str]) -> None:
        """Upstream's, remembering the edge (and its ends, which it may create) for the next save."""
        await super().upsert_edge(source_node_id, target_node_id, edge_data)
        self._unsaved_nodes.update((source_node_id, target_node_id))
        self._unsaved_edges.add(_edge_key(source_node_id, target_node_id))

    async def upsert_edges_batch(self, edges: list[tuple[str, str, dict[str, str]]]) -> None:
        """Upstream's, remembering the edges (and their ends) for the next save."""
        await super().upsert_edges_batch(edges)
        for source, target, _ in edges:
            self._unsaved_nodes.update((source, target))
            self._unsaved_edges.add(_edge_key(source, target))

    async def delete_node(self, node_id: str) -> None:
        """Upstream's, remembering the node and its edges for the next save."""
        self._touch_edges(await self._get_graph(), [node_id])
        await super().delete_node(node_id)
        self._unsaved_nodes.add(node_id)

    async def remove_nodes(self, nodes: list[str]) -> None:
        """Upstream's, remembering the nodes and their edges for the next save."""
        self._touch_edges(await self._get_graph(), nodes)
        await super().remove_nodes(nodes)
        self._unsaved_nodes.update(nodes)

    async def remove_edges(self, edges: list[tuple[str, str]]) -> None:
        """Upstream's, remembering the edges for the next save."""
        await super().remove_edges(edges)
        self._unsaved_edges.update(_edge_key(a, b) for a, b in edges)

    async def drop(self) -> dict[str, str]:
        """Upstream's (the GraphML file removed), with the change log emptied first."""
        log = change_log_path(Path(self._graphml_xml_file))
        if log.exists():
            await asyncio.to_thread(replace_with_empty, log)
        self.forget_unsaved_changes()
        return await super().drop()

    def _changes(self) -> list[dict[str, Any]]:
        """The log entries of what changed since the last save: nodes first, then edges."""
        graph = self._graph
        entries = [node_entry(graph, node) for node in sorted(self._unsaved_nodes)]
        entries += [edge_entry(graph, a, b) for a, b in sorted(self._unsaved_edges)]
        return entries

    def _save(self, entries: list[dict[str, Any]]) -> None:
        """Append ``entries`` to the change log; write the file whole instead if it is due (see the module docstring)."""
        path = Path(self._graphml_xml_file)
        log = change_log_path(path)
        if not needs_compaction(path, log.stat().st_size if log.exists() else 0):
            if not entries or not needs_compaction(path, append_changes(log, entries)):
                return
        write_graphml_atomic(self._graph, path)
        if log.exists():
            replace_with_empty(log)

    async def index_done_callback(self) -> bool:
        """Save what changed since the last save (see the module docstring).

        Raises:
            GraphFileError: If the files cannot be written (what they held stays readable), or another writer
                changed them since this instance read them (this instance's changes are then dropped, as upstream
                does).
        """
        path = Path(self._graphml_xml_file)
        async with self._storage_lock:
            if self.storage_updated.value:
                self._graph = _load_graph(self._graphml_xml_file) or nx.Graph()
                self.forget_unsaved_changes()
                self.storage_updated.value = False
                raise GraphFileError(f"the graph {path} was changed by another writer meanwhile; this write is dropped")
            entries = self._changes()
            try:
                await asyncio.to_thread(self._save, entries)
            except Exception as exc:
                raise GraphFileError(
                    f"could not save the graph {path} ({type(exc).__name__}: {exc}); the previous file is kept"
                ) from exc
            self.forget_unsaved_changes()
            await set_all_update_flags(self.namespace, workspace=self.workspace)
            self.storage_updated.value = False
        return True


def _edge_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


_unsaved_keys: dict[str, set[str]] = {}
"""Per JSON file: the keys changed since its last save. LightRAG shares a file's data between all the storages
of its namespace in a process, so what changed is kept per file, not per storage."""
_rewrite_whole: set[str] = set()
"""JSON files to write whole at their next save (their data was dropped)."""


class _AtomicJsonMixin:
    """Saves to a change log (the file whole, atomically, now and then) and repair on load for LightRAG's JSON
    key-value storages."""

    _file_name: str
    _storage_lock: Any
    _data: Any
    storage_updated: Any
    global_config: dict[str, Any]
    namespace: str
    workspace: str

    async def initialize(self) -> None:
        """Load the store (upstream's initialisation, reading the file with its change log); a file that does not
        parse is repaired and loaded.

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
        self._storage_lock = get_namespace_lock(self.namespace, workspace=self.workspace)
        self.storage_updated = await get_update_flag(self.namespace, workspace=self.workspace)
        async with get_data_init_lock():
            need_init = await try_initialize_namespace(self.namespace, workspace=self.workspace)
            self._data = await get_namespace_data(self.namespace, workspace=self.workspace)
            if not need_init:
                return
            loaded = await asyncio.to_thread(read_json_repaired, path, self.global_config) or {}
            async with self._storage_lock:
                migrate = getattr(self, "_migrate_legacy_cache_structure", None)
                if self.namespace.endswith("_cache") and migrate is not None:
                    loaded = await migrate(loaded)
                self._data.update(loaded)
                _unsaved_keys.pop(self._file_name, None)

    def forget_unsaved_changes(self) -> None:
        """Forget what changed since the last save (the data was re-read from its files)."""
        _unsaved_keys.pop(self._file_name, None)
        _rewrite_whole.discard(self._file_name)

    async def upsert(self, data: dict[str, dict[str, Any]]) -> None:
        """Upstream's, remembering the keys for the next save."""
        await super().upsert(data)  # type: ignore[misc]
        _unsaved_keys.setdefault(self._file_name, set()).update(data)

    async def delete(self, ids: list[str]) -> None:
        """Upstream's, remembering the keys for the next save."""
        await super().delete(ids)  # type: ignore[misc]
        _unsaved_keys.setdefault(self._file_name, set()).update(ids)

    async def drop(self) -> dict[str, str]:
        """Upstream's (it saves the empty store at once: written whole)."""
        _rewrite_whole.add(self._file_name)
        return await super().drop()  # type: ignore[misc, no-any-return]

    def _save(self, entries: list[dict[str, Any]], whole: bool) -> bool:
        """Append ``entries`` to the change log; write the file whole instead if it is due or ``whole``. Returns
        whether strings had to be cleaned (memory then follows the file, as upstream)."""
        path = Path(self._file_name)
        log = change_log_path(path)
        if not whole and not needs_compaction(path, log.stat().st_size if log.exists() else 0):
            if not entries or not needs_compaction(path, append_changes(log, entries)):
                return False
        data = dict(self._data) if hasattr(self._data, "_getvalue") else self._data
        payload, cleaned = _json_bytes(data)
        write_atomic(path, lambda handle: handle.write(payload), TMP_PREFIX)
        if log.exists():
            replace_with_empty(log)
        if cleaned:
            self._data.clear()
            self._data.update(json.loads(payload))
        return cleaned

    async def index_done_callback(self) -> None:
        """Save what changed since the last save, if anything did (see the module docstring).

        Raises:
            GraphFileError: If the file cannot be written (what it held stays readable).
        """
        path = Path(self._file_name)
        async with self._storage_lock:
            if not self.storage_updated.value:
                return
            keys = _unsaved_keys.pop(self._file_name, set())
            whole = self._file_name in _rewrite_whole
            entries = [kv_entry(self._data, key) for key in sorted(keys)]
            try:
                await asyncio.to_thread(self._save, entries, whole)
            except Exception as exc:
                _unsaved_keys.setdefault(self._file_name, set()).update(keys)  # a later save still writes them
                raise GraphFileError(
                    f"could not save {path} ({type(exc).__name__}: {exc}); the previous file is kept"
                ) from exc
            _rewrite_whole.discard(self._file_name)
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
