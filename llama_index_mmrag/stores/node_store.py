"""MMRAGMilvusVectorStore: LlamaIndex's Milvus store whose nodes name their files relative to the store's folder.

Every node written goes through :meth:`~MMRAGMilvusVectorStore.add` and every node read back through
:meth:`~MMRAGMilvusVectorStore.query` or :meth:`~MMRAGMilvusVectorStore.get_nodes` (and their async twins): the
one place where the file paths a node carries (an image's picture, text kept aside in ``overflow/``) are made
relative to the store's folder on the way in and absolute under its current folder on the way out (see
:mod:`llama_index_mmrag.schema.store_paths`). A store folder moved or copied elsewhere keeps working.

Example:
    >>> store = rag.vector_store  # what build_vector_store opens for a store
    >>> type(store).__name__, store.files_root == rag.settings.storage_dir.absolute()
    ('MMRAGMilvusVectorStore', True)
    >>> [Path(n.image_path).relative_to(store.files_root).parts[0] for n in store.get_nodes(
    ...     node_ids=rag.document("milvus_architecture.png").node_ids)]  # the picture, copied into the store
    ['parsed']
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery, VectorStoreQueryResult
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.schema.store_paths import resolved_node, stored_node

__all__ = ["MMRAGMilvusVectorStore"]


class MMRAGMilvusVectorStore(MilvusVectorStore):
    """A ``MilvusVectorStore`` that keeps the file paths of its nodes relative to the store's folder.

    Args:
        files_root: The store's folder (the one holding ``parsed/`` and ``overflow/``), where it is now.
        **kwargs: ``MilvusVectorStore``'s arguments.

    Example:
        >>> store = rag.vector_store                            # the facade's node store
        >>> isinstance(store, MMRAGMilvusVectorStore), store.files_root == rag.settings.storage_dir.absolute()
        (True, True)
    """

    _files_root: Path = PrivateAttr()

    def __init__(self, files_root: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._files_root = Path(files_root).absolute()

    @classmethod
    def class_name(cls) -> str:
        return "MMRAGMilvusVectorStore"

    @property
    def files_root(self) -> Path:
        """The store's folder: node paths are written relative to it and read back under it."""
        return self._files_root

    def _stored(self, nodes: Sequence[BaseNode]) -> list[BaseNode]:
        return [stored_node(node, self._files_root) for node in nodes]

    def _resolved(self, nodes: Sequence[BaseNode] | None) -> list[BaseNode]:
        return [resolved_node(node, self._files_root) for node in nodes or []]

    def _search_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A dense search gets a copy of the store's search parameters: pymilvus writes a ``params`` key into the
        ones it is given, and with that key in the store's own, every hybrid search after it is refused."""
        return {"milvus_search_config": dict(self.search_config or {}), **kwargs}

    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Write nodes (their paths into the store made relative to it; the nodes given are left alone).

        Args:
            nodes: Embedded nodes.
            **add_kwargs: ``MilvusVectorStore.add``'s options.
        """
        return super().add(self._stored(nodes), **add_kwargs)

    async def async_add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Async twin of :meth:`add`.

        Args:
            nodes: Embedded nodes.
            **add_kwargs: ``MilvusVectorStore.async_add``'s options.
        """
        return await super().async_add(self._stored(nodes), **add_kwargs)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Search; the nodes come back with absolute paths under the store's folder.

        Args:
            query: The query.
            **kwargs: ``MilvusVectorStore.query``'s options.
        """
        result = super().query(query, **self._search_kwargs(kwargs))
        result.nodes = self._resolved(result.nodes)
        return result

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async twin of :meth:`query`.

        Args:
            query: The query.
            **kwargs: ``MilvusVectorStore.aquery``'s options.
        """
        result = await super().aquery(query, **self._search_kwargs(kwargs))
        result.nodes = self._resolved(result.nodes)
        return result

    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kwargs: Any
    ) -> list[BaseNode]:
        """Nodes by id or filter, with absolute paths under the store's folder.

        Args:
            node_ids: Node ids.
            filters: Metadata filters.
            **kwargs: ``MilvusVectorStore.get_nodes``'s options.
        """
        return self._resolved(super().get_nodes(node_ids=node_ids, filters=filters, **kwargs))

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None, **kwargs: Any
    ) -> list[BaseNode]:
        """Async twin of :meth:`get_nodes`.

        Args:
            node_ids: Node ids.
            filters: Metadata filters.
            **kwargs: ``MilvusVectorStore.aget_nodes``'s options.
        """
        return self._resolved(await super().aget_nodes(node_ids=node_ids, filters=filters, **kwargs))
