"""Adapters from LlamaIndex models to the async functions LightRAG and RAG-Anything call.

LightRAG's LLM contract is ``async f(prompt, system_prompt=None, history_messages=None,
keyword_extraction=False, **kw) -> str``; RAG-Anything's vision contract adds ``image_data`` (base64).
Any LlamaIndex ``LLM`` (text) or multimodal LLM (chat with ``ImageBlock``) plugs in here.

Example:
    >>> from llama_index_mmrag.models.adapters import lightrag_llm_func, lightrag_embedding_func
    >>> llm_func = lightrag_llm_func(my_llm)                        # doctest: +SKIP
    >>> answer = await llm_func("Summarise", system_prompt="Be brief")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.llms import LLM

LightRAGLLMFunc = Callable[..., Awaitable[str]]


class NoLLMConfiguredError(RuntimeError):
    """Raised when a code path that needs an LLM runs with none configured."""


def _messages(
    prompt: str,
    system_prompt: str | None,
    history_messages: Sequence[dict[str, Any]] | None,
    image_data: str | Sequence[str] | None = None,
) -> list[ChatMessage]:
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


def lightrag_embedding_func(embed_model: BaseEmbedding, dim: int, max_token_size: int = 512) -> Any:
    """Wrap a LlamaIndex embedding as LightRAG's ``EmbeddingFunc``.

    Args:
        embed_model: Any LlamaIndex embedding model.
        dim: Its output dimension.
        max_token_size: The model's input limit in tokens.
    """
    from lightrag.utils import EmbeddingFunc

    async def embed(texts: list[str], **_: Any) -> np.ndarray:
        vectors = await embed_model.aget_text_embedding_batch(list(texts))
        return np.asarray(vectors, dtype=np.float32)

    return EmbeddingFunc(embedding_dim=dim, func=embed, max_token_size=max_token_size, model_name="mmrag")
