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

import asyncio
from collections.abc import Sequence
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode
from llama_index.core.utils import iter_batch
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import node_to_metadata_dict
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.schema.store_paths import resolved_node, stored_node
from llama_index_mmrag.stores.image_field import IMAGE_VECTOR_FLAG, IMAGE_VECTOR_KEY, ImageField, image_request_filter

__all__ = ["MMRAGMilvusVectorStore"]

_CREATING: ContextVar[ImageField | None] = ContextVar("mmrag_creating_image_field", default=None)
"""The image field of the store being constructed (LlamaIndex creates the collection inside its ``__init__``,
before this class's own attributes exist)."""


class MMRAGMilvusVectorStore(MilvusVectorStore):
    """A ``MilvusVectorStore`` that keeps the file paths of its nodes relative to the store's folder.

    With an image field (:class:`~llama_index_mmrag.stores.image_field.ImageField`) a new collection gets a second
    vector field for image vectors; :meth:`add` fills it from the image vector the embed stage put on a node, and
    :meth:`query` given ``image_query_embedding=`` searches it in the same Milvus hybrid request as the dense and
    BM25 fields (fused by the same RRF), under the same filter.

    Args:
        files_root: The store's folder (the one holding ``parsed/`` and ``overflow/``), where it is now.
        image_field: The image field (``None``: the collection has none).
        **kwargs: ``MilvusVectorStore``'s arguments.

    Example:
        >>> store = rag.vector_store                            # the facade's node store
        >>> isinstance(store, MMRAGMilvusVectorStore), store.files_root == rag.settings.storage_dir.absolute()
        (True, True)
    """

    _files_root: Path = PrivateAttr()
    _image_field: ImageField | None = PrivateAttr(default=None)

    def __init__(self, files_root: Path, image_field: ImageField | None = None, **kwargs: Any) -> None:
        token = _CREATING.set(image_field)
        try:
            super().__init__(**kwargs)
        finally:
            _CREATING.reset(token)
        self._files_root = Path(files_root).absolute()
        self._image_field = image_field
        if image_field is not None:
            self._check_image_field(image_field)

    def _check_image_field(self, field: ImageField) -> None:
        """Refuse a collection created without the image field, or with another dimension."""
        described = self.client.describe_collection(self.collection_name)
        found = next((f for f in described.get("fields", []) if f.get("name") == field.name), None)
        if found is None:
            raise ValueError(
                f"the Milvus collection {self.collection_name!r} has no image field ({field.name}): it was created "
                f"without an image embedding; open it without one (MMRAG_IMAGE_EMBED_MODEL=none), or ingest the "
                f"documents into a new store"
            )
        dim = int((found.get("params") or {}).get("dim") or 0)
        if dim != field.dim:
            raise ValueError(
                f"the image field of the Milvus collection {self.collection_name!r} holds {dim}-d vectors, but the "
                f"image embedding makes {field.dim}-d ones: open it with the image model that built it"
            )

    def _add_fields_to_schema(self, schema: Any) -> Any:
        """LlamaIndex's fields, and the image field of a store that has one."""
        from pymilvus import DataType

        schema = super()._add_fields_to_schema(schema)
        field = _CREATING.get()
        if field is not None:
            schema.add_field(field_name=field.name, datatype=DataType.FLOAT_VECTOR, dim=field.dim)
        return schema

    def _add_dense_index_params(self, index_params: Any) -> Any:
        """The dense field's index, and the same kind of index on the image field of a store that has one."""
        index_params = super()._add_dense_index_params(index_params)
        field = _CREATING.get()
        if field is not None:
            dense = self.index_config
            self.index_config = {**dense, "field_name": field.name, "index_name": field.name}
            try:
                index_params = super()._add_dense_index_params(index_params)
            finally:
                self.index_config = dense
        return index_params

    @classmethod
    def class_name(cls) -> str:
        return "MMRAGMilvusVectorStore"

    @property
    def files_root(self) -> Path:
        """The store's folder: node paths are written relative to it and read back under it."""
        return self._files_root

    @property
    def image_field(self) -> ImageField | None:
        """The collection's image field (``None``: it has none)."""
        return self._image_field

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
            nodes: Embedded nodes (an image node's image vector under the ``_image_vector`` metadata key, set by the
                embed stage; never stored in its metadata).
            **add_kwargs: ``MilvusVectorStore.add``'s options.
        """
        if self._image_field is None:
            return super().add([_without_image_vector(node)[0] for node in self._stored(nodes)], **add_kwargs)
        return self._add_with_images(self._stored(nodes), self._image_field, add_kwargs)

    def _add_with_images(self, nodes: Sequence[BaseNode], field: ImageField, add_kwargs: dict[str, Any]) -> list[str]:
        """``MilvusVectorStore.add`` for a collection with an image field (every row needs a value there)."""
        from llama_index.vector_stores.milvus.base import MILVUS_ID_FIELD

        entries: list[dict[str, Any]] = []
        for node in nodes:
            node, vector = _without_image_vector(node)
            entry = node_to_metadata_dict(node, remove_text=True, text_field=self.text_key)
            entry[self.text_key] = node.dict()[self.text_key]
            entry[MILVUS_ID_FIELD] = node.node_id
            entry[self.embedding_field] = node.embedding
            if vector is None:
                entry[field.name] = field.zero_vector()
            else:
                if len(vector) != field.dim:
                    raise ValueError(
                        f"node {node.node_id} of {node.metadata.get('doc')!r} has a {len(vector)}-d image vector, but "
                        f"the store's image field holds {field.dim}-d ones: embed with the store's image model"
                    )
                entry[field.name] = [float(v) for v in vector]
                entry[IMAGE_VECTOR_FLAG] = True
            entries.append(entry)
        write = self.client.upsert if self.upsert_mode else self.client.insert
        for batch in iter_batch(entries, self.batch_size):
            write(self.collection_name, batch, partition_name=add_kwargs.get("milvus_partition_name"))
        if add_kwargs.get("force_flush", False):
            self.client.flush(self.collection_name)
        return [entry[MILVUS_ID_FIELD] for entry in entries]

    async def async_add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Async twin of :meth:`add`.

        Args:
            nodes: Embedded nodes.
            **add_kwargs: ``MilvusVectorStore.async_add``'s options.
        """
        if self._image_field is not None:  # the image field is written by the one synchronous path
            return await asyncio.to_thread(self.add, nodes, **add_kwargs)
        return await super().async_add([_without_image_vector(n)[0] for n in self._stored(nodes)], **add_kwargs)

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Search; the nodes come back with absolute paths under the store's folder.

        Args:
            query: The query.
            **kwargs: ``MilvusVectorStore.query``'s options, and with an image field ``image_query_embedding`` (the
                question embedded by the image model's text side: its image request joins the dense and BM25
                ones) and ``image_only`` (search the image field alone).
        """
        image_embedding = kwargs.pop("image_query_embedding", None)
        image_only = bool(kwargs.pop("image_only", False))
        if image_embedding is not None and self._image_field is not None:
            result = self._search_with_images(query, image_embedding, self._image_field, image_only, kwargs)
        elif image_only:
            raise ValueError("an image-only search needs a store with an image field and the question's image embedding")
        else:
            result = super().query(query, **self._search_kwargs(kwargs))
        result.nodes = self._resolved(result.nodes)
        return result

    def _search_with_images(
        self,
        query: VectorStoreQuery,
        image_embedding: list[float],
        field: ImageField,
        image_only: bool,
        kwargs: dict[str, Any],
    ) -> VectorStoreQueryResult:
        """One Milvus request: the image field's, with the dense and (hybrid) BM25 ones, fused by RRF."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expr = str(kwargs.get("string_expr") or "")
        _, output_fields = self._prepare_before_search(query)
        limit = query.similarity_top_k

        def params() -> dict[str, Any]:  # a fresh dict per request: pymilvus writes into the one it gets
            return {"metric_type": self.similarity_metric, "params": dict(self.search_config or {})}

        image_expr = image_request_filter(expr)
        if image_only:
            res = self.client.search(
                collection_name=self.collection_name, data=[image_embedding], filter=image_expr, limit=limit,
                output_fields=output_fields, search_params=params(), anns_field=field.name,
            )
        else:
            requests = [AnnSearchRequest(data=[query.query_embedding], anns_field=self.embedding_field, param=params(),
                                         limit=limit, expr=expr)]
            if query.mode == VectorStoreQueryMode.HYBRID and self.enable_sparse:
                requests.append(AnnSearchRequest(data=[query.query_str], anns_field=self.sparse_embedding_field,
                                                 param={"metric_type": "BM25"}, limit=limit, expr=expr))
            requests.append(AnnSearchRequest(data=[image_embedding], anns_field=field.name, param=params(),
                                             limit=limit, expr=image_expr))
            ranker = RRFRanker(int((self.hybrid_ranker_params or {}).get("k", 60)))
            res = self.client.hybrid_search(
                self.collection_name, requests, ranker=ranker, limit=limit, output_fields=output_fields
            )
        nodes, similarities, ids = self._parse_from_milvus_results(res)
        return VectorStoreQueryResult(nodes=nodes, similarities=similarities, ids=ids)

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


def _without_image_vector(node: BaseNode) -> tuple[BaseNode, list[float] | None]:
    """The node without the image vector the embed stage handed over in its metadata (a copy), and that vector."""
    if IMAGE_VECTOR_KEY not in node.metadata:
        return node, None
    metadata = dict(node.metadata)
    vector = metadata.pop(IMAGE_VECTOR_KEY)
    return node.model_copy(update={"metadata": metadata}), vector
