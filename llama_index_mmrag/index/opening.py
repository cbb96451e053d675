"""OpenStore: a store's parts opened together (identity check, graph, Milvus, manifest, write index, catalog).

The facade (:class:`~llama_index_mmrag.rag.MultimodalRAG`) opens one; :mod:`llama_index_mmrag.direct_delete` opens
only what deleting needs, without LlamaIndex.
"""

from __future__ import annotations

import contextlib
import logging
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.index.catalog import DocumentCatalog
from llama_index_mmrag.index.identity import open_identity
from llama_index_mmrag.index.writer import DocumentIndex
from llama_index_mmrag.manifest import Manifest, StoreIdentity
from llama_index_mmrag.models.adapters import lightrag_llm_func
from llama_index_mmrag.models.embeddings import embedding_name
from llama_index_mmrag.runtime import BackgroundLoop, engine_loop
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.lite_server import LiteStoreHold, hold_lite_store
from llama_index_mmrag.stores.image_field import ImageField
from llama_index_mmrag.stores.milvus import build_vector_store

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import LLM
    from llama_index.vector_stores.milvus import MilvusVectorStore

logger = logging.getLogger(__name__)

__all__ = ["OpenStore"]


@dataclass
class OpenStore:
    """The parts of one open store, opened by :meth:`open` and released by :meth:`close`.

    Args:
        settings: The store's settings.
        identity: What built the store (embedding model, dimension, graph workspace).
        loop: The engine loop the graph and the writes run on.
        graph: Its knowledge graph.
        vector_store: Its Milvus collection.
        manifest: Its documents' records.
        index: The all-or-nothing writer across the three.
        catalog: The stored documents read back.
        lite_hold: This process's hold on a Milvus Lite store's local server (``None`` for a server URI).

    Example:
        >>> store = OpenStore.open(rag.settings, rag.embed_model, rag.embed_dim)  # the facade's store, opened again
        >>> store.identity.embed_dim, [r.doc for r in store.catalog.documents()], store.vector_mode
        (384, ['milvus_architecture.png', 'milvus_faq.txt'], 'hybrid')
        >>> store.close()
        >>> rag.stats()["docs"]  # the facade's own handles stay open
        2
    """

    settings: MMRAGSettings
    identity: StoreIdentity
    loop: BackgroundLoop
    graph: GraphStore
    vector_store: MilvusVectorStore
    manifest: Manifest
    index: DocumentIndex[MilvusVectorStore]
    catalog: DocumentCatalog
    lite_hold: LiteStoreHold | None

    @property
    def vector_mode(self) -> Literal["hybrid", "dense"]:
        """``"hybrid"`` (dense and BM25) unless the collection was created dense-only."""
        return "hybrid" if self.vector_store.enable_sparse else "dense"

    @classmethod
    def open(
        cls,
        settings: MMRAGSettings,
        embed_model: BaseEmbedding,
        embed_dim: int,
        llm: LLM | None = None,
        image_field: ImageField | None = None,
    ) -> OpenStore:
        """Check the store's identity, open the graph first (a copy of this store open in this process is refused
        before Milvus is opened), then Milvus and the manifest, and finish a write a crash left pending.

        Args:
            settings: The store's settings.
            embed_model: The embedding the store is (or will be) built with; recorded on first open, checked after.
            embed_dim: Its dimension.
            llm: The LLM the graph is built with (none: LLM-free extraction).
            image_field: The image embedding and its field (``None``: the store has none); recorded on first open,
                checked after.

        Raises:
            StoreIdentityError: If the store was built with another embedding model or dimension, or another image
                embedding (or none).
        """
        image = (embedding_name(image_field.embed_model), image_field.dim) if image_field else (None, None)
        identity = open_identity(settings, embedding_name(embed_model), embed_dim, image=image)
        loop = engine_loop()
        hold = hold_lite_store(settings)
        graph: GraphStore | None = None
        try:  # a store that fails to open (a bad manifest, an unreachable graph) is let go again
            llm_func = lightrag_llm_func(llm) if llm is not None else None
            graph = GraphStore(settings, embed_model, embed_dim, llm_func=llm_func, loop=loop)
            vector_store = build_vector_store(settings, embed_dim, image_field)
            manifest = Manifest(settings.storage_dir / "manifest.json")
            index = DocumentIndex(
                settings.storage_dir, settings.parsed_dir, vector_store, graph, manifest, settings.graph_dir
            )
            catalog = DocumentCatalog(settings.storage_dir, manifest, vector_store, graph)
            if index.journal.pending() is not None:
                loop.run(index.arecover_at_open())
        except BaseException:
            if graph is not None:
                with contextlib.suppress(Exception):  # the error that stopped the opening is the one to see
                    graph.close()  # lets its workspace go (and LightRAG, if a recovery opened it)
            if hold is not None:
                hold.release()
            raise
        store = cls(settings, identity, loop, graph, vector_store, manifest, index, catalog, hold)
        if hold is not None:  # a store dropped without close() lets the Lite server go too
            weakref.finalize(store, hold.release)
        return store

    def close(self) -> None:
        """Flush the graph and release the stores (a Lite store's local server stops once no process uses it)."""
        self.graph.close()
        try:
            self.vector_store.client.close()
        except Exception:  # closing twice, or a client without close(): nothing left to release
            logger.debug("Milvus client already closed", exc_info=True)
        if self.lite_hold is not None:
            self.lite_hold.release()
