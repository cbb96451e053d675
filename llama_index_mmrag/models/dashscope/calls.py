"""Calling the DashScope SDK: retries with backoff on 429, 5xx and transport failures, and every failure raised
as a :class:`~llama_index_mmrag.models.dashscope.errors.DashScopeError` (plain and streamed calls, sync and
async)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import requests
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse
from dashscope.common.error import DashScopeException

from llama_index_mmrag.models.dashscope.errors import DashScopeError


_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)


_T = TypeVar("_T")


@dataclass(frozen=True)
class CallContext:
    """Who is calling what, and how often to retry.

    Example:
        >>> from dashscope import Generation
        >>> ctx = CallContext(model="qwen-max", operation="chat", endpoint="https://dashscope.aliyuncs.com/api/v1",
        ...                   max_retries=2, retry_backoff=0.5)
        >>> [ctx.delay(attempt) for attempt in range(3)]           # seconds before each retry of a 429 or 5xx
        [0.5, 1.0, 2.0]
        >>> try:                                                    # DashScope's API refuses the key: no retry
        ...     call_sync(ctx, lambda: Generation.call(model="qwen-max", prompt="hi", api_key="sk-wrong"))
        ... except DashScopeError as exc:
        ...     print(str(exc))
        DashScope chat with model 'qwen-max' failed: HTTP 401 InvalidApiKey: Invalid API-key provided. ...
    """

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


_FAILURES: tuple[type[BaseException], ...] = (DashScopeError, DashScopeException, *_TRANSPORT_ERRORS)


class _Retries:
    """One call's retry policy, shared by the sync and async loops: judges each response and failure."""

    def __init__(self, ctx: CallContext) -> None:
        self._ctx = ctx
        self._attempt = 0

    def accepted(self, response: _T) -> _T:
        """The response when it is a 200; raises its :class:`DashScopeError` otherwise."""
        if not _is_ok(response):
            raise self._ctx.error_from_response(response)  # type: ignore[arg-type]
        return response

    def delay_after(self, failure: BaseException) -> float:
        """Seconds to wait before the next try; raises the failure's :class:`DashScopeError` when none is left."""
        error = failure if isinstance(failure, DashScopeError) else self._ctx.error_from_exception(failure)
        if not error.retryable or self._attempt >= self._ctx.max_retries:
            raise error
        self._attempt += 1
        return self._ctx.delay(self._attempt - 1)


def call_sync(ctx: CallContext, send: Callable[[], _T]) -> _T:
    """Send a non-streaming request, retrying retryable failures.

    Args:
        ctx: Model, operation and retry policy.
        send: Makes the SDK call and returns its response.

    Returns:
        The 200 response.

    Raises:
        DashScopeError: When the call failed and retries are exhausted or pointless.
    """
    retries = _Retries(ctx)
    while True:
        try:
            return retries.accepted(send())
        except _FAILURES as failure:
            time.sleep(retries.delay_after(failure))


async def call_async(ctx: CallContext, send: Callable[[], Awaitable[_T]]) -> _T:
    """Async twin of :func:`call_sync`: same arguments, but ``send`` returns an awaitable of the response."""
    retries = _Retries(ctx)
    while True:
        try:
            return retries.accepted(await send())
        except _FAILURES as failure:
            await asyncio.sleep(retries.delay_after(failure))


@dataclass(frozen=True)
class _OpenedStream:
    """A stream whose first chunk succeeded; looks like a 200 response to the retry loop."""

    first: Any
    rest: Any
    status_code: int = HTTPStatus.OK


def open_stream_sync(ctx: CallContext, send: Callable[[], Iterable[Any]]) -> Iterator[Any]:
    """Start an SSE stream, retrying (like :func:`call_sync`) until its first chunk succeeds.

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

    opened: _OpenedStream = call_sync(ctx, attempt)
    return _checked_chunks(ctx, opened.first, opened.rest)


def _checked_chunks(ctx: CallContext, first: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    yield first
    try:
        for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            yield chunk
    except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc


async def open_stream_async(
    ctx: CallContext, send: Callable[[], Awaitable[AsyncIterator[Any]]]
) -> AsyncIterator[Any]:
    """Async twin of :func:`open_stream_sync`.

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

    opened: _OpenedStream = await call_async(ctx, attempt)
    return _checked_achunks(ctx, opened.first, opened.rest)


async def _checked_achunks(ctx: CallContext, first: Any, chunks: AsyncIterator[Any]) -> AsyncIterator[Any]:
    yield first
    try:
        async for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            yield chunk
    except (DashScopeException, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc
