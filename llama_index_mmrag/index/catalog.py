"""DocumentCatalog: what a store holds, read back: its documents' records, the name a document is asked for by,
and counts from Milvus and the graph themselves.

Example:
    >>> catalog = rag.catalog  # the facade's
    >>> catalog.resolve("Milvus_FAQ"), catalog.get("nothing", default=None)
    ('milvus_faq.txt', None)
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.doc_names import UnknownDocumentError, resolve_document
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.stats import StoreStats, doc_node_ids, vector_counts

if TYPE_CHECKING:
    from llama_index.vector_stores.milvus import MilvusVectorStore

    from llama_index_mmrag.graph.store import GraphStore

_RAISE: Any = object()
"""Marks a missing ``default`` argument."""


class DocumentCatalog:
    """The documents of a store, from its manifest (re-read when another process changed it), and its counts.

    Args:
        storage_dir: The store (named in errors).
        manifest: Its records.
        vector_store: The Milvus store of its nodes.
        graph: Its knowledge graph.

    Example:
        >>> catalog = DocumentCatalog(rag.settings.storage_dir, rag.manifest, rag.vector_store, rag.graph)
        >>> [r.doc for r in catalog.documents()]
        ['milvus_architecture.png', 'milvus_faq.txt']
    """

    def __init__(self, storage_dir: Path, manifest: Manifest, vector_store: MilvusVectorStore, graph: GraphStore) -> None:
        self.storage_dir = storage_dir
        self.manifest = manifest
        self.vector_store = vector_store
        self.graph = graph

    def documents(self) -> list[DocRecord]:
        """The records of the stored documents, by name."""
        self.manifest.reload_if_changed()
        return self.manifest.docs()

    def resolve(self, doc: str | Path) -> str:
        """The stored name a document is asked for by (see :func:`~llama_index_mmrag.doc_names.match_document`:
        exact name, file name of a path, name ignoring case, name without its extension).

        Args:
            doc: The name as given.

        Raises:
            UnknownDocumentError: If nothing stored matches (the error names the closest stored names).
            AmbiguousDocumentError: If several stored documents match.
        """
        return resolve_document(doc, [r.doc for r in self.documents()], self.storage_dir)

    def resolve_many(self, doc: str | Path | Sequence[str | Path] | None) -> str | list[str] | None:
        """:meth:`resolve` of one name or of each of several (``None`` stays ``None``).

        Args:
            doc: One name, several, or ``None``.
        """
        if doc is None or isinstance(doc, (str, Path)):
            return None if doc is None else self.resolve(doc)
        return [self.resolve(d) for d in doc]

    def get(self, doc: str | Path, default: Any = _RAISE) -> DocRecord | Any:
        """The record ``doc`` names (as :meth:`resolve` reads names); ``default`` when none does, if one is given
        (else the :meth:`resolve` error).

        Args:
            doc: The document's name.
            default: The answer for a name no record (or more than one) has.
        """
        try:
            name = self.resolve(doc)
        except UnknownDocumentError:
            if default is _RAISE:
                raise
            return default
        record = self.manifest.get(name)
        return record if record is not None else default

    async def astats(self, doc: str | Path | None = None) -> StoreStats:
        """Count what the store holds, from Milvus and the graph themselves (not from the manifest).

        Args:
            doc: Count one document: its nodes, and the entities and relations with a source chunk in it.

        Raises:
            UnknownDocumentError: If ``doc`` is neither recorded nor has nodes in Milvus.
        """
        name = None
        if doc is not None:
            try:
                name = self.resolve(doc)
            except UnknownDocumentError:
                # rows Milvus holds under a name the manifest does not record are still counted
                if isinstance(doc, Path) or not await asyncio.to_thread(doc_node_ids, self.vector_store, doc):
                    raise
                name = doc
        docs, nodes = await asyncio.to_thread(vector_counts, self.vector_store, name)
        chunk_ids = None
        if name is not None:
            chunk_ids = await asyncio.to_thread(doc_node_ids, self.vector_store, name)
        entities, relations = await self.graph.acounts(chunk_ids)
        return StoreStats(docs=docs, nodes=nodes, entities=entities, relations=relations)
