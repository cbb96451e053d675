"""Adapters from LlamaIndex models to the async functions LightRAG and RAG-Anything call.

LightRAG's LLM contract is ``async f(prompt, system_prompt=None, history_messages=None,
keyword_extraction=False, **kw) -> str``; RAG-Anything's vision contract adds ``image_data`` (base64).
Any LlamaIndex ``LLM`` (text) or multimodal LLM (chat with ``ImageBlock``) plugs in here.

Example:
    >>> from llama_index_mmrag.models.adapters import lightrag_llm_func, lightrag_embedding_func
    >>> import asyncio
    >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
    >>> llm_func = lightrag_llm_func(DashScopeLLM())  # any LlamaIndex LLM
    >>> asyncio.run(llm_func("Summarise", system_prompt="Be brief"))  # the test server echoes the prompt
    'ANSWER: Summarise'
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np

from llama_index_mmrag.errors import ModelError

if TYPE_CHECKING:  # LlamaIndex is imported where messages are built: the graph's embedding wrapper needs none of it
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.llms import LLM

LightRAGLLMFunc = Callable[..., Awaitable[str]]
T = TypeVar("T")
logger = logging.getLogger(__name__)


class TextEmbedder(Protocol):
    """What the graph needs of an embedding model: texts embedded in batches, sync and async. Any LlamaIndex
    ``BaseEmbedding`` is one; so is the packaged MiniLM that ``mmrag delete`` loads without LlamaIndex.

    Example:
        >>> from llama_index_mmrag.models.embeddings import local_embedding
        >>> embedder: TextEmbedder = local_embedding()          # any LlamaIndex BaseEmbedding is one
        >>> vectors = embedder.get_text_embedding_batch(["Milvus stores vectors.", "Lite runs in one process."])
        >>> len(vectors), len(vectors[0])
        (2, 384)
    """

    def get_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Embed ``texts``."""

    async def aget_text_embedding_batch(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        """Async twin of :meth:`get_text_embedding_batch`."""


class NoLLMConfiguredError(ModelError, RuntimeError):
    """Raised when a code path that needs an LLM runs with none configured.

    Example:
        >>> try:
        ...     asyncio.run(no_llm_func("Summarise this"))  # what LightRAG gets as its LLM offline
        ... except NoLLMConfiguredError as exc:
        ...     print(exc)
        No LLM is configured, and this step needs one. Set DASHSCOPE_API_KEY, or pass llm=<any LlamaIndex LLM> ...
    """


def _messages(
    prompt: str,
    system_prompt: str | None,
    history_messages: Sequence[dict[str, Any]] | None,
    image_data: str | Sequence[str] | None = None,
) -> list[ChatMessage]:
    from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock

    messages: list[ChatMessage] = []
    if system_prompt:
        messages.append(ChatMessage(role=MessageRole.SYSTEM, content=system_prompt))
    for item in history_messages or []:
        messages.append(ChatMessage(role=MessageRole(item.get("role", "user")), content=str(item.get("content", ""))))
    images = [image_data] if isinstance(image_data, str) else list(image_data or [])
    if images:
        blocks: list[Any] = [ImageBlock(image=base64.b64decode(img), image_mimetype="image/png") for img in images]
        blocks.append(TextBlock(text=prompt))
        messages.append(ChatMessage(role=MessageRole.USER, blocks=blocks))
    else:
        messages.append(ChatMessage(role=MessageRole.USER, content=prompt))
    return messages


def lightrag_llm_func(llm: LLM) -> LightRAGLLMFunc:
    """Wrap a LlamaIndex LLM as the async function LightRAG and RAG-Anything call for text.

    Args:
        llm: Any LlamaIndex LLM (``achat`` is used, natively async where the LLM implements it).
    """

    async def llm_model_func(
        prompt: str,
        system_prompt: str | None = None,
        history_messages: Sequence[dict[str, Any]] | None = None,
        keyword_extraction: bool = False,
        **_: Any,
    ) -> str:
        response = await llm.achat(_messages(prompt, system_prompt, history_messages))
        return response.message.content or ""

    return llm_model_func


def lightrag_vision_func(vlm: LLM) -> LightRAGLLMFunc:
    """Wrap a multimodal LlamaIndex LLM as RAG-Anything's vision function (``image_data`` = base64).

    Args:
        vlm: A LlamaIndex LLM whose chat accepts ``ImageBlock`` content.
    """

    async def vision_model_func(
        prompt: str,
        system_prompt: str | None = None,
        history_messages: Sequence[dict[str, Any]] | None = None,
        image_data: str | Sequence[str] | None = None,
        **_: Any,
    ) -> str:
        response = await vlm.achat(_messages(prompt, system_prompt, history_messages, image_data))
        return response.message.content or ""

    return vision_model_func


async def no_llm_func(prompt: str, *args: Any, **kwargs: Any) -> str:
    """The LLM function used offline: every path that would call it has an LLM-free twin."""
    raise NoLLMConfiguredError(
        "No LLM is configured, and this step needs one. Set DASHSCOPE_API_KEY, or pass llm=<any "
        "LlamaIndex LLM> to MultimodalRAG; the offline paths never call this."
    )


#: Attributes whose value marks an embedding model as a client of a remote service (an endpoint or a key).
REMOTE_MARKERS: tuple[str, ...] = ("api_key", "api_base", "base_url", "azure_endpoint", "endpoint", "url", "token")
#: LightRAG's own limits for remote calls (its ``EMBEDDING_TIMEOUT`` and ``EMBEDDING_FUNC_MAX_ASYNC``).
REMOTE_TIMEOUT_S = 30.0
REMOTE_MAX_ASYNC = 8
REMOTE_RETRIES = 2
REMOTE_BACKOFF_S = 1.0


@dataclass(frozen=True)
class EmbeddingCallPolicy:
    """How the graph may call an embedding model: how many calls at once, and how long one may take.

    A model computing in this process spends CPU time, not waiting time: on a busy machine a batch simply
    takes longer, and a wall-clock limit would fail a file that is merely slow. So an in-process model gets
    one call at a time (a batch already spreads over every core) and no timeout. A remote service gets
    LightRAG's concurrency and a timeout per attempt, with retries and backoff.

    Args:
        in_process: The model computes in this process.
        max_async: Concurrent calls.
        timeout: Seconds one attempt may take; ``None`` for no wall-clock limit.
        retries: Further attempts after a timeout or a connection failure.
        backoff: Seconds before the first retry; it doubles after each.

    Example:
        >>> from llama_index_mmrag.models.embeddings import local_embedding
        >>> policy = embedding_call_policy(local_embedding())
        >>> policy.in_process, policy.max_async, policy.timeout
        (True, 1, None)
    """

    in_process: bool
    max_async: int
    timeout: float | None
    retries: int = 0
    backoff: float = REMOTE_BACKOFF_S


def is_remote_embedding(embed_model: TextEmbedder) -> bool:
    """Whether an embedding model calls a service rather than computing in this process.

    DashScope's embeddings are remote, and so is any model configured with an endpoint or a key
    (:data:`REMOTE_MARKERS`: OpenAI, Azure, Ollama, TEI and most LlamaIndex service clients). Anything else
    (HuggingFace, sentence-transformers, FastEmbed, your own subclass) computes here.

    Args:
        embed_model: Any LlamaIndex embedding model.
    """
    dashscope = sys.modules.get("llama_index_mmrag.models.dashscope.embedding")  # loaded with its embeddings
    if dashscope is not None and isinstance(
        embed_model, (dashscope.DashScopeEmbedding, dashscope.DashScopeMultiModalEmbedding)
    ):
        return True
    return any(getattr(embed_model, name, None) for name in REMOTE_MARKERS)


def _env_number(name: str, default: float, what: str) -> float:
    """A positive number from the environment variable ``name`` (``default`` when unset or blank)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise ValueError(f"{name}={raw!r} is not a positive {what}; unset it or give e.g. {name}={default:g}")
    return value


def embedding_call_policy(embed_model: TextEmbedder, in_process: bool | None = None) -> EmbeddingCallPolicy:
    """Decide how the graph calls ``embed_model``: no timeout in process, timeout and retries for a service.

    A remote attempt may take ``EMBEDDING_TIMEOUT`` seconds (30 by default, LightRAG's variable), or the
    model's own per-request ``timeout`` when that is longer, so a client's own wait is never cut short;
    ``EMBEDDING_FUNC_MAX_ASYNC`` (8) calls run at once.

    Args:
        embed_model: Any LlamaIndex embedding model.
        in_process: Force the decision (``None`` detects it with :func:`is_remote_embedding`).

    Example:
        >>> from llama_index_mmrag.models.dashscope import DashScopeEmbedding
        >>> policy = embedding_call_policy(DashScopeEmbedding())  # a service: a timeout per attempt, retries
        >>> policy.in_process, policy.timeout is not None
        (False, True)
    """
    if in_process is None:
        in_process = not is_remote_embedding(embed_model)
    if in_process:
        return EmbeddingCallPolicy(in_process=True, max_async=1, timeout=None)
    timeout = _env_number("EMBEDDING_TIMEOUT", REMOTE_TIMEOUT_S, "number of seconds")
    own = getattr(embed_model, "timeout", None)
    if isinstance(own, (int, float)) and not isinstance(own, bool) and own > timeout:
        timeout = float(own)
    max_async = int(_env_number("EMBEDDING_FUNC_MAX_ASYNC", REMOTE_MAX_ASYNC, "number of calls"))
    return EmbeddingCallPolicy(
        in_process=False, max_async=max(1, max_async), timeout=timeout, retries=REMOTE_RETRIES, backoff=REMOTE_BACKOFF_S
    )


class EmbeddingTimeoutError(ModelError, TimeoutError):
    """A remote embedding service did not answer in time, on every attempt.

    Example:
        >>> async def slow_service() -> None:  # an embedding request that never comes back in time
        ...     await asyncio.sleep(1)
        >>> policy = EmbeddingCallPolicy(in_process=False, max_async=4, timeout=0.05, retries=1, backoff=0.01)
        >>> try:
        ...     asyncio.run(acall_with_policy(slow_service, policy, "text-embedding-v3"))
        ... except EmbeddingTimeoutError as exc:
        ...     print(exc)
        the embedding service text-embedding-v3 did not answer within 0.05 s, 2 times; check the service, ...
    """


async def acall_with_policy(call: Callable[[], Awaitable[T]], policy: EmbeddingCallPolicy, what: str) -> T:
    """Run ``call`` under ``policy``: as is in process; with a timeout per attempt and retries for a service.

    Timeouts and connection failures are retried ``policy.retries`` times with exponential backoff; any
    other error is raised at once.

    Args:
        call: Makes a fresh attempt each time it is called.
        policy: From :func:`embedding_call_policy`.
        what: Names the model in the error.

    Raises:
        EmbeddingTimeoutError: Every attempt timed out (the message says how to allow more time).
    """
    if policy.timeout is None:
        return await call()
    attempt = 0
    while True:
        try:
            return await asyncio.wait_for(call(), timeout=policy.timeout)
        except (TimeoutError, ConnectionError) as exc:
            if attempt >= policy.retries:
                if isinstance(exc, TimeoutError):
                    raise EmbeddingTimeoutError(
                        f"the embedding service {what} did not answer within {policy.timeout:g} s, "
                        f"{attempt + 1} times; check the service, or allow more time with EMBEDDING_TIMEOUT=<seconds>"
                    ) from exc
                raise
            logger.warning(
                "embedding call to %s failed (%s); retry %d of %d",
                what, type(exc).__name__, attempt + 1, policy.retries,
            )
            await asyncio.sleep(policy.backoff * (2**attempt))
            attempt += 1


def lightrag_embedding_func(
    embed_model: TextEmbedder, dim: int, max_token_size: int = 512, policy: EmbeddingCallPolicy | None = None
) -> Any:
    """Wrap a LlamaIndex embedding as LightRAG's ``EmbeddingFunc``, called as ``policy`` says.

    An in-process model runs in a worker thread (the engine loop stays free for queries) with no time
    limit; a remote one is awaited natively with a timeout per attempt and retries. Give LightRAG the
    policy's ``max_async`` and no timeout of its own (``default_embedding_timeout=None``): this wrapper
    owns the timeout.

    Args:
        embed_model: Any LlamaIndex embedding model.
        dim: Its output dimension.
        max_token_size: The model's input limit in tokens.
        policy: How to call it; :func:`embedding_call_policy` of the model when ``None``.
    """
    from lightrag.utils import EmbeddingFunc

    policy = policy or embedding_call_policy(embed_model)
    what = type(embed_model).__name__

    async def attempt(texts: list[str]) -> list[list[float]]:
        if policy.in_process:
            return await asyncio.to_thread(embed_model.get_text_embedding_batch, texts)
        return await embed_model.aget_text_embedding_batch(texts)

    async def embed(texts: list[str], **_: Any) -> np.ndarray:
        batch = list(texts)
        vectors = await acall_with_policy(lambda: attempt(batch), policy, what)
        return np.asarray(vectors, dtype=np.float32)

    return EmbeddingFunc(embedding_dim=dim, func=embed, max_token_size=max_token_size, model_name="mmrag")
