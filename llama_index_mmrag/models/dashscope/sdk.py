"""The SDK's entry points without the implicit upload of local files (images travel inline instead), and an
async text-embedding call the SDK lacks."""

from __future__ import annotations

from typing import Any

from dashscope import AioMultiModalConversation, AioMultiModalEmbedding, MultiModalConversation, TextEmbedding
from dashscope import MultiModalEmbedding as SdkMultiModalEmbedding
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse
from dashscope.client.base_api import BaseAioApi


class _InlineFiles:
    """Turns off the SDK's upload of local files (to DashScope's temporary storage) before a call."""

    @classmethod
    def _preprocess_messages(cls, *args: Any, **kwargs: Any) -> bool:
        return False

    _preprocess_message_inputs = _preprocess_messages


class InlineMultiModalConversation(_InlineFiles, MultiModalConversation):
    """``MultiModalConversation`` that never uploads local files: images arrive as data URLs."""


class InlineAioMultiModalConversation(_InlineFiles, AioMultiModalConversation):
    """Async twin of :class:`InlineMultiModalConversation`."""


class InlineMultiModalEmbedding(_InlineFiles, SdkMultiModalEmbedding):
    """``MultiModalEmbedding`` that never uploads local files: images arrive as data URLs."""


class InlineAioMultiModalEmbedding(_InlineFiles, AioMultiModalEmbedding):
    """Async twin of :class:`InlineMultiModalEmbedding`."""


class AioTextEmbedding(BaseAioApi):
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
