"""When another process has written a store's graph files, so that this process re-reads them.

LightRAG reads its file-backed storages (GraphML, JSON key-value stores) once per process and then works from
memory. With several processes on one store (an ingest, queries from other shells, a notebook), a process must
notice that the files changed under it: a reader to answer from the current graph, a writer (under the store's
write lock) so that it never writes its stale copy over another process's work.

Example:
    >>> state = GraphFileState(Path("/tmp/mmrag-doctest-graph"))
    >>> state.mark_seen(); state.changed()
    False
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["GraphFileState"]

_GRAPH_SUFFIXES = (".graphml", ".json")


class GraphFileState:
    """The (name, size, mtime) of every graph file under a LightRAG working directory, as last seen.

    Args:
        graph_dir: LightRAG's working directory.
    """

    def __init__(self, graph_dir: Path) -> None:
        self.graph_dir = graph_dir
        self._seen: tuple[tuple[str, int, int], ...] | None = None

    def signature(self) -> tuple[tuple[str, int, int], ...]:
        """The files' current state; files are replaced atomically, so a new write always shows here."""
        entries: list[tuple[str, int, int]] = []
        for root, _dirs, files in os.walk(self.graph_dir):
            for name in files:
                if not name.endswith(_GRAPH_SUFFIXES):
                    continue
                path = os.path.join(root, name)
                try:
                    stat = os.stat(path)
                except OSError:  # replaced between listing and stat: the next check sees the new one
                    continue
                entries.append((os.path.relpath(path, self.graph_dir), stat.st_size, stat.st_mtime_ns))
        return tuple(sorted(entries))

    def mark_seen(self) -> None:
        """Record the files as they are now (this process's memory matches them)."""
        self._seen = self.signature()

    def changed(self) -> bool:
        """Whether the files differ from what was last marked seen (never marked: not changed)."""
        return self._seen is not None and self.signature() != self._seen
