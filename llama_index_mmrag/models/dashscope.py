"""DashScope (Alibaba Cloud Model Studio) models as LlamaIndex LLMs and embeddings.

Four adapters over the official ``dashscope`` SDK's native ``/api/v1`` API, each with native
async (the SDK's aiohttp transport, not a thread):

* :class:`DashScopeLLM`: qwen text models (``Generation`` / ``AioGeneration``).
* :class:`DashScopeMultiModalLLM`: qwen-vl vision models (``MultiModalConversation`` /
  ``AioMultiModalConversation``); chat messages carry ``ImageBlock`` content blocks.
* :class:`DashScopeEmbedding`: ``text-embedding-v3`` and friends (``TextEmbedding``), batched
  within the API's per-request limit, query vs document ``text_type``.
* :class:`DashScopeMultiModalEmbedding`: ``multimodal-embedding-v1`` (``MultiModalEmbedding``),
  text and images in one vector space.

Design notes:

* **Base URL, per instance, no global state.** Every SDK call receives
  ``base_address=<base_url>``, the request builder's own per-call endpoint argument
  (``dashscope.api_entities.api_request_factory._build_api_request``), and
  ``api_key=<key>``. ``dashscope.base_http_api_url`` and ``dashscope.api_key`` are never
  written, so instances pointing at different endpoints or keys can run side by side in
  threads and tasks. ``base_url=None`` keeps the SDK default (which honours
  ``DASHSCOPE_HTTP_BASE_URL``).
* **Why the VLM is an ``LLM`` and not a ``MultiModalLLM``.** In llama-index-core 0.14 an
  ``LLM``'s ``ChatMessage`` carries ``ImageBlock`` blocks natively, and only an ``LLM`` can be
  ``Settings.llm``, drive a query engine, an agent or ``structured_predict``.
  ``MultiModalLLM`` is the older, separate hierarchy that none of those accept. So
  :class:`DashScopeMultiModalLLM` is an ``LLM`` (through ``CustomLLM``, shared with
  :class:`DashScopeLLM`, with every method implemented natively; ``CustomLLM``'s
  chat-to-prompt flattening, which would drop images, is never used) and keeps
  ``complete(prompt, image_documents=[...])`` for code written against ``MultiModalLLM``.
* **Local images travel inline as base64 data URLs.** Given a local path or ``file://``
  URL, the SDK uploads the file to DashScope's OSS first, with a separate request that
  ignores the per-call base URL. So adapters read local files themselves, send
  ``data:image/...;base64,...`` (which the API accepts), and use SDK subclasses whose upload
  step is off. Otherwise a user text that happens to name an existing file would be uploaded.
* **Errors.** A non-200 answer, or a transport failure, raises :class:`DashScopeError`
  naming the model, the HTTP status and DashScope code, the server's message, the request
  id and what to do. 429, 5xx and connection failures are retried ``max_retries`` times with
  exponential backoff; nothing is logged and dropped.
"""

from __future__ import annotations

import asyncio
import base64
import mimetypes
import os
import time
from abc import abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from io import IOBase
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

import aiohttp
import dashscope
import filetype
import requests
from dashscope import (
    AioGeneration,
    AioMultiModalConversation,
    AioMultiModalEmbedding,
    Generation,
    MultiModalConversation,
    TextEmbedding,
)
from dashscope import MultiModalEmbedding as SdkMultiModalEmbedding
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse
from dashscope.client.base_api import BaseAioApi
from dashscope.common.error import DashScopeException
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.base.llms.generic_utils import image_node_to_image_block
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, Field, field_validator, model_validator
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS, DEFAULT_TEMPERATURE
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.schema import ImageNode, ImageType

from llama_index_mmrag.errors import ModelError

__all__ = [
    "DASHSCOPE_API_KEY_ENV",
    "DashScopeEmbedding",
    "DashScopeError",
    "DashScopeLLM",
    "DashScopeMultiModalEmbedding",
    "DashScopeMultiModalLLM",
    "dashscope_models_from_settings",
]

DASHSCOPE_API_KEY_ENV = "DASHSCOPE_API_KEY"

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
    "multimodal-embedding-v1": 1024,
    "multimodal-embedding-one-peace-v1": 1536,
}

_DEFAULT_TEXT_EMBEDDING_BATCH_LIMIT = 10
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)
_REMOTE_IMAGE_SCHEMES = frozenset({"http", "https", "oss"})

_T = TypeVar("_T")


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class DashScopeError(ModelError, RuntimeError):
    """A DashScope call failed: HTTP error, unexpected answer, or endpoint unreachable.

    The message names the model, the HTTP status and DashScope error code, the server's
    message and request id, and what to do about it.

    Example:
        >>> llm = DashScopeLLM(model="qwen-max", api_key="sk-not-a-valid-key")
        >>> try:
        ...     llm.complete("hi")
        ... except DashScopeError as error:
        ...     print(error.status_code, error.code, error.retryable)
        401 InvalidApiKey False

    Args:
        model: The model the call was for.
        operation: What was attempted, e.g. ``"chat"``, ``"text embedding"``.
        status_code: HTTP status, or None when the endpoint could not be reached.
        code: DashScope error code (``InvalidApiKey``, ``Throttling`` ...), or an exception
            name for transport failures.
        server_message: The server's message (or the transport exception's text).
        request_id: DashScope request id, when the server gave one.
        endpoint: The base URL that was called.
        transport_failure: True when the endpoint could not be reached (no HTTP answer).
    """

    def __init__(
        self,
        *,
        model: str,
        operation: str,
        status_code: int | None,
        code: str,
        server_message: str,
        request_id: str | None = None,
        endpoint: str | None = None,
        transport_failure: bool = False,
    ) -> None:
        self.model = model
        self.operation = operation
        self.status_code = status_code
        self.code = code
        self.server_message = server_message
        self.request_id = request_id
        self.endpoint = endpoint
        self.transport_failure = transport_failure
        super().__init__(self._compose())

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (429, 5xx, unreachable endpoint)."""
        return self.transport_failure or self.status_code in _RETRYABLE_STATUS

    @property
    def hint(self) -> str:
        """What the user should do about this error."""
        if self.transport_failure:
            return f"Check network access to {self.endpoint} and the base_url / DASHSCOPE_HTTP_BASE_URL setting."
        return _error_hint(self.status_code, self.code)

    def _compose(self) -> str:
        head = f"DashScope {self.operation} with model '{self.model}' failed"
        if self.transport_failure:
            detail = f"could not reach {self.endpoint} ({self.code}: {self.server_message})"
        elif self.status_code is None:
            detail = f"the SDK refused the request ({self.code}: {self.server_message})"
        else:
            detail = f"HTTP {self.status_code} {self.code}: {self.server_message}"
        request = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{head}: {detail}{request}. {self.hint}"


def _error_hint(status: int | None, code: str) -> str:
    if status is None:
        return "Check the arguments given to the model (messages, images, parameters)."
    if status == HTTPStatus.UNAUTHORIZED or code == "InvalidApiKey":
        return (
            "Check DASHSCOPE_API_KEY (or the api_key argument): the key is missing, wrong, revoked, "
            "or belongs to another region than the endpoint."
        )
    if status == HTTPStatus.FORBIDDEN:
        return "Check DASHSCOPE_API_KEY and that this key's workspace may use the model (Model Studio console)."
    if status == HTTPStatus.NOT_FOUND:
        return "Check the model name and base_url (DashScope's native API ends in /api/v1)."
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return "Rate limit or quota reached: retry later, lower the concurrency, or raise the model's quota."
    if status == HTTPStatus.OK:
        return "The endpoint answered in an unexpected shape: check that base_url is DashScope's native /api/v1 API."
    if status >= 500:
        return "DashScope had a server-side error: retry later."
    if status == HTTPStatus.BAD_REQUEST:
        return "The request was rejected: check the model name and the inputs (size, format, parameters)."
    return "See DashScope's error-code reference for this code."


@dataclass(frozen=True)
class _CallContext:
    """Who is calling what, and how often to retry."""

    model: str
    operation: str
    endpoint: str
    max_retries: int
    retry_backoff: float

    def delay(self, attempt: int) -> float:
        """Backoff before retry number ``attempt + 1``."""
        return self.retry_backoff * (2**attempt)

    def error_from_response(self, response: DashScopeAPIResponse) -> DashScopeError:
        """A :class:`DashScopeError` for a non-200 SDK response."""
        return DashScopeError(
            model=self.model,
            operation=self.operation,
            status_code=int(response.status_code),
            code=str(response.code or "Unknown"),
            server_message=str(response.message or "no message"),
            request_id=response.request_id or None,
            endpoint=self.endpoint,
        )

    def error_from_exception(self, exc: BaseException) -> DashScopeError:
        """A :class:`DashScopeError` for a transport failure or an SDK-side exception."""
        transport = isinstance(exc, _TRANSPORT_ERRORS)
        error = DashScopeError(
            model=self.model,
            operation=self.operation,
            status_code=None,
            code=type(exc).__name__,
            server_message=str(exc) or repr(exc),
            endpoint=self.endpoint,
            transport_failure=transport,
        )
        error.__cause__ = exc
        return error

    def unexpected(self, message: str, request_id: str | None = None) -> DashScopeError:
        """A :class:`DashScopeError` for a 200 answer with an unusable body."""
        return DashScopeError(
            model=self.model,
            operation=self.operation,
            status_code=HTTPStatus.OK,
            code="UnexpectedResponse",
            server_message=message,
            request_id=request_id,
            endpoint=self.endpoint,
        )


def _is_ok(response: Any) -> bool:
    return getattr(response, "status_code", None) == HTTPStatus.OK


def _call_sync(ctx: _CallContext, send: Callable[[], _T]) -> _T:
    """Send a non-streaming request, retrying retryable failures.

    Args:
        ctx: Model, operation and retry policy.
        send: Makes the SDK call and returns its response.

    Returns:
        The 200 response.

    Raises:
        DashScopeError: When the call failed and retries are exhausted or pointless.
    """
    attempt = 0
    while True:
        try:
            response = send()
            error = None if _is_ok(response) else ctx.error_from_response(response)  # type: ignore[arg-type]
        except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
            error = ctx.error_from_exception(exc)
        if error is None:
            return response
        if not error.retryable or attempt >= ctx.max_retries:
            raise error
        time.sleep(ctx.delay(attempt))
        attempt += 1


async def _call_async(ctx: _CallContext, send: Callable[[], Awaitable[_T]]) -> _T:
    """Async twin of :func:`_call_sync`.

    Args:
        ctx: Model, operation and retry policy.
        send: Makes the SDK call and returns an awaitable of its response.

    Returns:
        The 200 response.

    Raises:
        DashScopeError: When the call failed and retries are exhausted or pointless.
    """
    attempt = 0
    while True:
        try:
            response = await send()
            error = None if _is_ok(response) else ctx.error_from_response(response)  # type: ignore[arg-type]
        except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
            error = ctx.error_from_exception(exc)
        if error is None:
            return response
        if not error.retryable or attempt >= ctx.max_retries:
            raise error
        await asyncio.sleep(ctx.delay(attempt))
        attempt += 1


@dataclass(frozen=True)
class _OpenedStream:
    """A stream whose first chunk succeeded; looks like a 200 response to the retry loop."""

    first: Any
    rest: Any
    status_code: int = HTTPStatus.OK


def _open_stream_sync(ctx: _CallContext, send: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Start an SSE stream, retrying (like :func:`_call_sync`) until its first chunk succeeds.

    The request is sent and the first chunk read now, so errors surface at call time.

    Args:
        ctx: Model, operation and retry policy.
        send: Makes the streaming SDK call and returns its chunk iterator.

    Returns:
        An iterator over all chunks, the first included, that raises :class:`DashScopeError`
        on a failed chunk.
    """

    def attempt() -> Any:
        chunks = iter(send())
        first = next(chunks, None)
        if first is None:
            raise ctx.unexpected("the stream ended before any chunk")
        if _is_ok(first):
            return _OpenedStream(first, chunks)
        getattr(chunks, "close", lambda: None)()
        return first

    opened: _OpenedStream = _call_sync(ctx, attempt)
    return _checked_chunks(ctx, opened.first, opened.rest)


def _checked_chunks(ctx: _CallContext, first: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    yield first
    try:
        for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            yield chunk
    except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc


async def _open_stream_async(
    ctx: _CallContext, send: Callable[[], Awaitable[AsyncIterator[Any]]]
) -> AsyncIterator[Any]:
    """Async twin of :func:`_open_stream_sync`.

    Args:
        ctx: Model, operation and retry policy.
        send: Makes the streaming SDK call and returns an awaitable of its async chunk iterator.

    Returns:
        An async iterator over all chunks that raises :class:`DashScopeError` on a failed chunk.
    """

    async def attempt() -> Any:
        chunks = (await send()).__aiter__()
        try:
            first = await chunks.__anext__()
        except StopAsyncIteration:
            raise ctx.unexpected("the stream ended before any chunk") from None
        if _is_ok(first):
            return _OpenedStream(first, chunks)
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        return first

    opened: _OpenedStream = await _call_async(ctx, attempt)
    return _checked_achunks(ctx, opened.first, opened.rest)


async def _checked_achunks(ctx: _CallContext, first: Any, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    try:
        async for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            yield chunk
    except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc


# ---------------------------------------------------------------------------------------
# SDK entry points without the implicit OSS upload of local files
# ---------------------------------------------------------------------------------------


class _InlineMultiModalConversation(MultiModalConversation):
    """``MultiModalConversation`` that never uploads local files: images arrive as data URLs."""

    @classmethod
    def _preprocess_messages(cls, model: str, messages: list[dict], api_key: str) -> bool:
        return False


class _InlineAioMultiModalConversation(AioMultiModalConversation):
    """Async twin of :class:`_InlineMultiModalConversation`."""

    @classmethod
    def _preprocess_messages(cls, model: str, messages: list[dict], api_key: str) -> bool:
        return False


class _InlineMultiModalEmbedding(SdkMultiModalEmbedding):
    """``MultiModalEmbedding`` that never uploads local files: images arrive as data URLs."""

    @classmethod
    def _preprocess_message_inputs(cls, model: str, input_data: list[dict], api_key: str) -> bool:
        return False


class _InlineAioMultiModalEmbedding(AioMultiModalEmbedding):
    """Async twin of :class:`_InlineMultiModalEmbedding`."""

    @classmethod
    def _preprocess_message_inputs(cls, model: str, input_data: list[dict], api_key: str) -> bool:
        return False


class _AioTextEmbedding(BaseAioApi):
    """Async twin of ``dashscope.TextEmbedding``, which the SDK does not ship.

    Same endpoint and body as the sync class, sent through the SDK's own aiohttp transport
    (``BaseAioApi``, the base of every ``Aio*`` class in the SDK).
    """

    @classmethod
    async def call(  # type: ignore[override]
        cls, model: str, input: list[str], api_key: str, **parameters: Any  # noqa: A002 - SDK naming
    ) -> DashScopeAPIResponse:
        """Embed texts.

        Args:
            model: Embedding model name.
            input: Texts to embed (within the model's per-request limit).
            api_key: DashScope API key.
            **parameters: ``text_type``, ``dimension``, ``base_address``, ``request_timeout`` ...

        Returns:
            The SDK response.
        """
        return await super().call(
            model=model,
            input={"texts": list(input)},
            task_group="embeddings",
            task=TextEmbedding.task,
            function="text-embedding",
            api_key=api_key,
            **parameters,
        )


# ---------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------


def _data_url(raw: bytes, declared_mime: str | None, source: str) -> str:
    """A ``data:<mime>;base64,...`` URL for image bytes.

    Args:
        raw: Image bytes.
        declared_mime: Mimetype the caller declared, used when the bytes are not recognised.
        source: Where the bytes came from, for error messages.

    Returns:
        The data URL.

    Raises:
        ValueError: The bytes are empty or not a recognisable image.
    """
    if not raw:
        raise ValueError(f"Image {source} is empty: pass a PNG, JPEG, WebP or BMP image.")
    kind = filetype.guess(raw)
    mime = kind.mime if kind is not None and kind.mime.startswith("image/") else declared_mime
    if not mime and source:
        mime = mimetypes.guess_type(source)[0]
    if not mime or not mime.startswith("image/"):
        raise ValueError(
            f"Cannot tell the image type of {source}: pass a PNG, JPEG, WebP or BMP image, "
            "or set image_mimetype on the ImageBlock."
        )
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _file_url_to_path(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"Cannot read {url}: only local file:// URLs are supported.")
    return Path(url2pathname(unquote(parsed.path)))


def _read_image_file(path: Path) -> bytes:
    try:
        return path.expanduser().read_bytes()
    except OSError as exc:
        raise ValueError(f"Cannot read image file {path}: {exc.strerror or exc}. Check the path.") from exc


def _image_string_to_dashscope(value: str, declared_mime: str | None = None) -> str:
    """A URL the API accepts for an image given as a URL or a local path string."""
    scheme = urlparse(value).scheme.lower()
    if scheme in _REMOTE_IMAGE_SCHEMES or scheme == "data":
        return value
    path = _file_url_to_path(value) if scheme == "file" else Path(value)
    return _data_url(_read_image_file(path), declared_mime, str(path))


def _image_block_to_dashscope(block: ImageBlock) -> str:
    """The ``image`` value DashScope gets for an ``ImageBlock``.

    Inline bytes and local paths become base64 data URLs; http(s)/oss/data URLs pass through;
    ``file://`` URLs are read and inlined.

    Args:
        block: The image block.

    Returns:
        A URL string for the ``image`` content item.
    """
    if block.image is not None:
        raw = block.resolve_image(as_base64=False).read()
        return _data_url(raw, block.image_mimetype, "the inline image bytes")
    if block.path is not None:
        return _data_url(_read_image_file(Path(block.path)), block.image_mimetype, str(block.path))
    if block.url is not None:
        return _image_string_to_dashscope(str(block.url), block.image_mimetype)
    raise ValueError("ImageBlock has no image, path or url: give it one of them.")


def _image_input_to_dashscope(image: ImageType | ImageBlock | Path) -> str:
    """The ``image`` value DashScope gets for a LlamaIndex image input (path, URL, bytes buffer).

    Args:
        image: A path or URL string, a ``Path``, a binary buffer, or an ``ImageBlock``.

    Returns:
        A URL string for the ``image`` content item.
    """
    if isinstance(image, ImageBlock):
        return _image_block_to_dashscope(image)
    if isinstance(image, IOBase):
        image.seek(0)
        return _data_url(image.read(), None, "the image buffer")
    if isinstance(image, (str, Path)):
        return _image_string_to_dashscope(str(image))
    raise TypeError(f"Unsupported image input {type(image).__name__}: pass a path, URL, bytes buffer or ImageBlock.")


def _image_document_to_block(item: Any) -> ImageBlock:
    """An ``ImageBlock`` for an ``ImageBlock``, ``ImageNode`` or ``ImageDocument``.

    Args:
        item: The image document.

    Returns:
        The equivalent block.
    """
    if isinstance(item, ImageBlock):
        return item
    if isinstance(item, ImageNode):
        return image_node_to_image_block(item)
    resource = getattr(item, "image_resource", None)
    if resource is not None:
        return ImageBlock(
            image=resource.data, path=resource.path, url=resource.url, image_mimetype=resource.mimetype
        )
    raise TypeError(
        f"Unsupported image document {type(item).__name__}: pass ImageBlock, ImageNode or ImageDocument."
    )


# ---------------------------------------------------------------------------------------
# Shared configuration
# ---------------------------------------------------------------------------------------


class _DashScopeConnection(BaseModel):
    """Key, endpoint, timeout and retry settings shared by every adapter."""

    api_key: str | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="DashScope API key; defaults to the DASHSCOPE_API_KEY environment variable.",
    )
    base_url: str | None = Field(
        default=None,
        description="Native API base URL, e.g. http://127.0.0.1:8080/api/v1; None keeps the SDK default.",
    )
    timeout: float = Field(default=120.0, gt=0, description="Seconds per HTTP request.")
    max_retries: int = Field(default=2, ge=0, description="Retries for 429, 5xx and connection failures.")
    retry_backoff: float = Field(default=1.0, ge=0, description="Seconds before the first retry; doubles after.")

    @model_validator(mode="before")
    @classmethod
    def _resolve_api_key(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        key = data.get("api_key") or os.environ.get(DASHSCOPE_API_KEY_ENV)
        if not key:
            raise ValueError(
                f"No DashScope API key for {cls.__name__}: pass api_key=... or set {DASHSCOPE_API_KEY_ENV}."
            )
        return {**data, "api_key": key}

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlparse(value).scheme not in ("http", "https") or not urlparse(value).netloc:
            raise ValueError(
                f"base_url {value!r} is not an http(s) URL: use e.g. https://dashscope.aliyuncs.com/api/v1."
            )
        return value.rstrip("/")

    def _endpoint(self) -> str:
        return self.base_url or str(dashscope.base_http_api_url)

    def _context(self, model: str, operation: str) -> _CallContext:
        return _CallContext(
            model=model,
            operation=operation,
            endpoint=self._endpoint(),
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
        )

    def _transport_kwargs(self) -> dict[str, Any]:
        """``api_key``, ``request_timeout`` and, when set, ``base_address`` for one SDK call."""
        kwargs: dict[str, Any] = {"api_key": self.api_key, "request_timeout": self.timeout}
        if self.base_url is not None:
            kwargs["base_address"] = self.base_url
        return kwargs


# ---------------------------------------------------------------------------------------
# LLMs
# ---------------------------------------------------------------------------------------


_ROLE_MAP = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}
_PASSTHROUGH_MESSAGE_KEYS = ("tool_calls", "tool_call_id", "name")


def _tool_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The tool-calling fields (``tool_calls``, ``tool_call_id``, ``name``) present in a message dict."""
    return {key: fields[key] for key in _PASSTHROUGH_MESSAGE_KEYS if fields.get(key)}


def _dashscope_role(role: MessageRole) -> str:
    return _ROLE_MAP.get(role, "user")


def _content_text(content: Any) -> str:
    """Text of a DashScope message ``content``: a string, or a list of ``{"text": ...}`` items."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(item.get("text", "")) for item in content if isinstance(item, dict))
    return str(content)


def _usage_kwargs(response: Any) -> dict[str, int]:
    usage = getattr(response, "usage", None) or {}
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


class _DashScopeChatLLM(CustomLLM, _DashScopeConnection):
    """Everything the text and the vision LLM share; subclasses pick the SDK API and message format."""

    model: str = Field(min_length=1, description="DashScope model name.")
    temperature: float | None = Field(default=DEFAULT_TEMPERATURE, ge=0.0, lt=2.0, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, gt=0, description="Maximum output tokens; None: model default.")
    context_window: int = Field(default=32768, gt=0, description="Context window reported in metadata.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra generation parameters (top_p, seed, stop, enable_thinking ...)."
    )

    _sync_api: ClassVar[Any]
    _async_api: ClassVar[Any]

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output size and name of the model."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            model_name=self.model,
        )

    # -- hooks for subclasses ---------------------------------------------------------------

    def _to_dashscope_messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """The ``messages`` list of the request body for a LlamaIndex conversation."""
        return [self._to_dashscope_message(message) for message in messages]

    @abstractmethod
    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        """One message of the request body."""

    def _completion_messages(self, prompt: str, kwargs: dict[str, Any]) -> list[ChatMessage]:
        """Messages for ``complete(prompt)``; may consume completion-only kwargs."""
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    # -- request building -------------------------------------------------------------------

    def _call_kwargs(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self._to_dashscope_messages(messages),
            "result_format": "message",
            **self._transport_kwargs(),
        }
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        kwargs.update(self.additional_kwargs)
        kwargs.update(overrides)
        return kwargs

    @staticmethod
    def _stream_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "stream": True, "incremental_output": True}

    def _message_of(self, ctx: _CallContext, response: Any) -> dict[str, Any]:
        output = getattr(response, "output", None) or {}
        choices = output.get("choices") or []
        if choices and choices[0].get("message") is not None:
            return dict(choices[0]["message"])
        if output.get("text") is not None:
            return {"role": "assistant", "content": output["text"]}
        raise ctx.unexpected("the answer has no choices", getattr(response, "request_id", None))

    def _chat_response(
        self, ctx: _CallContext, response: Any, text: str | None = None, delta: str | None = None
    ) -> ChatResponse:
        message = self._message_of(ctx, response)
        content = _content_text(message.get("content")) if text is None else text
        extra = _tool_fields(message)
        return ChatResponse(
            message=ChatMessage(role=MessageRole.ASSISTANT, content=content, additional_kwargs=extra),
            delta=delta,
            raw=dict(response),
            additional_kwargs=_usage_kwargs(response),
        )

    @staticmethod
    def _to_completion(chat: ChatResponse) -> CompletionResponse:
        return CompletionResponse(
            text=chat.message.content or "", delta=chat.delta, raw=chat.raw, additional_kwargs=chat.additional_kwargs
        )

    # -- undecorated implementations --------------------------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponse:
        ctx = self._context(self.model, "chat")
        kwargs = self._call_kwargs(messages, overrides)
        response = _call_sync(ctx, lambda: self._sync_api.call(**kwargs))
        return self._chat_response(ctx, response)

    async def _achat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponse:
        ctx = self._context(self.model, "chat")
        kwargs = self._call_kwargs(messages, overrides)
        response = await _call_async(ctx, lambda: self._async_api.call(**kwargs))
        return self._chat_response(ctx, response)

    def _stream_chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponseGen:
        ctx = self._context(self.model, "streaming chat")
        kwargs = self._stream_kwargs(self._call_kwargs(messages, overrides))
        chunks = _open_stream_sync(ctx, lambda: self._sync_api.call(**kwargs))

        def generate() -> ChatResponseGen:
            text = ""
            for chunk in chunks:
                delta = _content_text(self._message_of(ctx, chunk).get("content"))
                text += delta
                yield self._chat_response(ctx, chunk, text=text, delta=delta)

        return generate()

    async def _astream_chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponseAsyncGen:
        ctx = self._context(self.model, "streaming chat")
        kwargs = self._stream_kwargs(self._call_kwargs(messages, overrides))
        chunks = await _open_stream_async(ctx, lambda: self._async_api.call(**kwargs))

        async def generate() -> ChatResponseAsyncGen:
            text = ""
            async for chunk in chunks:
                delta = _content_text(self._message_of(ctx, chunk).get("content"))
                text += delta
                yield self._chat_response(ctx, chunk, text=text, delta=delta)

        return generate()

    # -- public LlamaIndex API --------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send a conversation and return the assistant's reply.

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters (temperature, max_tokens, top_p, seed ...).

        Returns:
            The reply, with token usage in ``additional_kwargs``.
        """
        return self._chat(messages, kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the assistant's reply (SSE, incremental output).

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters.

        Returns:
            Responses whose ``delta`` is the new text and ``message`` the text so far.
        """
        return self._stream_chat(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`, over the SDK's aiohttp transport.

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters.

        Returns:
            The reply.
        """
        return await self._achat(messages, kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`.

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters.

        Returns:
            An async generator of responses.
        """
        return await self._astream_chat(messages, kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer a prompt (sent as one user message).

        Args:
            prompt: The prompt.
            formatted: Unused (the prompt is sent as is); kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters.

        Returns:
            The completion.
        """
        messages = self._completion_messages(prompt, kwargs)
        return self._to_completion(self._chat(messages, kwargs))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Stream the answer to a prompt.

        Args:
            prompt: The prompt.
            formatted: Unused; kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters.

        Returns:
            Completions whose ``delta`` is the new text and ``text`` the text so far.
        """
        messages = self._completion_messages(prompt, kwargs)
        chats = self._stream_chat(messages, kwargs)
        return (self._to_completion(chat) for chat in chats)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async :meth:`complete`.

        Args:
            prompt: The prompt.
            formatted: Unused; kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters.

        Returns:
            The completion.
        """
        messages = self._completion_messages(prompt, kwargs)
        return self._to_completion(await self._achat(messages, kwargs))

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`.

        Args:
            prompt: The prompt.
            formatted: Unused; kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters.

        Returns:
            An async generator of completions.
        """
        messages = self._completion_messages(prompt, kwargs)
        chats = await self._astream_chat(messages, kwargs)

        async def generate() -> CompletionResponseAsyncGen:
            async for chat in chats:
                yield self._to_completion(chat)

        return generate()


class DashScopeLLM(_DashScopeChatLLM):
    """A DashScope qwen text model (qwen-max by default) as a LlamaIndex LLM.

    Example:
        >>> import asyncio
        >>> from llama_index.core.llms import ChatMessage
        >>> llm = DashScopeLLM(model="qwen-max")  # key from DASHSCOPE_API_KEY
        >>> llm.complete("Name the capital of France.").text  # the test server echoes the prompt
        'ANSWER: Name the capital of France.'
        >>> asyncio.run(llm.achat([ChatMessage(role="user", content="Hi")])).message.content
        'ANSWER: Hi'

    Args:
        model: Text model name.
        api_key: DashScope API key; defaults to ``DASHSCOPE_API_KEY``.
        base_url: Native API base URL (``.../api/v1``); None keeps the SDK default.
        temperature: Sampling temperature in [0, 2).
        max_tokens: Maximum output tokens; None for the model default.
        timeout: Seconds per HTTP request.
        max_retries: Retries for 429, 5xx and connection failures.
        retry_backoff: Seconds before the first retry, doubling after.
        context_window: Context window reported in ``metadata``.
        additional_kwargs: Extra generation parameters sent with every call.
    """

    model: str = Field(default="qwen-max", min_length=1, description="DashScope text model name.")

    _sync_api: ClassVar[Any] = Generation
    _async_api: ClassVar[Any] = AioGeneration

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeLLM"

    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        for block in message.blocks:
            if not isinstance(block, TextBlock) and getattr(block, "block_type", "") in (
                "image", "audio", "video", "document"
            ):
                raise ValueError(
                    f"{self.model} is a text-only model and a {message.role.value} message carries a "
                    f"{block.block_type} block: use DashScopeMultiModalLLM (e.g. qwen-vl-max) for images."
                )
        entry: dict[str, Any] = {"role": _dashscope_role(message.role), "content": message.content or ""}
        entry.update(_tool_fields(message.additional_kwargs))
        return entry


class DashScopeMultiModalLLM(_DashScopeChatLLM):
    """A DashScope vision model (qwen-vl-max by default) as a LlamaIndex LLM that reads images.

    Chat messages may mix ``TextBlock`` and ``ImageBlock`` (inline bytes, local path,
    ``file://``, http(s) or data URL); local images are sent inline as base64 data URLs.

    Example:
        >>> from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
        >>> from llama_index.core.schema import ImageNode
        >>> vlm = DashScopeMultiModalLLM()  # qwen-vl-max, key from DASHSCOPE_API_KEY
        >>> chart = "milvus_architecture.png"
        >>> msg = ChatMessage(role="user", blocks=[ImageBlock(path=chart), TextBlock(text="Describe it")])
        >>> vlm.chat([msg]).message.content  # the test server echoes the text and the image it received
        'ANSWER: Describe it | IMAGES: png ...'
        >>> vlm.complete("What is shown?", image_documents=[ImageNode(image_path=chart)]).text
        'ANSWER: What is shown? | IMAGES: png ...'

    Args:
        model: Vision model name.
        api_key: DashScope API key; defaults to ``DASHSCOPE_API_KEY``.
        base_url: Native API base URL (``.../api/v1``); None keeps the SDK default.
        temperature: Sampling temperature in [0, 2).
        max_tokens: Maximum output tokens; None for the model default.
        timeout: Seconds per HTTP request.
        max_retries: Retries for 429, 5xx and connection failures.
        retry_backoff: Seconds before the first retry, doubling after.
        context_window: Context window reported in ``metadata``.
        additional_kwargs: Extra generation parameters sent with every call.
    """

    model: str = Field(default="qwen-vl-max", min_length=1, description="DashScope vision model name.")

    _sync_api: ClassVar[Any] = _InlineMultiModalConversation
    _async_api: ClassVar[Any] = _InlineAioMultiModalConversation

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeMultiModalLLM"

    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        content: list[dict[str, str]] = []
        for block in message.blocks:
            if isinstance(block, TextBlock):
                content.append({"text": block.text})
            elif isinstance(block, ImageBlock):
                content.append({"image": _image_block_to_dashscope(block)})
            else:
                raise ValueError(
                    f"{self.model} takes text and image blocks; a {message.role.value} message carries a "
                    f"{getattr(block, 'block_type', type(block).__name__)} block: convert it to text or an image."
                )
        entry: dict[str, Any] = {"role": _dashscope_role(message.role), "content": content}
        entry.update(_tool_fields(message.additional_kwargs))
        return entry

    def _completion_messages(self, prompt: str, kwargs: dict[str, Any]) -> list[ChatMessage]:
        documents = kwargs.pop("image_documents", None) or []
        blocks: list[Any] = [_image_document_to_block(item) for item in documents]
        blocks.append(TextBlock(text=prompt))
        return [ChatMessage(role=MessageRole.USER, blocks=blocks)]

    @llm_completion_callback()
    def complete(
        self,
        prompt: str,
        formatted: bool = False,
        image_documents: Sequence[ImageNode | ImageBlock] | None = None,
        **kwargs: Any,
    ) -> CompletionResponse:
        """Answer a prompt about zero or more images (``MultiModalLLM``-style convenience).

        Args:
            prompt: The question.
            formatted: Unused; kept for the LlamaIndex signature.
            image_documents: ``ImageNode``/``ImageDocument``/``ImageBlock`` items, sent before the text.
            **kwargs: Per-call generation parameters.

        Returns:
            The completion.
        """
        messages = self._completion_messages(prompt, {"image_documents": image_documents})
        return self._to_completion(self._chat(messages, kwargs))

    @llm_completion_callback()
    async def acomplete(
        self,
        prompt: str,
        formatted: bool = False,
        image_documents: Sequence[ImageNode | ImageBlock] | None = None,
        **kwargs: Any,
    ) -> CompletionResponse:
        """Async :meth:`complete`.

        Args:
            prompt: The question.
            formatted: Unused; kept for the LlamaIndex signature.
            image_documents: ``ImageNode``/``ImageDocument``/``ImageBlock`` items, sent before the text.
            **kwargs: Per-call generation parameters.

        Returns:
            The completion.
        """
        messages = self._completion_messages(prompt, {"image_documents": image_documents})
        return self._to_completion(await self._achat(messages, kwargs))


# ---------------------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------------------


def _batches(items: Sequence[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _check_texts(texts: Sequence[str], model: str) -> None:
    for index, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(
                f"{model} cannot embed an empty text (item {index}): drop empty chunks before embedding."
            )


class DashScopeEmbedding(BaseEmbedding, _DashScopeConnection):
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
        api_key: DashScope API key; defaults to ``DASHSCOPE_API_KEY``.
        base_url: Native API base URL (``.../api/v1``); None keeps the SDK default.
        timeout: Seconds per HTTP request.
        max_retries: Retries for 429, 5xx and connection failures.
        retry_backoff: Seconds before the first retry, doubling after.
    """

    model_name: str = Field(default="text-embedding-v3", min_length=1, description="DashScope text embedding model.")
    dimension: int = Field(default=1024, gt=0, description="Output vector dimension.")
    embed_batch_size: int = Field(default=10, gt=0, le=2048, description="Texts per LlamaIndex batch.")

    @model_validator(mode="after")
    def _check_dimension(self) -> DashScopeEmbedding:
        allowed = TEXT_EMBEDDING_DIMENSIONS.get(self.model_name)
        if allowed is not None and self.dimension not in allowed:
            raise ValueError(
                f"{self.model_name} does not produce {self.dimension}-d vectors: use one of {list(allowed)}."
            )
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

    def _vectors(self, ctx: _CallContext, response: Any, expected: int) -> list[Embedding]:
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
            response = _call_sync(
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
            response = await _call_async(
                ctx, lambda b=batch: _AioTextEmbedding.call(model=self.model_name, input=b, **parameters)
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


class DashScopeMultiModalEmbedding(MultiModalEmbedding, _DashScopeConnection):
    """DashScope multimodal embeddings (multimodal-embedding-v1): texts and images, one space.

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
        dimension: Output dimension (fixed 1024 for multimodal-embedding-v1).
        max_concurrency: Requests in flight at once in the async batch methods.
        api_key: DashScope API key; defaults to ``DASHSCOPE_API_KEY``.
        base_url: Native API base URL (``.../api/v1``); None keeps the SDK default.
        timeout: Seconds per HTTP request.
        max_retries: Retries for 429, 5xx and connection failures.
        retry_backoff: Seconds before the first retry, doubling after.
    """

    model_name: str = Field(default="multimodal-embedding-v1", min_length=1, description="Multimodal embedding model.")
    dimension: int = Field(default=1024, gt=0, description="Output vector dimension.")
    max_concurrency: int = Field(default=4, gt=0, description="Async requests in flight at once.")

    @model_validator(mode="after")
    def _check_dimension(self) -> DashScopeMultiModalEmbedding:
        fixed = MULTIMODAL_EMBEDDING_FIXED_DIMENSIONS.get(self.model_name)
        if fixed is not None and self.dimension != fixed:
            raise ValueError(f"{self.model_name} only produces {fixed}-d vectors: set dimension={fixed}.")
        return self

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeMultiModalEmbedding"

    def _parameters(self) -> dict[str, Any]:
        parameters = self._transport_kwargs()
        if self.model_name not in MULTIMODAL_EMBEDDING_FIXED_DIMENSIONS:
            parameters["dimension"] = self.dimension
        return parameters

    def _vector(self, ctx: _CallContext, response: Any) -> Embedding:
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
        response = _call_sync(
            ctx, lambda: _InlineMultiModalEmbedding.call(model=self.model_name, input=[content], **parameters)
        )
        return self._vector(ctx, response)

    async def _aembed_content(self, content: dict[str, str], operation: str) -> Embedding:
        ctx = self._context(self.model_name, operation)
        parameters = self._parameters()
        response = await _call_async(
            ctx, lambda: _InlineAioMultiModalEmbedding.call(model=self.model_name, input=[content], **parameters)
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
        return self._embed_content({"image": _image_input_to_dashscope(img_file_path)}, "image embedding")

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return await self._aembed_content({"image": _image_input_to_dashscope(img_file_path)}, "image embedding")

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        return [self._get_image_embedding(image) for image in img_file_paths]

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[Embedding]:
        contents = [{"image": _image_input_to_dashscope(image)} for image in img_file_paths]
        return await self._gather_bounded([self._aembed_content(c, "image embedding") for c in contents])


# ---------------------------------------------------------------------------------------
# Factory
# ---------------------------------------------------------------------------------------


def dashscope_models_from_settings(
    api_key: str,
    base_url: str | None,
    llm_model: str,
    vlm_model: str,
    embed_model: str,
    embed_dim: int,
) -> tuple[DashScopeLLM, DashScopeMultiModalLLM, DashScopeEmbedding]:
    """Build the text LLM, the vision LLM and the text embedding from settings values.

    Example:
        >>> llm, vlm, embed = dashscope_models_from_settings(
        ...     "sk-...", None, "qwen-max", "qwen-vl-max", "text-embedding-v3", 1024)

    Args:
        api_key: DashScope API key.
        base_url: Native API base URL, or None for the SDK default.
        llm_model: Text model, e.g. ``qwen-max``.
        vlm_model: Vision model, e.g. ``qwen-vl-max``.
        embed_model: Text embedding model, e.g. ``text-embedding-v3``.
        embed_dim: Embedding dimension.

    Returns:
        ``(llm, vlm, embedding)``, all pointed at the same key and endpoint.

    Raises:
        ValueError: The key is empty or a model/dimension setting is invalid.
    """
    if not api_key:
        raise ValueError(f"DashScope models need an API key: set {DASHSCOPE_API_KEY_ENV} or pass api_key.")
    connection = {"api_key": api_key, "base_url": base_url}
    return (
        DashScopeLLM(model=llm_model, **connection),
        DashScopeMultiModalLLM(model=vlm_model, **connection),
        DashScopeEmbedding(model_name=embed_model, dimension=embed_dim, **connection),
    )
