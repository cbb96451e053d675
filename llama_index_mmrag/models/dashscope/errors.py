"""DashScope's errors: :class:`DashScopeError`, naming the model, the status, DashScope's code and what to do."""

from __future__ import annotations

from http import HTTPStatus

from llama_index_mmrag.errors import ModelError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
MALFORMED_RESPONSE = "MalformedResponse"
"""The code of a 200 answer whose JSON body is cut short or garbled."""
STREAM_CUT = "IncompleteStream"
"""The code of a stream that ended before the model finished (the connection dropped)."""
RETRYABLE_CODES = frozenset({MALFORMED_RESPONSE, STREAM_CUT})


class DashScopeError(ModelError, RuntimeError):
    """A DashScope call failed: HTTP error, unexpected answer, or endpoint unreachable.

    The message names the model, the HTTP status and DashScope error code, the server's
    message and request id, and what to do about it.

    Example:
        >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
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
        retry_after: Seconds the server's ``Retry-After`` header asked to wait, if it sent one.
        retries: Retries made before giving up (set by :meth:`after_retries`).
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
        retry_after: float | None = None,
        retries: int = 0,
    ) -> None:
        self.model = model
        self.operation = operation
        self.status_code = status_code
        self.code = code
        self.server_message = server_message
        self.request_id = request_id
        self.endpoint = endpoint
        self.transport_failure = transport_failure
        self.retry_after = retry_after
        self.retries = retries
        self.gave_up = ""
        super().__init__(self._compose())

    @property
    def retryable(self) -> bool:
        """Whether trying again later may succeed (429, 5xx, unreachable endpoint or timeout, an answer cut short)."""
        return self.transport_failure or self.status_code in RETRYABLE_STATUS or self.code in RETRYABLE_CODES

    def after_retries(self, retries: int, why: str = "") -> DashScopeError:
        """This error, its message saying how many retries were made before giving up (and why, if not the count).

        Args:
            retries: Retries made.
            why: Why no more were made, when it was not the retry count.
        """
        self.retries, self.gave_up = retries, why
        self.args = (self._compose(),)
        return self

    @property
    def hint(self) -> str:
        """What the user should do about this error."""
        if self.code in RETRYABLE_CODES:
            return (
                "The answer arrived cut short or garbled: retry later, or allow more retries "
                "(MMRAG_LLM_MAX_RETRIES); if it persists, check the network path to the endpoint."
            )
        if self.transport_failure:
            return f"Check network access to {self.endpoint} and the base_url / DASHSCOPE_HTTP_BASE_URL setting."
        return _error_hint(self.status_code, self.code)

    def _compose(self) -> str:
        head = f"DashScope {self.operation} with model '{self.model}' failed"
        if self.retries:
            head += f" after {self.retries} retr{'y' if self.retries == 1 else 'ies'}"
        if self.gave_up:
            head += f" ({self.gave_up})"
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
