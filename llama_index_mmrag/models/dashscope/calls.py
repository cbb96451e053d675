"""Calling the DashScope SDK: retries with exponential backoff and jitter on 429, 5xx, timeouts, dropped
connections and garbled answers (a ``Retry-After`` the server sends is honoured), bounded in attempts and in
total waiting time, and every failure raised as a :class:`~llama_index_mmrag.models.dashscope.errors.DashScopeError`
(plain and streamed calls, sync and async). A stream that ends before the model finished raises too, instead of
passing for a short answer.

Each retry is logged at ``INFO`` on this module's logger (what failed, which retry, how long the wait); the
failure that ends the call is raised, never logged and dropped. The SDK's own ``Request failed`` record (an
``ERROR`` with a traceback, for every failed attempt) is dropped: the attempt is retried or raised here.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import requests
from dashscope.api_entities.aio_session import close_shared_aio_session
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse
from dashscope.common.error import DashScopeException

from llama_index_mmrag.models.dashscope.errors import MALFORMED_RESPONSE, STREAM_CUT, DashScopeError
from llama_index_mmrag.runtime import on_loop_close

logger = logging.getLogger(__name__)

# The SDK keeps one aiohttp session per event loop and closes it at exit only where that loop is still open; the
# engine loop closes before (llama_index_mmrag.runtime), so its session is closed with it.
on_loop_close(close_shared_aio_session)


class SdkFailureFilter(logging.Filter):
    """Drops the SDK's ``Request failed`` record: each failed attempt is retried or raised by this module.

    Example:
        >>> SdkFailureFilter().filter(logging.makeLogRecord({"msg": "Request failed"}))
        False
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the SDK's ``Request failed`` record."""
        return record.msg != "Request failed"


_SDK_LOGGER = logging.getLogger("dashscope")
if not any(isinstance(f, SdkFailureFilter) for f in _SDK_LOGGER.filters):
    _SDK_LOGGER.addFilter(SdkFailureFilter())

_TRANSPORT_ERRORS: tuple[type[BaseException], ...] = (
    requests.exceptions.RequestException,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    ConnectionError,
)


_T = TypeVar("_T")


@dataclass(frozen=True)
class CallContext:
    """Who is calling what, and how often and how long to retry.

    Args:
        model: The model called.
        operation: What is attempted, e.g. ``"chat"``.
        endpoint: The base URL called.
        max_retries: Retries after the first attempt, at most.
        retry_backoff: Seconds before the first retry (before jitter); doubles for each next one.
        max_retry_wait: Seconds all the waits of one call may add up to; a retry that would pass it is not made.

    Example:
        >>> from dashscope import Generation
        >>> ctx = CallContext(model="qwen-max", operation="chat", endpoint="https://dashscope.aliyuncs.com/api/v1",
        ...                   max_retries=2, retry_backoff=0.5)
        >>> [0.5 * 2**a / 2 <= ctx.delay(a) <= 0.5 * 2**a for a in range(3)]  # backoff with jitter before each retry
        [True, True, True]
        >>> ctx.delay(0, retry_after=3.0)                          # the server's Retry-After is honoured
        3.0
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
    max_retry_wait: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``attempt + 1``: between half and all of ``retry_backoff * 2**attempt``
        (random, so clients that failed together do not retry together), and never less than ``retry_after``."""
        base = self.retry_backoff * (2**attempt)
        return max(base / 2 + random.uniform(0.0, base / 2), retry_after or 0.0)

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
            retry_after=retry_after_seconds(getattr(response, "headers", None)),
        )

    def error_from_exception(self, exc: BaseException) -> DashScopeError:
        """A :class:`DashScopeError` for a transport failure, a garbled answer or an SDK-side exception."""
        if isinstance(exc, json.JSONDecodeError):  # requests' own is a RequestException too: checked first
            error = self.unexpected(f"the answer is not valid JSON (cut short?): {exc}", code=MALFORMED_RESPONSE)
            error.__cause__ = exc
            return error
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

    def unexpected(
        self, message: str, request_id: str | None = None, code: str = "UnexpectedResponse"
    ) -> DashScopeError:
        """A :class:`DashScopeError` for a 200 answer with an unusable body."""
        return DashScopeError(
            model=self.model,
            operation=self.operation,
            status_code=HTTPStatus.OK,
            code=code,
            server_message=message,
            request_id=request_id,
            endpoint=self.endpoint,
        )


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait (a number of seconds or an HTTP date), or ``None``.

    Args:
        headers: Response headers (any mapping; the name is matched in any case).

    Example:
        >>> retry_after_seconds({"retry-after": "2"}), retry_after_seconds({}), retry_after_seconds({"Retry-After": "soon"})
        (2.0, None, None)
    """
    value = next((str(v) for k, v in dict(headers or {}).items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _is_ok(response: Any) -> bool:
    return getattr(response, "status_code", None) == HTTPStatus.OK


_FAILURES: tuple[type[BaseException], ...] = (
    DashScopeError,
    DashScopeException,
    json.JSONDecodeError,
    *_TRANSPORT_ERRORS,
)


class _Retries:
    """One call's retry policy, shared by the sync and async loops: judges each response and failure."""

    def __init__(self, ctx: CallContext) -> None:
        self._ctx = ctx
        self._attempt = 0
        self._waited = 0.0

    def accepted(self, response: _T) -> _T:
        """The response when it is a 200; raises its :class:`DashScopeError` otherwise."""
        if not _is_ok(response):
            raise self._ctx.error_from_response(response)  # type: ignore[arg-type]
        return response

    def delay_after(self, failure: BaseException) -> float:
        """Seconds to wait before the next try; raises the failure's :class:`DashScopeError` when none is left
        (not retryable, no retry left, or the wait would pass ``max_retry_wait``)."""
        ctx = self._ctx
        error = failure if isinstance(failure, DashScopeError) else ctx.error_from_exception(failure)
        if not error.retryable:
            raise error
        if self._attempt >= ctx.max_retries:
            raise error.after_retries(self._attempt)
        delay = ctx.delay(self._attempt, error.retry_after)
        if self._waited + delay > ctx.max_retry_wait:
            raise error.after_retries(self._attempt, f"the next wait ({delay:.1f} s) would pass max_retry_wait")
        self._attempt += 1
        self._waited += delay
        logger.info(
            "DashScope %s with model %r failed (%s); retry %d of %d in %.3f s",
            ctx.operation, ctx.model, error.code, self._attempt, ctx.max_retries, delay,
        )
        return delay


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
            raise ctx.unexpected("the stream ended before any chunk", code=STREAM_CUT)
        if _is_ok(first):
            return _OpenedStream(first, chunks)
        getattr(chunks, "close", lambda: None)()
        return first

    opened: _OpenedStream = call_sync(ctx, attempt)
    return _checked_chunks(ctx, opened.first, opened.rest)


_FINISHED = frozenset({"stop", "length", "tool_calls", "function_call", "content_filter"})


def _finished(chunk: Any) -> bool:
    """Whether a stream chunk is the model's last (it carries a ``finish_reason``)."""
    output = getattr(chunk, "output", None) or {}
    choices = output.get("choices") or []
    reason = choices[0].get("finish_reason") if choices else output.get("finish_reason")
    return reason in _FINISHED


def _stream_cut(ctx: CallContext, last: Any) -> DashScopeError:
    return ctx.unexpected(
        "the stream ended before the model finished its answer (the connection dropped mid-stream)",
        getattr(last, "request_id", None),
        code=STREAM_CUT,
    )


def _checked_chunks(ctx: CallContext, first: Any, chunks: Iterator[Any]) -> Iterator[Any]:
    yield first
    last = first
    try:
        for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            last = chunk
            yield chunk
    except (DashScopeException, json.JSONDecodeError, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc
    if not _finished(last):
        raise _stream_cut(ctx, last)


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
            raise ctx.unexpected("the stream ended before any chunk", code=STREAM_CUT) from None
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
    last = first
    try:
        async for chunk in chunks:
            if not _is_ok(chunk):
                raise ctx.error_from_response(chunk)
            last = chunk
            yield chunk
    except (DashScopeException, json.JSONDecodeError, *_TRANSPORT_ERRORS) as exc:
        raise ctx.error_from_exception(exc) from exc
    if not _finished(last):
        raise _stream_cut(ctx, last)
