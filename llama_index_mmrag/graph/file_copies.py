"""Copies of the graph's files: how a whole file ends, and where the store's journal keeps the copies a damaged
file is restored from (the journal, :mod:`llama_index_mmrag.index.journal`, writes them; the graph's file
storages, :mod:`llama_index_mmrag.graph.file_storage`, read them).

Example:
    >>> restore_sources(None)
    []
"""

from __future__ import annotations

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
