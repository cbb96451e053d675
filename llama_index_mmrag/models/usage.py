"""Model usage: LLM calls, VLM calls and tokens, counted where every LlamaIndex LLM call is announced.

Every LlamaIndex LLM announces each call on LlamaIndex's instrumentation dispatcher (``LLMChatStartEvent`` ...
``LLMChatEndEvent``, the same for completions), the end event carrying the response. One event handler on the
root dispatcher, :class:`UsageEventHandler`, counts those calls into the :class:`ModelUsage` of the code that
made them, so DashScope's models and any other LlamaIndex LLM are counted the same way, with no wrapper.

* **Whose call.** :func:`usage_scope` makes a :class:`ModelUsage` current for a block of code and every task it
  starts (a context variable). Calls made where no scope is current, on an event loop that
  :func:`loop_usage` was given (LightRAG runs its LLM calls in worker tasks of its own), count there.
* **LLM or VLM.** A call that sends images (an ``ImageBlock`` in its messages, or ``image_documents``) is a
  VLM call; any other is an LLM call.
* **Tokens.** The response's ``additional_kwargs`` (``prompt_tokens``, ``completion_tokens``: DashScope's
  adapters and others), else its ``raw`` usage (OpenAI's ``prompt_tokens`` / ``completion_tokens``, DashScope's
  and Anthropic's ``input_tokens`` / ``output_tokens``). An LLM that reports no usage counts calls and 0 tokens.
* **Once per call.** An LLM whose ``chat`` calls its own ``complete`` (LlamaIndex's ``CustomLLM``) announces both;
  only the inner one is counted. A call that fails announces no end: it is not counted.

Example:
    >>> from llama_index.core.llms import ChatMessage
    >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
    >>> usage = ModelUsage()
    >>> with usage_scope(usage):
    ...     _ = DashScopeLLM().chat([ChatMessage(role="user", content="hi")])   # the test server answers
    >>> usage.llm_calls, usage.vlm_calls, usage.total_tokens > 0
    (1, 0, True)
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatStartEvent,
    LLMCompletionEndEvent,
    LLMCompletionStartEvent,
)


@dataclass
class ModelUsage:
    """Calls and tokens spent on models.

    Args:
        llm_calls: Calls that sent text only.
        vlm_calls: Calls that sent images.
        prompt_tokens: Input tokens, as the models reported them.
        completion_tokens: Output tokens, as the models reported them.

    Example:
        >>> usage = ModelUsage(llm_calls=3, vlm_calls=1, prompt_tokens=900, completion_tokens=120)
        >>> usage.calls, usage.total_tokens, usage.summary()
        (4, 1020, '3 LLM + 1 VLM calls, 1020 tokens (900 prompt, 120 completion)')
    """

    llm_calls: int = 0
    vlm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def calls(self) -> int:
        """LLM and VLM calls together."""
        return self.llm_calls + self.vlm_calls

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: ModelUsage) -> ModelUsage:
        """Add ``other``'s counts to these; returns ``self``.

        Args:
            other: Another usage.
        """
        self.llm_calls += other.llm_calls
        self.vlm_calls += other.vlm_calls
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        return self

    def as_dict(self) -> dict[str, int]:
        """The counts, with the totals, as a JSON-ready dict."""
        return {**asdict(self), "total_tokens": self.total_tokens}

    def summary(self) -> str:
        """One line for humans."""
        return (
            f"{self.llm_calls} LLM + {self.vlm_calls} VLM calls, {self.total_tokens} tokens "
            f"({self.prompt_tokens} prompt, {self.completion_tokens} completion)"
        )


_scope: ContextVar[ModelUsage | None] = ContextVar("mmrag_model_usage", default=None)
_last_event: ContextVar[str] = ContextVar("mmrag_model_usage_last_event", default="end")
_sends_images: ContextVar[bool] = ContextVar("mmrag_model_usage_images", default=False)
_loop_usage: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, ModelUsage] = weakref.WeakKeyDictionary()
_install_lock = threading.Lock()
_installed: list[UsageEventHandler] = []


def _has_images(event: BaseEvent) -> bool:
    if isinstance(event, LLMChatStartEvent):
        return any(getattr(b, "block_type", "") == "image" for m in event.messages for b in m.blocks)
    if isinstance(event, LLMCompletionStartEvent):
        return bool(event.additional_kwargs.get("image_documents"))
    return False


def _usage_of(raw: Any) -> Mapping[str, Any]:
    usage = raw.get("usage") if isinstance(raw, Mapping) else getattr(raw, "usage", None)
    if usage is None or isinstance(usage, Mapping):
        return usage or {}
    dump = getattr(usage, "model_dump", None)
    return dump() if callable(dump) else dict(vars(usage))


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def response_tokens(response: Any) -> tuple[int, int]:
    """``(prompt_tokens, completion_tokens)`` a LlamaIndex chat or completion response reports (0 when none).

    Args:
        response: A ``ChatResponse`` or ``CompletionResponse``.

    Example:
        >>> from llama_index.core.base.llms.types import CompletionResponse
        >>> response_tokens(CompletionResponse(text="ok", raw={"usage": {"input_tokens": 12, "output_tokens": 3}}))
        (12, 3)
    """
    extra = getattr(response, "additional_kwargs", None) or {}
    if "prompt_tokens" in extra or "completion_tokens" in extra:
        return _int(extra.get("prompt_tokens")), _int(extra.get("completion_tokens"))
    usage = _usage_of(getattr(response, "raw", None))
    prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
    completion = usage.get("completion_tokens", usage.get("output_tokens"))
    return _int(prompt), _int(completion)


def current_usage() -> ModelUsage | None:
    """The :class:`ModelUsage` a model call made here counts to: the scope's, else the running loop's, else none."""
    usage = _scope.get()
    if usage is not None:
        return usage
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return _loop_usage.get(loop)


class UsageEventHandler(BaseEventHandler):
    """Counts each LlamaIndex LLM call into :func:`current_usage` (installed once by :func:`usage_scope`).

    Example:
        >>> handler = install_usage_handler()
        >>> handler is install_usage_handler(), handler.class_name()   # one handler per process
        (True, 'UsageEventHandler')
    """

    @classmethod
    def class_name(cls) -> str:
        """Class name."""
        return "UsageEventHandler"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        """Note a call's start; count it at its end, once (the innermost of nested announcements).

        Args:
            event: Any instrumentation event (only LLM chat and completion starts and ends are read).
            **kwargs: Unused.
        """
        if isinstance(event, (LLMChatStartEvent, LLMCompletionStartEvent)):
            inside = _last_event.get() == "start"  # announced inside another call of the same LLM
            _sends_images.set(_has_images(event) or (inside and _sends_images.get()))
            _last_event.set("start")
        elif isinstance(event, (LLMChatEndEvent, LLMCompletionEndEvent)):
            outer = _last_event.get() == "end"  # the end of a call whose inner call was counted
            _last_event.set("end")
            usage = current_usage()
            if outer or usage is None or event.response is None:
                return
            prompt, completion = response_tokens(event.response)
            if _sends_images.get():
                usage.vlm_calls += 1
            else:
                usage.llm_calls += 1
            usage.prompt_tokens += prompt
            usage.completion_tokens += completion


def install_usage_handler() -> UsageEventHandler:
    """Add the :class:`UsageEventHandler` to LlamaIndex's root dispatcher, once per process; returns it."""
    with _install_lock:
        if not _installed:
            handler = UsageEventHandler()
            get_dispatcher().add_event_handler(handler)
            _installed.append(handler)
        return _installed[0]


@contextmanager
def usage_scope(usage: ModelUsage) -> Iterator[ModelUsage]:
    """Count the model calls made in this block, and in the tasks it starts, into ``usage``.

    Args:
        usage: Where the calls add up.

    Example:
        >>> with usage_scope(ModelUsage()) as usage:
        ...     pass                                  # model calls here count into usage
        >>> usage.calls
        0
    """
    install_usage_handler()
    token = _scope.set(usage)
    try:
        yield usage
    finally:
        _scope.reset(token)


@contextmanager
def loop_usage(usage: ModelUsage) -> Iterator[ModelUsage]:
    """Count into ``usage`` the calls made on the running event loop where no :func:`usage_scope` is current:
    the calls a library makes from worker tasks of its own (LightRAG's extraction), while this block runs.

    Args:
        usage: Where the calls add up.

    Raises:
        RuntimeError: When no event loop is running.
    """
    install_usage_handler()
    loop = asyncio.get_running_loop()
    previous = _loop_usage.get(loop)
    _loop_usage[loop] = usage
    try:
        yield usage
    finally:
        if previous is None:
            _loop_usage.pop(loop, None)
        else:
            _loop_usage[loop] = previous
