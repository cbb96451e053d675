"""What every DashScope model shares: the API key, the per-instance base URL, timeouts and retries."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import dashscope
from llama_index.core.bridge.pydantic import BaseModel, Field, field_validator, model_validator

from llama_index_mmrag.models.dashscope.calls import CallContext

if TYPE_CHECKING:
    from llama_index_mmrag.settings import MMRAGSettings

DASHSCOPE_API_KEY_ENV = "DASHSCOPE_API_KEY"


def connection_settings(settings: MMRAGSettings) -> dict[str, Any]:
    """The endpoint, timeout and retry fields of every DashScope model, as the settings give them (the API key is
    each caller's: a missing one is reported in the caller's terms).

    Args:
        settings: The package settings (``MMRAG_LLM_TIMEOUT``, ``MMRAG_LLM_MAX_RETRIES``, ...).

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> connection_settings(MMRAGSettings(llm_max_retries=5))["max_retries"]
        5
    """
    return {
        "base_url": settings.dashscope_base_url,
        "timeout": settings.llm_timeout,
        "max_retries": settings.llm_max_retries,
        "retry_backoff": settings.llm_retry_backoff,
        "max_retry_wait": settings.llm_retry_max_wait,
    }


class DashScopeConnection(BaseModel):
    """Key, endpoint, timeout and retry settings shared by every adapter.

    Args:
        api_key: DashScope API key; defaults to ``DASHSCOPE_API_KEY``.
        base_url: Native API base URL (``.../api/v1``); None keeps the SDK default.
        timeout: Seconds per HTTP request.
        max_retries: Retries for 429, 5xx, timeouts, dropped connections and garbled answers.
        retry_backoff: Seconds before the first retry (with jitter), doubling after; a ``Retry-After`` from the
            server is honoured.
        max_retry_wait: Seconds the waits between retries of one call may add up to.

    Example:
        >>> connection = DashScopeConnection(base_url="http://127.0.0.1:8080/api/v1", max_retries=0)  # DASHSCOPE_API_KEY
        >>> connection.max_retries, connection.timeout, "api_key" in connection.model_dump()   # the key is never dumped
        (0, 120.0, False)
        >>> DashScopeConnection(api_key="sk-test", base_url="dashscope.aliyuncs.com")
        Traceback (most recent call last):
        pydantic_core._pydantic_core.ValidationError: 1 validation error for DashScopeConnection
        base_url
          Value error, base_url 'dashscope.aliyuncs.com' is not an http(s) URL: use e.g. https://dashscope.aliyuncs.com/api/v1...
    """

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
    max_retries: int = Field(
        default=3, ge=0, description="Retries for 429, 5xx, timeouts, dropped connections and garbled answers."
    )
    retry_backoff: float = Field(default=1.0, ge=0, description="Seconds before the first retry; doubles after.")
    max_retry_wait: float = Field(
        default=60.0, ge=0, description="Seconds the waits between retries of one call may add up to."
    )

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

    def _context(self, model: str, operation: str) -> CallContext:
        return CallContext(
            model=model,
            operation=operation,
            endpoint=self._endpoint(),
            max_retries=self.max_retries,
            retry_backoff=self.retry_backoff,
            max_retry_wait=self.max_retry_wait,
        )

    def _transport_kwargs(self) -> dict[str, Any]:
        """``api_key``, ``request_timeout`` and, when set, ``base_address`` for one SDK call."""
        kwargs: dict[str, Any] = {"api_key": self.api_key, "request_timeout": self.timeout}
        if self.base_url is not None:
            kwargs["base_address"] = self.base_url
        return kwargs
