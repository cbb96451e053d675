"""Copies of the graph's files: how a whole file ends, and where the store's journal keeps the copies a damaged
file is restored from (the journal, :mod:`llama_index_mmrag.index.journal`, writes them; the graph's file
storages, :mod:`llama_index_mmrag.graph.file_storage`, read them).

Example:
    >>> restore_sources(None)
    []
"""

from __future__ import annotations

import json
from pathlib import Path

JOURNAL = "journal"
"""The journal's folder, in the store."""
LAST_GOOD = "graph-good"
"""Under the journal's folder: a copy of the graph's files as of the last committed batch of writes."""
BEFORE_WRITE = "graph-before"
"""Under the journal's folder: the graph's files as they were before the pending write (hard links, under
``tree``)."""
PENDING = "pending.json"
"""Under the journal's folder: the pending write's record."""
LOG_LENGTHS = "log-lengths.json"
"""Under :data:`BEFORE_WRITE` (beside ``tree``): the length of each change log before the pending write (its hard
link in ``tree`` may have grown since: a log is appended in place)."""


def restore_sources(journal_dir: str | Path | None) -> list[Path]:
    """Folders mirroring the graph's working dir that a damaged graph file may be restored from, newest first:
    the files as they were before a pending write, then the last good copy.

    Args:
        journal_dir: The store's journal folder (``<store>/journal``); ``None``: no journal, no sources.
    """
    if not journal_dir:
        return []
    folder = Path(journal_dir)
    sources = [folder / BEFORE_WRITE / "tree"] if (folder / PENDING).exists() else []
    sources.append(folder / LAST_GOOD)
    return [s for s in sources if s.is_dir()]


def looks_whole(path: Path) -> bool:
    """Whether a graph file ends as a whole one does (GraphML with its closing tag, JSON with its closing
    bracket): a cheap check against a file cut short (before it becomes the last good copy, when it is loaded).

    Args:
        path: A GraphML or JSON file of the graph (other files are taken as whole).
    """
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - 64))
            tail = handle.read().rstrip()
    except OSError:
        return False
    if path.suffix == ".graphml":
        return tail.endswith(b"</graphml>")
    if path.suffix == ".json":
        return tail.endswith((b"}", b"]"))
    return True


def copied_log(source: Path, relative: Path) -> bytes:
    """What the change log ``relative`` held in a folder of copies (:func:`restore_sources`): the whole file in
    the last good copy, its first bytes up to the recorded length in the files before a write (empty if none).

    Args:
        source: A folder of copies mirroring the graph's working dir.
        relative: The log's path relative to it.

    Example:
        >>> copied_log(Path("/nonexistent"), Path("graph.graphml.changes.jsonl"))
        b''
    """
    try:
        content = (source / relative).read_bytes()
    except FileNotFoundError:
        return b""
    lengths_file = source.parent / LOG_LENGTHS
    if source.name == "tree" and lengths_file.is_file():
        lengths = json.loads(lengths_file.read_text(encoding="utf-8"))
        content = content[: lengths.get(relative.as_posix(), len(content))]
    return content
