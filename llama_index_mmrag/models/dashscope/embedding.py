"""DashScope's embeddings: :class:`DashScopeEmbedding` (text, batched within the API's limit) and
:class:`DashScopeMultiModalEmbedding` (text and images in one space)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator, Sequence
from typing import Any, TypeVar

from dashscope import TextEmbedding
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, model_validator
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType

from llama_index_mmrag.models.dashscope.calls import CallContext, call_async, call_sync
from llama_index_mmrag.models.dashscope.connection import DashScopeConnection
from llama_index_mmrag.models.dashscope.images import image_input_to_dashscope
from llama_index_mmrag.models.dashscope.multimodal_models import MULTIMODAL_EMBEDDING_DIMENSIONS, takes_dimension
from llama_index_mmrag.models.dashscope.sdk import (
    AioTextEmbedding,
    InlineAioMultiModalEmbedding,
    InlineMultiModalEmbedding,
)

_T = TypeVar("_T")


#: Texts per request accepted by each text-embedding model (v3/v4: 10, v1/v2: 25).
TEXT_EMBEDDING_BATCH_LIMITS: dict[str, int] = {
    "text-embedding-v1": 25,
    "text-embedding-v2": 25,
    "text-embedding-v3": 10,
    "text-embedding-v4": 10,
}


#: Output dimensions each text-embedding model supports (v1/v2 have one, no parameter).
TEXT_EMBEDDING_DIMENSIONS: dict[str, tuple[int, ...]] = {
    "text-embedding-v1": (1536,),
    "text-embedding-v2": (1536,),
    "text-embedding-v3": (1024, 768, 512, 256, 128, 64),
    "text-embedding-v4": (2048, 1536, 1024, 768, 512, 256, 128, 64),
}


#: Multimodal embedding models with a fixed dimension (no ``dimension`` parameter).
MULTIMODAL_EMBEDDING_FIXED_DIMENSIONS: dict[str, int] = {
    model: dims[0] for model, dims in MULTIMODAL_EMBEDDING_DIMENSIONS.items() if len(dims) == 1
}


_DEFAULT_TEXT_EMBEDDING_BATCH_LIMIT = 10


def _batches(items: Sequence[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _check_produces(model: str, dimension: int, allowed: Sequence[int] | None) -> None:
    """Refuse a dimension the model does not produce (``allowed`` None: any)."""
    if allowed is not None and dimension not in allowed:
        raise ValueError(f"{model} does not produce {dimension}-d vectors: use one of {list(allowed)}.")


def _check_texts(texts: Sequence[str], model: str) -> None:
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"{model} cannot embed an empty text (item {index}): drop empty chunks before embedding."
            )


class DashScopeEmbedding(BaseEmbedding, DashScopeConnection):
    """DashScope text embeddings (text-embedding-v3 by default) for LlamaIndex.

    Queries are embedded with ``text_type="query"``, documents with ``"document"``. Batches
    are split to the model's per-request limit (10 texts for v3/v4, 25 for v1/v2).

    Example:
        >>> import asyncio
        >>> embed = DashScopeEmbedding(dimension=1024)  # key from DASHSCOPE_API_KEY
        >>> vectors = embed.get_text_embedding_batch(["first chunk", "second chunk"])
        >>> query = asyncio.run(embed.aget_query_embedding("what is in the report?"))
        >>> len(vectors), len(vectors[0]), len(query)
        (2, 1024, 1024)

    Args:
        model_name: Embedding model name.
        dimension: Output dimension (v3: 1024, 768, 512, 256, 128 or 64).
        embed_batch_size: Texts LlamaIndex hands over per batch; requests never exceed the API limit.
        **connection: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``retry_backoff``: see
            :class:`~llama_index_mmrag.models.dashscope.connection.DashScopeConnection`.
    """

    model_name: str = Field(default="text-embedding-v3", min_length=1, description="DashScope text embedding model.")
    dimension: int = Field(default=1024, gt=0, description="Output vector dimension.")
    embed_batch_size: int = Field(default=10, gt=0, le=2048, description="Texts per LlamaIndex batch.")

    @model_validator(mode="after")
    def _check_dimension(self) -> DashScopeEmbedding:
        _check_produces(self.model_name, self.dimension, TEXT_EMBEDDING_DIMENSIONS.get(self.model_name))
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeEmbedding"

    @property
    def texts_per_request(self) -> int:
        """Texts sent in one HTTP request: the API limit, or less if ``embed_batch_size`` is smaller."""
        limit = TEXT_EMBEDDING_BATCH_LIMITS.get(self.model_name, _DEFAULT_TEXT_EMBEDDING_BATCH_LIMIT)
        return min(limit, self.embed_batch_size)

    def _parameters(self, text_type: str) -> dict[str, Any]:
        parameters: dict[str, Any] = {"text_type": text_type, **self._transport_kwargs()}
        if len(TEXT_EMBEDDING_DIMENSIONS.get(self.model_name, (0, 0))) > 1:
            parameters["dimension"] = self.dimension
        return parameters

    def _vectors(self, ctx: CallContext, response: Any, expected: int) -> list[Embedding]:
        items = (getattr(response, "output", None) or {}).get("embeddings") or []
        items = sorted(items, key=lambda item: item.get("text_index", item.get("index", 0)))
        vectors = [list(item.get("embedding") or []) for item in items]
        request_id = getattr(response, "request_id", None)
        if len(vectors) != expected:
            raise ctx.unexpected(f"got {len(vectors)} vectors for {expected} texts", request_id)
        if any(len(vector) != self.dimension for vector in vectors):
            raise ctx.unexpected(f"got vectors of length {len(vectors[0])}, expected {self.dimension}", request_id)
        return vectors

    def _embed(self, texts: Sequence[str], text_type: str) -> list[Embedding]:
        _check_texts(texts, self.model_name)
        ctx = self._context(self.model_name, f"text embedding ({text_type})")
        parameters = self._parameters(text_type)
        vectors: list[Embedding] = []
        for batch in _batches(texts, self.texts_per_request):
            response = call_sync(
                ctx, lambda b=batch: TextEmbedding.call(model=self.model_name, input=b, **parameters)
            )
            vectors.extend(self._vectors(ctx, response, len(batch)))
        return vectors

    async def _aembed(self, texts: Sequence[str], text_type: str) -> list[Embedding]:
        _check_texts(texts, self.model_name)
        ctx = self._context(self.model_name, f"text embedding ({text_type})")
        parameters = self._parameters(text_type)
        vectors: list[Embedding] = []
        for batch in _batches(texts, self.texts_per_request):
            response = await call_async(
                ctx, lambda b=batch: AioTextEmbedding.call(model=self.model_name, input=b, **parameters)
            )
            vectors.extend(self._vectors(ctx, response, len(batch)))
        return vectors

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed([query], "query")[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return (await self._aembed([query], "query"))[0]

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed([text], "document")[0]

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return (await self._aembed([text], "document"))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._embed(texts, "document")

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await self._aembed(texts, "document")


class DashScopeMultiModalEmbedding(MultiModalEmbedding, DashScopeConnection):
    """DashScope multimodal embeddings (``multimodal-embedding-v1``, 1024-d; ``tongyi-embedding-vision-plus``, 1152-d
    by default, or 1024, 512, 256, 128, 64; ``tongyi-embedding-vision-flash``): texts and images, one space.

    The API embeds one text or one image per request, so batches become several requests
    (concurrent in async, at most ``max_concurrency`` at a time).

    Example:
        >>> import asyncio
        >>> embed = DashScopeMultiModalEmbedding()  # key from DASHSCOPE_API_KEY
        >>> image_vector = embed.get_image_embedding("milvus_architecture.png")
        >>> text_vector = asyncio.run(embed.aget_query_embedding("a diagram of the Milvus architecture"))
        >>> len(image_vector) == len(text_vector)
        True

    Args:
        model_name: Multimodal embedding model name.
        dimension: Output dimension (fixed 1024 for multimodal-embedding-v1; sent as ``dimension`` to models
            that offer several).
        max_concurrency: Requests in flight at once in the async batch methods.
        **connection: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``retry_backoff``: see
            :class:`~llama_index_mmrag.models.dashscope.connection.DashScopeConnection`.
    """

    model_name: str = Field(default="multimodal-embedding-v1", min_length=1, description="Multimodal embedding model.")
    dimension: int = Field(default=1024, gt=0, description="Output vector dimension.")
    max_concurrency: int = Field(default=4, gt=0, description="Async requests in flight at once.")

    @model_validator(mode="after")
    def _check_dimension(self) -> DashScopeMultiModalEmbedding:
        fixed = MULTIMODAL_EMBEDDING_FIXED_DIMENSIONS.get(self.model_name)
        if fixed is not None and self.dimension != fixed:
            raise ValueError(f"{self.model_name} only produces {fixed}-d vectors: set dimension={fixed}.")
        _check_produces(self.model_name, self.dimension, MULTIMODAL_EMBEDDING_DIMENSIONS.get(self.model_name))
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeMultiModalEmbedding"

    def _parameters(self) -> dict[str, Any]:
        parameters = self._transport_kwargs()
        if takes_dimension(self.model_name):
            parameters["dimension"] = self.dimension
        return parameters

    def _vector(self, ctx: CallContext, response: Any) -> Embedding:
        output = getattr(response, "output", None) or {}
        items = output.get("embeddings") or ([{"embedding": output["embedding"]}] if output.get("embedding") else [])
        request_id = getattr(response, "request_id", None)
        if len(items) != 1:
            raise ctx.unexpected(f"got {len(items)} vectors for one content", request_id)
        vector = list(items[0].get("embedding") or [])
        if len(vector) != self.dimension:
            raise ctx.unexpected(f"got a vector of length {len(vector)}, expected {self.dimension}", request_id)
        return vector

    def _embed_content(self, content: dict[str, str], operation: str) -> Embedding:
        ctx = self._context(self.model_name, operation)
        parameters = self._parameters()
        response = call_sync(
            ctx, lambda: InlineMultiModalEmbedding.call(model=self.model_name, input=[content], **parameters)
        )
        return self._vector(ctx, response)

    async def _aembed_content(self, content: dict[str, str], operation: str) -> Embedding:
        ctx = self._context(self.model_name, operation)
        parameters = self._parameters()
        response = await call_async(
            ctx, lambda: InlineAioMultiModalEmbedding.call(model=self.model_name, input=[content], **parameters)
        )
        return self._vector(ctx, response)

    async def _gather_bounded(self, coroutines: Sequence[Awaitable[Embedding]]) -> list[Embedding]:
        semaphore = asyncio.Semaphore(self.max_concurrency)

        async def bounded(coroutine: Awaitable[Embedding]) -> Embedding:
            async with semaphore:
                return await coroutine

        return list(await asyncio.gather(*(bounded(c) for c in coroutines)))

    def _text_content(self, text: str) -> dict[str, str]:
        _check_texts([text], self.model_name)
        return {"text": text}

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._embed_content(self._text_content(query), "text embedding")

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._aembed_content(self._text_content(query), "text embedding")

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._embed_content(self._text_content(text), "text embedding")

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await self._aembed_content(self._text_content(text), "text embedding")

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return [self._get_text_embedding(text) for text in texts]

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        contents = [self._text_content(text) for text in texts]
        return await self._gather_bounded([self._aembed_content(c, "text embedding") for c in contents])

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._embed_content({"image": image_input_to_dashscope(img_file_path)}, "image embedding")

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return await self._aembed_content({"image": image_input_to_dashscope(img_file_path)}, "image embedding")

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return [self._get_image_embedding(image) for image in img_file_paths]

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        contents = [{"image": image_input_to_dashscope(image)} for image in img_file_paths]
        return await self._gather_bounded([self._aembed_content(c, "image embedding") for c in contents])
