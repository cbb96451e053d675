"""A loopback HTTP server that speaks DashScope's native API, for tests.

It answers the four endpoints the adapters use with the real request and response JSON of
DashScope's ``/api/v1`` HTTP API (including the server-sent-event stream of the generation
endpoints), deterministically:

* text and multimodal generation answer ``"ANSWER: " + <last user text>``; the multimodal
  endpoint appends ``" | IMAGES: png 7x5 sha256:<12 hex>"`` for every image it received, so a
  test can prove the picture's bytes arrived intact;
* text generation speaks the tool-call protocol: given ``parameters.tools`` it answers with
  ``tool_calls`` (streamed as pieces of the arguments with ``incremental_output``) and, after the
  tool's result, in text; an agent's ReAct prompt gets ReAct-format answers
  (:mod:`tests.support.dashscope_agent_script`);
* text and multimodal embeddings are unit vectors derived from a SHA-256 of the content
  (:func:`expected_text_embedding`, :func:`expected_image_embedding`), in the requested
  dimension.

It enforces the API's limits (texts per embedding request, one content per modality for
``multimodal-embedding-v1``, allowed dimensions, well-formed images, the bearer key), records
every request (path, headers, JSON body) and can be told to fail the next N calls
(401 ``InvalidApiKey``, 429 ``Throttling`` with a ``Retry-After`` ...) or to misbehave on them
(:meth:`DashScopeFakeServer.inject`: answer too late, send truncated JSON, drop the connection, cut a
stream mid-way). It listens on 127.0.0.1 only, on a free port, and stops when its ``with`` block ends.

Example:
    >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
    >>> with DashScopeFakeServer() as server:
    ...     llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url)
    ...     llm.complete("hi").text
    'ANSWER: hi'
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import math
import random
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from tests.support.dashscope_agent_script import ProtocolError, Turn, scripted_turn

FAKE_API_KEY = "sk-fake-dashscope-test-key"

TEXT_GENERATION_PATH = "/api/v1/services/aigc/text-generation/generation"
MULTIMODAL_GENERATION_PATH = "/api/v1/services/aigc/multimodal-generation/generation"
TEXT_EMBEDDING_PATH = "/api/v1/services/embeddings/text-embedding/text-embedding"
MULTIMODAL_EMBEDDING_PATH = "/api/v1/services/embeddings/multimodal-embedding/multimodal-embedding"

# Texts per request and allowed output dimensions, as documented for the text-embedding models.
TEXT_EMBEDDING_BATCH_LIMITS = {
    "text-embedding-v1": 25,
    "text-embedding-v2": 25,
    "text-embedding-v3": 10,
    "text-embedding-v4": 10,
}
TEXT_EMBEDDING_DIMENSIONS = {
    "text-embedding-v1": (1536,),
    "text-embedding-v2": (1536,),
    "text-embedding-v3": (1024, 768, 512, 256, 128, 64),
    "text-embedding-v4": (2048, 1536, 1024, 768, 512, 256, 128, 64),
}
MULTIMODAL_EMBEDDING_DIMENSION = 1024
# Output dimensions of the multimodal-embedding models, the default first (as documented); multimodal-embedding-v1
# takes one content per modality per request, the tongyi-embedding-vision models several.
MULTIMODAL_EMBEDDING_DIMENSIONS = {
    "multimodal-embedding-v1": (1024,),
    "tongyi-embedding-vision-plus": (1152, 1024, 512, 256, 128, 64),
    "tongyi-embedding-vision-flash": (768, 512, 256, 128, 64),
}

_DEFAULT_ERRORS = {
    400: ("InvalidParameter", "The request is invalid."),
    401: ("InvalidApiKey", "Invalid API-key provided."),
    403: ("AccessDenied", "Access denied."),
    404: ("ModelNotFound", "Model not exist."),
    429: ("Throttling", "Requests rate limit exceeded, please try again later."),
    500: ("InternalError", "An internal error has occured, please try again later."),
    503: ("ServiceUnavailable", "The service is unavailable, please try again later."),
}
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Args:
        method: HTTP method.
        path: Request path, e.g. ``/api/v1/services/aigc/text-generation/generation``.
        headers: Request headers, names lower-cased.
        body: The parsed JSON body, or None when there was none or it was not JSON.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def model(self) -> str | None:
        """The ``model`` field of the body."""
        return (self.body or {}).get("model")

    @property
    def parameters(self) -> dict[str, Any]:
        """The ``parameters`` object of the body (empty when absent)."""
        return (self.body or {}).get("parameters") or {}

    @property
    def input(self) -> dict[str, Any]:
        """The ``input`` object of the body (empty when absent)."""
        return (self.body or {}).get("input") or {}


FAULT_KINDS = ("status", "slow", "truncated_json", "cut")
"""What :meth:`DashScopeFakeServer.inject` can do to a request: answer with an error status, answer only after a
sleep, send a 200 whose JSON body is cut short, or drop the connection (before any answer; a stream after half
of its events)."""


@dataclass(frozen=True)
class _Failure:
    status: int
    code: str
    message: str
    kind: str = "status"
    retry_after: str | None = None
    seconds: float = 0.0
    path: str | None = None


class _ApiError(Exception):
    """Raised inside a handler to answer with a DashScope error body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class _Reply:
    """A JSON reply, or an SSE stream when ``events`` is set; ``fault`` spoils how it is sent."""

    body: dict[str, Any] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fault: str | None = None


def expected_text_embedding(text: str, dimension: int) -> list[float]:
    """The vector the fake returns for a text (both embedding endpoints).

    Args:
        text: The embedded text.
        dimension: Vector length.

    Returns:
        A unit vector derived from a SHA-256 of the text.
    """
    return _hash_vector("text:" + text, dimension)


def expected_image_embedding(image: bytes | str, dimension: int = MULTIMODAL_EMBEDDING_DIMENSION) -> list[float]:
    """The vector the fake returns for an image.

    Args:
        image: The image's bytes (sent as a data URL), or the URL string sent for a remote image.
        dimension: Vector length.

    Returns:
        A unit vector derived from a SHA-256 of the image bytes or URL.
    """
    digest = hashlib.sha256(image).hexdigest() if isinstance(image, bytes) else "url:" + image
    return _hash_vector("image:" + digest, dimension)


def describe_image(image: bytes) -> str:
    """The description the fake VLM gives of an image it received as bytes.

    Args:
        image: The image's bytes.

    Returns:
        e.g. ``"png 7x5 sha256:0123456789ab"``.
    """
    kind, size = _sniff_image(image)
    return f"{kind} {size} sha256:{hashlib.sha256(image).hexdigest()[:12]}"


def _hash_vector(seed: str, dimension: int) -> list[float]:
    rng = random.Random(hashlib.sha256(seed.encode("utf-8")).digest())
    values = [rng.gauss(0.0, 1.0) for _ in range(dimension)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


def _sniff_image(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return "png", f"{width}x{height}"
    if data.startswith(b"\xff\xd8"):
        return "jpeg", "?x?"
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "webp", "?x?"
    if data.startswith(b"BM"):
        return "bmp", "?x?"
    raise _ApiError(400, "InvalidParameter", "The image format is illegal and cannot be opened.")


def _decode_image(url: Any) -> bytes | str:
    """Bytes of a data URL, or the URL itself for http(s)/oss; 400 for anything else."""
    if not isinstance(url, str) or not url:
        raise _ApiError(400, "InvalidParameter", "The image field must be a non-empty string.")
    match = _DATA_URL.match(url)
    if match:
        try:
            data = base64.b64decode(match.group("data"), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _ApiError(400, "InvalidParameter", "The image base64 data is illegal.") from exc
        _sniff_image(data)
        return data
    if url.startswith(("http://", "https://", "oss://")):
        return url
    raise _ApiError(400, "InvalidParameter", f"The provided URL does not appear to be valid: {url[:60]}")


def _words(text: str) -> int:
    return len(text.split())


class DashScopeFakeServer:
    """Loopback DashScope API server for tests (context manager).

    Example:
        >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
        >>> with DashScopeFakeServer() as server:
        ...     server.fail_next(1, status=429)  # the first call gets 429 Throttling, the client's retry succeeds
        ...     DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url).complete("hi").text
        ...     len(server.requests), server.requests[0].headers["authorization"] == f"Bearer {FAKE_API_KEY}"
        'ANSWER: hi'
        (2, True)

    Args:
        api_key: The only bearer key the server accepts (others get 401 ``InvalidApiKey``).
        reverse_embedding_order: Return text embeddings in reverse ``text_index`` order, to
            prove clients sort by index rather than trusting the order.
    """

    def __init__(self, api_key: str = FAKE_API_KEY, *, reverse_embedding_order: bool = False) -> None:
        self.api_key = api_key
        self.reverse_embedding_order = reverse_embedding_order
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._usage_sent: list[tuple[str, dict[str, Any]]] = []
        self._failures: deque[_Failure] = deque()
        self._tool_arguments: deque[tuple[str, str]] = deque()
        self._ids = itertools.count(1)
        self._barrier: threading.Barrier | None = None
        self._barrier_left = 0
        self._barrier_timeout = 0.0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> DashScopeFakeServer:
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    @property
    def port(self) -> int:
        """The port the server listens on (127.0.0.1)."""
        if self._httpd is None:
            raise RuntimeError("DashScopeFakeServer is not running: use it in a `with` block")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Base URL to give the SDK, e.g. ``http://127.0.0.1:PORT/api/v1``."""
        return f"http://127.0.0.1:{self.port}/api/v1"

    # -- test controls ---------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def usage_returned(self, path: str) -> list[dict[str, Any]]:
        """The ``usage`` of every answer sent whole on one endpoint (a stream's last), in order.

        Args:
            path: One of the ``*_PATH`` constants of this module.
        """
        with self._lock:
            return [dict(usage) for p, usage in self._usage_sent if p == path]

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """Requests received on one endpoint path.

        Args:
            path: One of the ``*_PATH`` constants of this module.

        Returns:
            The matching requests, in arrival order.
        """
        return [r for r in self.requests if r.path == path]

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 401,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``count`` requests (any endpoint) with an error.

        Args:
            count: How many requests fail.
            status: HTTP status, e.g. 401, 429, 500.
            code: DashScope error code; defaults to the usual one for the status
                (401 ``InvalidApiKey``, 429 ``Throttling`` ...).
            message: Error message; defaults to DashScope's usual wording.
            retry_after: Seconds sent in a ``Retry-After`` header (none when ``None``).
        """
        self.inject("status", count, status=status, code=code, message=message, retry_after=retry_after)

    def inject(
        self,
        kind: str,
        count: int = 1,
        *,
        path: str | None = None,
        status: int = 500,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        seconds: float = 1.0,
    ) -> None:
        """Make the next ``count`` requests (to ``path``, or to any endpoint) meet a fault, in arrival order.

        Args:
            kind: One of :data:`FAULT_KINDS`: ``"status"`` (an error answer), ``"slow"`` (answer after
                ``seconds``, past a short client timeout), ``"truncated_json"`` (a 200 whose body is half of
                its JSON), ``"cut"`` (the connection dropped: before any answer, or a stream after half of
                its events).
            count: How many requests meet it.
            path: Only requests to this endpoint (a ``*_PATH`` constant) meet it.
            status: For ``"status"``: the HTTP status, e.g. 429, 500, 503.
            code: For ``"status"``: the DashScope error code (the usual one for the status by default).
            message: For ``"status"``: the error message.
            retry_after: For ``"status"``: seconds sent in a ``Retry-After`` header.
            seconds: For ``"slow"``: how long the answer waits.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {FAULT_KINDS}")
        default_code, default_message = _DEFAULT_ERRORS.get(status, ("Unknown", "Error."))
        failure = _Failure(
            status,
            code or default_code,
            message or default_message,
            kind=kind,
            retry_after=None if retry_after is None else f"{retry_after:g}",
            seconds=seconds,
            path=path,
        )
        with self._lock:
            self._failures.extend([failure] * count)

    def malform_next_tool_call(self, arguments: str, *, finish_reason: str = "tool_calls") -> None:
        """Send these ``arguments`` text (e.g. broken JSON) in the next tool call the model makes.

        Args:
            arguments: The ``function.arguments`` text, sent as is.
            finish_reason: The answer's ``finish_reason`` (``length``: as if cut off at ``max_tokens``).
        """
        with self._lock:
            self._tool_arguments.append((arguments, finish_reason))

    def expect_concurrent(self, count: int, *, timeout: float = 3.0) -> None:
        """Make the next ``count`` requests wait for each other before being answered.

        A client that really sends them concurrently gets its answers at once; one that
        sends them one after another (e.g. a blocked event loop) gets 500 ``InternalError``
        for each after ``timeout`` seconds.

        Args:
            count: Requests that must be in flight together.
            timeout: Seconds a request waits for the others.
        """
        with self._lock:
            self._barrier = threading.Barrier(count)
            self._barrier_left = count
            self._barrier_timeout = timeout

    def reset(self) -> None:
        """Forget recorded requests, pending failures and concurrency expectations."""
        with self._lock:
            self._requests.clear()
            self._usage_sent.clear()
            self._failures.clear()
            self._tool_arguments.clear()
            self._barrier, self._barrier_left = None, 0

    # -- request handling (called from handler threads) ------------------------------------

    def _record(self, request: RecordedRequest) -> _Failure | None:
        with self._lock:
            self._requests.append(request)
            for failure in self._failures:
                if failure.path is None or failure.path == request.path:
                    self._failures.remove(failure)
                    return failure
            return None

    def _wait_for_peers(self) -> None:
        with self._lock:
            barrier, timeout = self._barrier, self._barrier_timeout
            if barrier is not None:
                self._barrier_left -= 1
                if self._barrier_left <= 0:
                    self._barrier = None
        if barrier is None:
            return
        try:
            barrier.wait(timeout)
        except threading.BrokenBarrierError:
            raise _ApiError(
                500, "InternalError", f"fake server: {barrier.parties} requests were expected to arrive together"
            ) from None

    def _request_id(self) -> str:
        with self._lock:
            return f"fake-{next(self._ids):06d}"

    def _dispatch(self, request: RecordedRequest) -> _Reply:
        failure = self._record(request)
        if failure is not None and failure.kind == "status":
            headers = {"Retry-After": failure.retry_after} if failure.retry_after is not None else {}
            raise _ApiError(failure.status, failure.code, failure.message, headers)
        if failure is not None and failure.kind == "slow":
            time.sleep(failure.seconds)
        reply = self._answer(request)
        if failure is not None and failure.kind in ("truncated_json", "cut"):
            reply.fault = failure.kind
        usage = (reply.events[-1] if reply.events else reply.body or {}).get("usage")
        if reply.fault is None and usage is not None and failure is None:
            with self._lock:
                self._usage_sent.append((request.path, usage))
        return reply

    def _answer(self, request: RecordedRequest) -> _Reply:
        self._wait_for_peers()
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            raise _ApiError(401, "InvalidApiKey", "Invalid API-key provided.")
        routes = {
            TEXT_GENERATION_PATH: self._text_generation,
            MULTIMODAL_GENERATION_PATH: self._multimodal_generation,
            TEXT_EMBEDDING_PATH: self._text_embedding,
            MULTIMODAL_EMBEDDING_PATH: self._multimodal_embedding,
        }
        route = routes.get(request.path)
        if route is None or request.method != "POST":
            raise _ApiError(404, "NotFound", f"No such endpoint: {request.method} {request.path}")
        if request.body is None:
            raise _ApiError(400, "InvalidParameter", "The request body is not valid JSON.")
        if not request.model:
            raise _ApiError(400, "InvalidParameter", "Model is required.")
        return route(request)

    # -- generation ------------------------------------------------------------------------

    def _text_generation(self, request: RecordedRequest) -> _Reply:
        messages = self._messages(request)
        for message in messages:
            if not isinstance(message.get("content"), str):
                raise _ApiError(400, "InvalidParameter", "Input content must be a string for text generation.")
        try:
            turn = scripted_turn(messages, request.parameters)
        except ProtocolError as error:
            raise _ApiError(400, "InvalidParameter", str(error)) from None
        if turn is None:
            last_user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
            turn = Turn(text="ANSWER: " + last_user)
        input_tokens = sum(_words(m["content"]) for m in messages)
        as_message = request.parameters.get("result_format") == "message"
        if turn.tool_calls:
            if not as_message:
                raise _ApiError(400, "InvalidParameter", "Tool calls need result_format 'message'.")
            return self._tool_call_reply(request, turn.tool_calls, input_tokens)
        return self._generation_reply(request, turn.text, input_tokens, as_message=as_message, as_list=False)

    def _tool_call_reply(self, request: RecordedRequest, calls: list[dict[str, str]], input_tokens: int) -> _Reply:
        """An answer that calls tools: whole, or streamed as pieces of each call's arguments."""
        request_id = self._request_id()
        finish_reason = "tool_calls"
        with self._lock:
            if self._tool_arguments:
                arguments, finish_reason = self._tool_arguments.popleft()
                calls = [{**calls[0], "arguments": arguments}, *calls[1:]]
        whole = [
            {"index": i, "id": f"call_{request_id}_{i}", "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}}
            for i, c in enumerate(calls)
        ]
        output_tokens = sum(_words(c["arguments"]) for c in calls)
        usage = self._usage(input_tokens, output_tokens)
        if request.headers.get("x-dashscope-sse", "").lower() != "enable":
            return _Reply(body={"output": self._tool_call_output(whole, finish_reason), "usage": usage,
                                "request_id": request_id})
        if not request.parameters.get("incremental_output"):
            raise _ApiError(400, "InvalidParameter", "The fake streams tool calls only with incremental_output.")
        events = []
        for call in whole:
            # the first piece names the call, the others extend its arguments (id and name left empty)
            text = call["function"]["arguments"]
            cuts = [0, len(text) // 3, 2 * len(text) // 3, len(text)]
            for number, (begin, end) in enumerate(zip(cuts, cuts[1:])):
                piece = {"index": call["index"], "id": call["id"] if number == 0 else "", "type": "function",
                         "function": {"name": call["function"]["name"] if number == 0 else "",
                                      "arguments": text[begin:end]}}
                events.append({"output": self._tool_call_output([piece], "null"), "usage": usage,
                               "request_id": request_id})
        events.append({"output": self._tool_call_output([], finish_reason), "usage": usage, "request_id": request_id})
        return _Reply(events=events)

    @staticmethod
    def _tool_call_output(calls: list[dict[str, Any]], finish_reason: str) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if calls:
            message["tool_calls"] = calls
        return {"choices": [{"finish_reason": finish_reason, "message": message}]}

    def _multimodal_generation(self, request: RecordedRequest) -> _Reply:
        messages = self._messages(request)
        texts: list[str] = []
        images: list[str] = []
        last_user = ""
        for message in messages:
            content = message.get("content")
            if not isinstance(content, list):
                raise _ApiError(400, "InvalidParameter", "Input content must be a list of {text|image} items.")
            message_text = []
            for item in content:
                if not isinstance(item, dict):
                    raise _ApiError(400, "InvalidParameter", "Content items must be objects.")
                if "text" in item:
                    message_text.append(str(item["text"]))
                elif "image" in item:
                    image = _decode_image(item["image"])
                    images.append(describe_image(image) if isinstance(image, bytes) else "url " + image)
                else:
                    raise _ApiError(400, "InvalidParameter", f"Unsupported content item: {sorted(item)}")
            texts.extend(message_text)
            if message.get("role") == "user":
                last_user = " ".join(message_text)
        answer = "ANSWER: " + last_user + (" | IMAGES: " + "; ".join(images) if images else "")
        input_tokens = sum(_words(t) for t in texts) + 100 * len(images)
        return self._generation_reply(request, answer, input_tokens, as_message=True, as_list=True)

    @staticmethod
    def _messages(request: RecordedRequest) -> list[dict[str, Any]]:
        messages = request.input.get("messages")
        if not messages and request.input.get("prompt"):
            messages = [{"role": "user", "content": request.input["prompt"]}]
        if not isinstance(messages, list) or not messages:
            raise _ApiError(400, "InvalidParameter", "Either prompt or messages must be provided.")
        return messages

    def _generation_reply(
        self, request: RecordedRequest, answer: str, input_tokens: int, *, as_message: bool, as_list: bool
    ) -> _Reply:
        request_id = self._request_id()
        streaming = request.headers.get("x-dashscope-sse", "").lower() == "enable"
        if not streaming:
            usage = self._usage(input_tokens, _words(answer))
            output = self._generation_output(answer, "stop", as_message=as_message, as_list=as_list)
            return _Reply(body={"output": output, "usage": usage, "request_id": request_id})
        incremental = bool(request.parameters.get("incremental_output"))
        pieces = re.findall(r"\S+\s*", answer) or [answer]
        events, sent = [], ""
        for index, piece in enumerate(pieces):
            sent += piece
            last = index == len(pieces) - 1
            output = self._generation_output(
                piece if incremental else sent, "stop" if last else "null", as_message=as_message, as_list=as_list
            )
            usage = self._usage(input_tokens, _words(sent))
            events.append({"output": output, "usage": usage, "request_id": request_id})
        return _Reply(events=events)

    @staticmethod
    def _generation_output(text: str, finish_reason: str, *, as_message: bool, as_list: bool) -> dict[str, Any]:
        if not as_message:
            return {"text": text, "finish_reason": finish_reason}
        content: Any = [{"text": text}] if as_list else text
        return {"choices": [{"finish_reason": finish_reason, "message": {"role": "assistant", "content": content}}]}

    @staticmethod
    def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        }

    # -- embeddings ------------------------------------------------------------------------

    def _text_embedding(self, request: RecordedRequest) -> _Reply:
        model = str(request.model)
        texts = request.input.get("texts")
        if not isinstance(texts, list) or not texts:
            raise _ApiError(400, "InvalidParameter", "input.texts must be a non-empty list.")
        limit = TEXT_EMBEDDING_BATCH_LIMITS.get(model, 10)
        if len(texts) > limit:
            raise _ApiError(
                400, "InvalidParameter", f"batch size is invalid, it should not be larger than {limit}.: input.texts"
            )
        if any(not isinstance(t, str) or not t.strip() for t in texts):
            raise _ApiError(400, "InvalidParameter", "input.texts should not contain empty strings.")
        text_type = request.parameters.get("text_type", "document")
        if text_type not in ("query", "document"):
            raise _ApiError(400, "InvalidParameter", f"text_type must be query or document, not {text_type!r}.")
        allowed = TEXT_EMBEDDING_DIMENSIONS.get(model, (1024,))
        dimension = request.parameters.get("dimension", 1024 if 1024 in allowed else allowed[0])
        if dimension not in allowed:
            raise _ApiError(400, "InvalidParameter", f"dimension {dimension} is not supported by {model}.")
        embeddings = [
            {"text_index": i, "embedding": expected_text_embedding(t, dimension)} for i, t in enumerate(texts)
        ]
        if self.reverse_embedding_order:
            embeddings.reverse()
        usage = {"total_tokens": sum(_words(t) for t in texts)}
        return _Reply(body={"output": {"embeddings": embeddings}, "usage": usage, "request_id": self._request_id()})

    def _multimodal_embedding(self, request: RecordedRequest) -> _Reply:
        contents = request.input.get("contents")
        if not isinstance(contents, list) or not contents:
            raise _ApiError(400, "InvalidParameter", "input.contents must be a non-empty list.")
        allowed = MULTIMODAL_EMBEDDING_DIMENSIONS.get(str(request.model))
        if allowed is None:
            raise _ApiError(404, "ModelNotFound", f"Model {request.model} does not exist on the multimodal endpoint.")
        dimension = request.parameters.get("dimension", allowed[0])
        if dimension not in allowed:
            raise _ApiError(400, "InvalidParameter", f"{request.model} supports dimensions {list(allowed)}.")
        one_per_kind = request.model == "multimodal-embedding-v1"
        seen: set[str] = set()
        embeddings, image_count, tokens = [], 0, 0
        for index, item in enumerate(contents):
            kinds = [k for k in ("text", "image", "video", "audio") if isinstance(item, dict) and k in item]
            if len(kinds) != 1:
                raise _ApiError(400, "InvalidParameter", "Each content must hold exactly one of text/image/video.")
            kind = kinds[0]
            if kind in seen and one_per_kind:
                raise _ApiError(
                    400, "InvalidParameter", f"Only one {kind} per request is supported by {request.model}."
                )
            seen.add(kind)
            if kind == "text":
                text = item["text"]
                if not isinstance(text, str) or not text.strip():
                    raise _ApiError(400, "InvalidParameter", "The text content must be a non-empty string.")
                vector, tokens = expected_text_embedding(text, dimension), tokens + _words(text)
            elif kind == "image":
                vector, image_count = expected_image_embedding(_decode_image(item["image"]), dimension), image_count + 1
            else:
                raise _ApiError(400, "InvalidParameter", f"The fake server does not embed {kind}.")
            embeddings.append({"index": index, "embedding": vector, "type": kind})
        usage = {"input_tokens": tokens, "image_count": image_count, "duration": 0}
        return _Reply(body={"output": {"embeddings": embeddings}, "usage": usage, "request_id": self._request_id()})


class _Handler(BaseHTTPRequestHandler):
    """Parses a request, lets the bound :class:`DashScopeFakeServer` answer it, writes the reply."""

    fake: DashScopeFakeServer
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers at shutdown

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        """Keep test output quiet."""

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Answer GET (no such endpoint in the fake: 404)."""
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        """Answer POST."""
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = RecordedRequest(method=method, path=self.path, headers=headers, body=body)
        try:
            reply = self.fake._dispatch(request)
        except _ApiError as error:
            error_body = {"code": error.code, "message": error.message, "request_id": self.fake._request_id()}
            self._write_json(error.status, error_body, headers=error.headers)
            return
        try:
            if reply.fault == "cut" and not reply.events:
                self.close_connection = True  # dropped before any answer
            elif reply.events:
                events = reply.events[: max(1, len(reply.events) // 2)] if reply.fault == "cut" else reply.events
                self._write_events(events)
            else:
                self._write_json(HTTPStatus.OK, reply.body or {}, truncate=reply.fault == "truncated_json")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting ("slow")
            self.close_connection = True

    def _write_json(
        self, status: int, body: dict[str, Any], *, headers: dict[str, str] | None = None, truncate: bool = False
    ) -> None:
        payload = json.dumps(body).encode("utf-8")
        if truncate:
            payload = payload[: len(payload) // 2]
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _write_events(self, events: list[dict[str, Any]]) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream;charset=UTF-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for number, event in enumerate(events, start=1):
            frame = f"id:{number}\nevent:result\n:HTTP_STATUS/200\ndata:{json.dumps(event)}\n\n"
            self.wfile.write(frame.encode("utf-8"))
            self.wfile.flush()
