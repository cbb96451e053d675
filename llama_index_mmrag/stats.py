"""What a store holds, counted from the stores themselves (Milvus and the LightRAG graph), not from the manifest.

Two ways to count the same things: through an open :class:`~llama_index_mmrag.rag.MultimodalRAG`
(``rag.stats()``), and :func:`read_store_stats`, which reads a store the way ``mmrag stats`` does, with
pymilvus and the graph's files only: no LlamaIndex, LightRAG, RAG-Anything or embedding model is imported, so
the command answers in about a second instead of ten.

Example:
    >>> rag.stats()
    {'docs': 2, 'nodes': {'text': 3, 'image': 1, 'table': 0, 'equation': 0}, 'entities': ..., 'relations': ...}
    >>> rag.stats(doc="milvus_faq.txt")["nodes"]
    {'text': 3, 'image': 0, 'table': 0, 'equation': 0}
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> read_store_stats(MMRAGSettings(storage_dir=rag.settings.storage_dir)).stats["docs"]  # what `mmrag stats` reads
    2
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.doc_names import UnknownDocumentError, resolve_document
from llama_index_mmrag.graph.file_counts import FILE_GRAPH_STORAGE, GraphFiles
from llama_index_mmrag.stores.literals import escape_string
from llama_index_mmrag.stores.milvus import CollectionRows, Rows, count_rows, ensure_loaded, quiet_scan_warnings, scan_rows

if TYPE_CHECKING:
    from llama_index_mmrag.manifest import DocRecord
    from llama_index_mmrag.settings import MMRAGSettings


class StoreStats(TypedDict):
    """Counts of a store, or of one document in it.

    Args:
        docs: Documents with nodes in Milvus (1 or 0 for one document).
        nodes: Milvus nodes per modality (every modality listed, zeros included).
        entities: Graph entities (for one document: those with a source chunk of that document).
        relations: Graph relations (for one document: those with a source chunk of that document).

    Example:
        >>> stats = rag.stats()
        >>> sorted(stats), stats["docs"], stats["nodes"]["image"]
        (['docs', 'entities', 'nodes', 'relations'], 2, 1)
    """

    docs: int
    nodes: dict[str, int]
    entities: int
    relations: int


def doc_expression(doc: str) -> str:
    """The Milvus filter selecting one document's nodes (the name escaped, quotes and all).

    Args:
        doc: A document name.

    Example:
        >>> doc_expression('it\\'s "quoted".txt')
        'doc == "it\\'s \\\\"quoted\\\\".txt"'
    """
    return f"doc == {escape_string(doc)}"


def vector_counts(store: Rows, doc: str | None = None) -> tuple[int, dict[str, int]]:
    """``(documents, nodes per modality)`` counted in the Milvus collection.

    Args:
        store: The store (or any client and collection name).
        doc: Count one document's nodes only.
    """
    scope = doc_expression(doc) if doc is not None else ""
    nodes = {}
    for modality in MODALITIES:
        expr = f"modality == {escape_string(modality)}"
        nodes[modality] = count_rows(store, f"({scope}) and {expr}" if scope else expr)
    if doc is not None:
        return int(any(nodes.values())), nodes
    docs = {str(row.get("doc")) for row in scan_rows(store, ["doc"]) if row.get("doc") is not None}
    return len(docs), nodes


def doc_node_ids(store: Rows, doc: str) -> set[str]:
    """Ids of one document's nodes in Milvus.

    Args:
        store: The store.
        doc: The document name.
    """
    return {str(row["id"]) for row in scan_rows(store, ["id"], doc_expression(doc))}


@dataclass
class StoreReading:
    """What :func:`read_store_stats` read.

    Args:
        stats: The counts (as :meth:`~llama_index_mmrag.rag.MultimodalRAG.stats` returns them).
        documents: The manifest's records: every document, or the counted one (none if it is not recorded).

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> reading = read_store_stats(MMRAGSettings(storage_dir=rag.settings.storage_dir))   # no LlamaIndex
        >>> reading.stats["docs"], sorted(record.doc for record in reading.documents)
        (2, ['milvus_architecture.png', 'milvus_faq.txt'])
    """

    stats: StoreStats
    documents: list[DocRecord] = field(default_factory=list)


def read_store_stats(settings: MMRAGSettings, doc: str | None = None) -> StoreReading | None:
    """Count a store as :meth:`~llama_index_mmrag.rag.MultimodalRAG.stats` does, and list its documents as
    :meth:`~llama_index_mmrag.rag.MultimodalRAG.documents` does, without opening the facade: the manifest,
    pymilvus and the graph's files only.

    Returns ``None`` (open the facade instead) where only the facade gives the same answer: a write is
    pending in the store's journal (opening the store may recover it first), the graph lives in Neo4j, the
    collection does not exist yet, or a graph file does not parse (LightRAG's storages repair it on load).

    Args:
        settings: Where the store is.
        doc: Count one document, named as ``mmrag delete`` accepts (``report``, ``Report.PDF``).

    Raises:
        RuntimeError: If the manifest or the journal is unreadable, or Milvus cannot be reached.
        UnknownDocumentError: If ``doc`` is neither recorded nor has nodes in Milvus.
    """
    from llama_index_mmrag.graph.file_copies import JOURNAL, PENDING
    from llama_index_mmrag.manifest import Manifest

    if settings.graph_storage != FILE_GRAPH_STORAGE:
        return None
    if (settings.storage_dir / JOURNAL / PENDING).exists():  # opening the store resolves it (or says why not)
        return None
    manifest = Manifest(settings.storage_dir / "manifest.json")
    graph = GraphFiles.of(settings)
    try:
        graph.read_graph()  # a file LightRAG would repair on load is left to it
    except ValueError:
        return None
    quiet_scan_warnings()
    client = _milvus_client(settings)
    try:
        if not client.has_collection(settings.milvus_collection):
            return None
        rows = ensure_loaded(CollectionRows(client, settings.milvus_collection))
        known = [r.doc for r in manifest.docs()]
        name: str | None = None
        if doc is not None:
            try:
                name = resolve_document(doc, known, settings.storage_dir)
            except UnknownDocumentError:
                # rows Milvus holds under a name the manifest does not record are still counted
                if isinstance(doc, Path) or not doc_node_ids(rows, doc):
                    raise
                name = doc
        docs, nodes = vector_counts(rows, name)
        chunk_ids = doc_node_ids(rows, name) if name is not None else None
    finally:
        client.close()
    try:
        entities, relations = graph.counts(chunk_ids)
    except ValueError:  # replaced by an unreadable file since it was checked above
        return None
    if doc is None:
        records = manifest.docs()
    else:
        record = manifest.get(name) if name in known else None
        records = [record] if record is not None else []
    return StoreReading(StoreStats(docs=docs, nodes=nodes, entities=entities, relations=relations), records)


def _milvus_client(settings: MMRAGSettings) -> Any:
    """A ``MilvusClient`` on the store's Milvus (a Lite store through its local server)."""
    from pymilvus import MilvusClient

    from llama_index_mmrag.stores.connection import milvus_connection

    try:
        return MilvusClient(**milvus_connection(settings.effective_milvus_uri, settings.milvus_token))
    except RuntimeError:  # the local Lite server's own error says what to do
        raise
    except Exception as exc:
        where = settings.milvus_uri or f"Milvus Lite at {settings.milvus_lite_path}"
        hint = (
            "check MILVUS_URI / MILVUS_TOKEN and that the server is up"
            if settings.milvus_uri
            else "check that no other program has opened this store with Milvus Lite directly"
        )
        raise RuntimeError(f"cannot reach Milvus ({where}): {exc}; {hint}") from exc
