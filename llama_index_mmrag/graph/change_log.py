"""The append-only change log beside each of the graph's files: what a save changed, so that saving a document
costs what the document changes, not what the store holds.

A graph file (GraphML, or a JSON key-value file) is written whole only now and then (a *compaction*); between
two, each save appends the entries it changed to ``<file>.changes.jsonl``, one JSON object a line, and fsyncs it.
Reading a file reads it whole, then replays its log on top. Every entry holds the whole new state of what it
names (a node with all its attributes, an edge, a key with its value, or its deletion), so replaying a log on
top of a file that already holds its entries changes nothing: a compaction writes the whole file first and only
then replaces the log with an empty one, and a crash between the two leaves a store that reads the same.

A line is written whole or is the last one (a crash during an append): a last line without its newline, or that
does not parse, is ignored. A log is never rewritten in place: it grows by appends, is cut back to an earlier
length by the journal's rollback (:mod:`llama_index_mmrag.index.journal`), and a compaction replaces it with a
new, empty file (a new inode: a hard link the journal keeps still holds the old log).

Example:
    >>> log = change_log_path(Path("kv_store_text_chunks.json"))
    >>> log.name
    'kv_store_text_chunks.json.changes.jsonl'
    >>> append_changes(log, [{"k": "chunk-1", "v": {"content": "Milvus"}}, {"k": "chunk-2", "del": True}])
    68
    >>> data = {"chunk-2": {"content": "old"}}
    >>> apply_kv_changes(data, read_changes(log))
    {'chunk-1': {'content': 'Milvus'}}
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index_mmrag.manifest import fsync_dir

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "LOG_SUFFIX",
    "append_changes",
    "apply_graph_changes",
    "apply_kv_changes",
    "change_log_path",
    "edge_entry",
    "kv_entry",
    "node_entry",
    "read_changes",
    "read_with_changes",
    "replace_with_empty",
    "whole_length",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

LOG_SUFFIX = ".changes.jsonl"
"""What a graph file's name is followed by to name its change log."""


def change_log_path(path: Path) -> Path:
    """The change log of the graph file ``path``.

    Args:
        path: A GraphML or JSON file of the graph.
    """
    return path.with_name(path.name + LOG_SUFFIX)


# --- entries ---------------------------------------------------------------------------------------------------


def node_entry(graph: nx.Graph, node: str) -> dict[str, Any]:
    """The entry that sets ``node`` to its state in ``graph`` (all its attributes, or its deletion)."""
    if graph.has_node(node):
        return {"n": node, "d": dict(graph.nodes[node])}
    return {"dn": node}


def edge_entry(graph: nx.Graph, a: str, b: str) -> dict[str, Any]:
    """The entry that sets the edge ``a``-``b`` to its state in ``graph`` (all its attributes, or its deletion)."""
    if graph.has_edge(a, b):
        return {"e": [a, b], "d": dict(graph.edges[a, b])}
    return {"de": [a, b]}


def kv_entry(data: MutableMapping[str, Any], key: str) -> dict[str, Any]:
    """The entry that sets ``key`` to its value in ``data`` (or its deletion)."""
    if key in data:
        return {"k": key, "v": data[key]}
    return {"k": key, "del": True}


def apply_graph_changes(graph: nx.Graph, entries: Iterable[dict[str, Any]]) -> nx.Graph:
    """Replay graph entries on ``graph`` (in place), in order.

    Args:
        graph: The graph as its file holds it.
        entries: Entries of :func:`node_entry` and :func:`edge_entry`.

    Returns:
        ``graph``.
    """
    for entry in entries:
        if "n" in entry:
            node = entry["n"]
            if graph.has_node(node):
                graph.nodes[node].clear()
            graph.add_node(node, **entry["d"])
        elif "dn" in entry:
            if graph.has_node(entry["dn"]):
                graph.remove_node(entry["dn"])
        elif "e" in entry:
            a, b = entry["e"]
            if graph.has_edge(a, b):
                graph.edges[a, b].clear()
            graph.add_edge(a, b, **entry["d"])
        elif "de" in entry:
            a, b = entry["de"]
            if graph.has_edge(a, b):
                graph.remove_edge(a, b)
    return graph


def apply_kv_changes(data: MutableMapping[str, Any], entries: Iterable[dict[str, Any]]) -> MutableMapping[str, Any]:
    """Replay key-value entries on ``data`` (in place), in order.

    Args:
        data: The store as its file holds it.
        entries: Entries of :func:`kv_entry`.

    Returns:
        ``data``.
    """
    for entry in entries:
        if entry.get("del"):
            data.pop(entry["k"], None)
        else:
            data[entry["k"]] = entry["v"]
    return data


# --- the file --------------------------------------------------------------------------------------------------


def _lines(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The entries of the log's whole lines, and the length in bytes they take."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    entries: list[dict[str, Any]] = []
    length = 0
    for line in raw.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break  # the last line, cut short by a crash during its append: never committed
        try:
            entry = json.loads(line)
        except ValueError:
            if length + len(line) < len(raw):
                logger.warning(
                    "the change log %s has a damaged line at byte %d; the changes after it are not read", path, length
                )
            break
        if not isinstance(entry, dict):
            break
        entries.append(entry)
        length += len(line)
    return entries, length


def read_changes(path: Path) -> list[dict[str, Any]]:
    """The entries of a change log, in order (none if it does not exist); a last line cut short is left out.

    Args:
        path: The change log.
    """
    return _lines(path)[0]


def _inodes(path: Path) -> tuple[int | None, int | None]:
    found: list[int | None] = []
    for candidate in (path, change_log_path(path)):
        try:
            found.append(os.stat(candidate).st_ino)
        except FileNotFoundError:
            found.append(None)
    return found[0], found[1]


def read_with_changes(path: Path, read: Callable[[Path], T]) -> tuple[T, list[dict[str, Any]]]:
    """A graph file read by ``read``, and the entries of its change log, as one consistent pair.

    A writer in another process may write the file whole and then replace its log with an empty one while this
    reads them: the file and the log are read again until neither was replaced during the reading (the file
    read before its log was emptied already holds the log's entries, and replaying them changes nothing).

    Args:
        path: The graph file.
        read: Reads it (``None`` or an empty value where it does not exist).

    Returns:
        What ``read`` returned, and the log's entries.
    """
    for _ in range(_READ_TRIES - 1):
        before = _inodes(path)
        value, changes = read(path), read_changes(change_log_path(path))
        if _inodes(path) == before:
            return value, changes
    return read(path), read_changes(change_log_path(path))


_READ_TRIES = 20
"""How many times :func:`read_with_changes` reads a file and its log before it takes what it read (a writer
compacts a file at most once per save, so two tries are nearly always enough)."""


def whole_length(path: Path) -> int:
    """The length in bytes of the log's whole lines (what an append may follow).

    Args:
        path: The change log.
    """
    return _lines(path)[1]


def append_changes(path: Path, entries: Iterable[dict[str, Any]]) -> int:
    """Append entries to a change log as JSON lines and fsync it (the log is created if missing).

    Strings are written with ASCII escapes, so that any string Python holds (a lone surrogate included) is
    written and read back as it was. A last line cut short (an append that died) is cut off first.

    Args:
        path: The change log.
        entries: The entries, in the order they are to be replayed.

    Returns:
        The log's length after the append.

    Raises:
        OSError: If the log cannot be written; what was appended is then not read, unless whole.
    """
    payload = b"".join(json.dumps(e, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n" for e in entries)
    created = not path.exists()
    if not created and not _ends_whole(path):
        os.truncate(path, whole_length(path))
    with open(path, "ab") as handle:
        if payload:
            handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
        length = handle.tell()
    if created:
        fsync_dir(path.parent)
    return length


def _ends_whole(path: Path) -> bool:
    """Whether the log is empty or ends with a newline (a cheap look at its last byte)."""
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return True
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def replace_with_empty(path: Path) -> None:
    """Replace a change log by a new, empty file (atomically; the old inode is left to any hard link to it).

    Args:
        path: The change log.
    """
    staged = path.with_name(f".mmrag-save-{path.name}")
    with open(staged, "wb") as handle:
        os.fsync(handle.fileno())
    os.replace(staged, path)
    fsync_dir(path.parent)

