"""The graph's files read as they are on disk, without LightRAG: for commands that only count (``mmrag stats``).

With the default NetworkX graph storage, LightRAG keeps a store's graph in files under
``<store>/lightrag/<workspace>/``: the graph itself as GraphML, and per entity and per relation the full list of
chunks that support it (JSON key-value files), each with its change log (what saves since the file was last
written whole changed, :mod:`llama_index_mmrag.graph.change_log`). A file is only ever replaced whole
(atomically) and a log read only up to its last whole line, so another process may read them at any time. Reading them with the standard library takes milliseconds; starting LightRAG
to read them takes seconds of imports.

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> files = GraphFiles.of(MMRAGSettings(storage_dir=rag.settings.storage_dir))  # the demo's store
    >>> files.counts() == (rag.stats()["entities"], rag.stats()["relations"])
    True
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.graph.change_log import apply_kv_changes, read_with_changes

if TYPE_CHECKING:
    from llama_index_mmrag.settings import MMRAGSettings

__all__ = [
    "FILE_GRAPH_STORAGE",
    "GRAPH_FIELD_SEP",
    "GraphFiles",
    "initial_workspace",
    "legacy_workspace",
    "relation_key",
    "split_sources",
    "workspace_name",
]

GRAPH_FIELD_SEP = "<SEP>"
"""LightRAG's separator between a graph element's source chunk ids (``lightrag.constants.GRAPH_FIELD_SEP``)."""
FILE_GRAPH_STORAGE = "NetworkXStorage"
"""The graph storage whose files this module reads (Neo4j keeps its graph in the database)."""
_GRAPHML = "{http://graphml.graphdrawing.org/xmlns}"


def workspace_name(settings: MMRAGSettings) -> str:
    """The store's LightRAG workspace: the one its descriptor records (``store.json``, see
    :class:`~llama_index_mmrag.manifest.StoreIdentity`), else the one it has on disk (:func:`legacy_workspace`).

    The graph's folder is ``<store>/lightrag/<workspace>``, and LightRAG names its Milvus collections after it
    (on a Milvus server, that keeps the graphs of two stores apart). It is an id, not a path: a store moved or
    copied elsewhere keeps its graph.

    Args:
        settings: The store's settings.

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> workspace_name(MMRAGSettings(storage_dir="/data/store")).startswith("mmrag_")
        True
    """
    from llama_index_mmrag.manifest import StoreIdentity

    identity = StoreIdentity.read(settings.storage_dir)
    return identity.workspace if identity is not None else legacy_workspace(settings)


def legacy_workspace(settings: MMRAGSettings) -> str:
    """The workspace of a store with no recorded one: the folder its graph is in, else one named after its path.

    Stores made before workspaces were recorded named it ``<collection>_<digest of the store's absolute path>``;
    a store moved since then still has its graph in the folder of its old path. So: the folder named after the
    current path if it exists, else the most recently written ``<collection>_*`` folder, else the name the
    current path gives.

    Args:
        settings: The store's settings.

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> legacy_workspace(MMRAGSettings(storage_dir="/nonexistent/store"))[:6]
        'mmrag_'
    """
    digest = hashlib.sha1(str(settings.storage_dir.resolve()).encode()).hexdigest()[:8]
    by_path = f"{settings.milvus_collection}_{digest}"
    prefix = settings.milvus_collection
    folders = [
        p for p in (settings.graph_dir.iterdir() if settings.graph_dir.is_dir() else ())
        if p.is_dir() and p.name.startswith(prefix) and _LEGACY_NAME.fullmatch(p.name[len(prefix) :])
    ]
    if not folders or any(p.name == by_path for p in folders):
        return by_path
    return max(folders, key=_last_written).name


_LEGACY_NAME = re.compile(r"_[0-9a-f]{8}")
"""What follows the collection name in a workspace name."""


def _last_written(folder: Path) -> float:
    """When a file in ``folder`` was last written (the folder's own time if it holds none)."""
    times = [p.stat().st_mtime for p in folder.iterdir() if p.is_file()]
    return max(times, default=folder.stat().st_mtime)


def initial_workspace(settings: MMRAGSettings) -> tuple[str, bool]:
    """The workspace to record for a store that has none recorded, and whether the store existed already.

    A store already holding data (a manifest, a Milvus Lite database or a graph) keeps the workspace its graph
    is in (:func:`legacy_workspace`); a new store gets a fresh one: the collection name and 8 random hex digits.

    Args:
        settings: The store's settings.

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> name, existed = initial_workspace(MMRAGSettings(storage_dir="/nonexistent/store"))
        >>> len(name), existed
        (14, False)
    """
    marks = (settings.storage_dir / "manifest.json", settings.milvus_lite_path, settings.graph_dir)
    if any(p.exists() for p in marks):
        return legacy_workspace(settings), True
    return f"{settings.milvus_collection}_{secrets.token_hex(4)}", False


def relation_key(source: str, target: str) -> str:
    """The key of a relation in LightRAG's relation chunk-tracking file (``make_relation_chunk_key``).

    Args:
        source: One entity of the relation.
        target: The other entity.

    Example:
        >>> relation_key("milvus", "amazon s3")
        'amazon s3<SEP>milvus'
    """
    return GRAPH_FIELD_SEP.join(sorted((source, target)))


def split_sources(value: Any) -> list[str]:
    """The chunk ids in a graph element's ``source_id`` (joined by :data:`GRAPH_FIELD_SEP`).

    Args:
        value: The ``source_id`` as stored (``None`` for none).

    Example:
        >>> split_sources("chunk-a<SEP>chunk-b")
        ['chunk-a', 'chunk-b']
    """
    return [s for s in str(value or "").split(GRAPH_FIELD_SEP) if s]


@dataclass(frozen=True)
class GraphFiles:
    """One store's graph files (NetworkX graph storage).

    Args:
        folder: The workspace folder, ``<store>/lightrag/<workspace>``.

    Example:
        >>> GraphFiles(Path("store/lightrag/mmrag_1a2b3c4d")).graphml.name
        'graph_chunk_entity_relation.graphml'
    """

    folder: Path

    @classmethod
    def of(cls, settings: MMRAGSettings) -> GraphFiles:
        """The graph files of the store the settings describe.

        Args:
            settings: The store's settings.
        """
        return cls(settings.graph_dir / workspace_name(settings))

    @property
    def graphml(self) -> Path:
        """The graph (entities and relations with their ``source_id``)."""
        return self.folder / "graph_chunk_entity_relation.graphml"

    def read_graph(self) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
        """Entities and relations with their source chunk ids, as LightRAG's NetworkX storage loads them (an
        undirected graph: a relation given twice is one; an entity named only by a relation is one). No file is
        an empty graph.

        Raises:
            ValueError: If the file is not GraphML that can be read.
        """
        try:
            root, changes = read_with_changes(self.graphml, _parse_xml)
        except ET.ParseError as exc:
            raise ValueError(f"the graph file {self.graphml} cannot be read: {exc}") from exc
        if root is None:
            return _replay_graph({}, {}, changes)
        source_keys = {
            key.get("id")
            for key in root.iter(f"{_GRAPHML}key")
            if key.get("attr.name") == "source_id"
        }
        graph = root.find(f"{_GRAPHML}graph")
        if graph is None:
            return _replay_graph({}, {}, changes)
        if graph.get("edgedefault", "undirected") != "undirected":
            raise ValueError(f"the graph file {self.graphml} holds a directed graph; LightRAG writes undirected ones")

        def source_ids(element: ET.Element) -> list[str]:
            for data in element.iter(f"{_GRAPHML}data"):
                if data.get("key") in source_keys:
                    return split_sources(data.text)
            return []

        entities: dict[str, list[str]] = {}
        relations: dict[tuple[str, str], list[str]] = {}
        for node in graph.iter(f"{_GRAPHML}node"):
            entities[str(node.get("id"))] = source_ids(node)
        for edge in graph.iter(f"{_GRAPHML}edge"):
            source, target = str(edge.get("source")), str(edge.get("target"))
            for name in (source, target):
                entities.setdefault(name, [])
            pair = (source, target) if source <= target else (target, source)
            relations[pair] = source_ids(edge) or relations.get(pair, [])
        return _replay_graph(entities, relations, changes)

    def tracked_chunks(self, namespace: str, keys: Iterable[str]) -> list[list[str] | None]:
        """LightRAG's full chunk lists for these keys (``namespace`` is ``entity_chunks`` or
        ``relation_chunks``); ``None`` for a key (or a store) without one.

        Args:
            namespace: The key-value file's namespace.
            keys: Entity names, or :func:`relation_key` of relations.

        Raises:
            ValueError: If the file exists but is not JSON.
        """
        path = self.folder / f"kv_store_{namespace}.json"
        try:
            records, changes = read_with_changes(path, _parse_json)
        except ValueError as exc:
            raise ValueError(f"the graph file {path} cannot be read: {exc}") from exc
        if not isinstance(records, dict):
            records = {}
        apply_kv_changes(records, changes)
        found: list[list[str] | None] = []
        for key in keys:
            record = records.get(key)
            chunks = record.get("chunk_ids") if isinstance(record, dict) else None
            found.append([str(c) for c in chunks] if chunks else None)
        return found

    def counts(self, chunk_ids: set[str] | None = None) -> tuple[int, int]:
        """``(entities, relations)``; with ``chunk_ids``, only those with a source among them (LightRAG's full
        chunk-tracking lists where kept, else the graph's own ``source_id``), as
        :func:`llama_index_mmrag.graph.live.agraph_counts` counts through LightRAG.

        Args:
            chunk_ids: Chunk ids of one document.

        Raises:
            ValueError: If a graph file cannot be read.
        """
        entities, relations = self.read_graph()
        if chunk_ids is None:
            return len(entities), len(relations)
        tracked = self.tracked_chunks("entity_chunks", entities)
        entity_count = sum(
            1 for own, full in zip(entities.values(), tracked) if not chunk_ids.isdisjoint(full or own)
        )
        tracked = self.tracked_chunks("relation_chunks", (relation_key(*pair) for pair in relations))
        relation_count = sum(
            1 for own, full in zip(relations.values(), tracked) if not chunk_ids.isdisjoint(full or own)
        )
        return entity_count, relation_count


def _parse_xml(path: Path) -> ET.Element | None:
    """The root element of an XML file (``None`` if there is none)."""
    try:
        return ET.parse(path).getroot()
    except FileNotFoundError:
        return None


def _parse_json(path: Path) -> Any:
    """The content of a JSON file (``{}`` if there is none)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


def _replay_graph(
    entities: dict[str, list[str]], relations: dict[tuple[str, str], list[str]], changes: list[dict[str, Any]]
) -> tuple[dict[str, list[str]], dict[tuple[str, str], list[str]]]:
    """Entities and relations with a graph change log's entries replayed on them (as
    :func:`~llama_index_mmrag.graph.change_log.apply_graph_changes` replays them on the graph)."""
    for entry in changes:
        if "n" in entry:
            entities[entry["n"]] = split_sources(entry["d"].get("source_id"))
        elif "dn" in entry:
            gone = entry["dn"]
            entities.pop(gone, None)
            for pair in [p for p in relations if gone in p]:
                del relations[pair]
        elif "e" in entry or "de" in entry:
            a, b = entry.get("e") or entry["de"]
            pair = (a, b) if a <= b else (b, a)
            if "de" in entry:
                relations.pop(pair, None)
            else:
                entities.setdefault(a, [])
                entities.setdefault(b, [])
                relations[pair] = split_sources(entry["d"].get("source_id"))
    return entities, relations
