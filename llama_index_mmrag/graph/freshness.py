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
import threading
from pathlib import Path

__all__ = ["GraphFileState"]

_GRAPH_SUFFIXES = (".graphml", ".json", ".jsonl")  # .jsonl: their change logs (graph/change_log.py)
_shared: dict[Path, GraphFileState] = {}
_shared_lock = threading.Lock()


class GraphFileState:
    """The (name, size, mtime) of every graph file under a LightRAG working directory, as last seen.

    Args:
        graph_dir: LightRAG's working directory.

    Example:
        >>> state = GraphFileState(Path("graph"))
        >>> state.mark_seen(); state.changed()
        False
        >>> Path("graph").mkdir()
        >>> _ = Path("graph", "graph_chunk_entity_relation.graphml").write_text("<graphml/>")  # another process wrote
        >>> state.changed()
        True
    """

    def __init__(self, graph_dir: Path) -> None:
        self.graph_dir = graph_dir
        self._seen: tuple[tuple[str, int, int], ...] | None = None

    @classmethod
    def of(cls, graph_dir: Path) -> GraphFileState:
        """The state of ``graph_dir`` that every store of that folder in this process shares.

        LightRAG's memory of a workspace outlives the store that read it (it reads the files once per process),
        so a store opened later in the same process compares the files with what that memory was read from:
        if another process wrote them meanwhile, the memory is stale.

        Args:
            graph_dir: LightRAG's working directory.

        Example:
            >>> GraphFileState.of(Path("/tmp/mmrag-doctest-graph")) is GraphFileState.of(Path("/tmp/mmrag-doctest-graph"))
            True
        """
        key = graph_dir.resolve()
        with _shared_lock:
            state = _shared.get(key)
            if state is None:
                state = _shared[key] = cls(graph_dir)
            return state

    def signature(self) -> tuple[tuple[str, int, int], ...]:
        """The files' current state: files are replaced atomically and their change logs grow by appends (or are
        cut back, or replaced), so a new write always shows here."""
        entries: list[tuple[str, int, int]] = []
        for root, _dirs, files in os.walk(self.graph_dir):
            for name in files:
                if not name.endswith(_GRAPH_SUFFIXES) or name.startswith("."):  # not a save's temporary
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
