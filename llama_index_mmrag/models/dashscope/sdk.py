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
    """``MultiModalConversation`` that never uploads local files: images arrive as data URLs.

    Example:
        >>> import os
        >>> from pathlib import Path
        >>> from llama_index_mmrag.models.dashscope.images import image_input_to_dashscope
        >>> image = image_input_to_dashscope(Path("milvus_architecture.png"))   # inline, never uploaded
        >>> image[:22]
        'data:image/png;base64,'
        >>> messages = [{"role": "user", "content": [{"image": image}, {"text": "Describe it"}]}]
        >>> response = InlineMultiModalConversation.call(model="qwen-vl-max", messages=messages,
        ...                                              api_key=os.environ["DASHSCOPE_API_KEY"])   # DashScope's API
        >>> int(response.status_code), response.output.choices[0].message.content[0]["text"]  # the test server echoes
        (200, 'ANSWER: Describe it | IMAGES: png 1400x1000 ...')
    """


class InlineAioMultiModalConversation(_InlineFiles, AioMultiModalConversation):
    """Async twin of :class:`InlineMultiModalConversation`.

    Example:
        >>> import asyncio, os
        >>> from pathlib import Path
        >>> from llama_index_mmrag.models.dashscope.images import image_input_to_dashscope
        >>> content = [{"image": image_input_to_dashscope(Path("milvus_architecture.png"))}, {"text": "Describe it"}]
        >>> response = asyncio.run(InlineAioMultiModalConversation.call(
        ...     model="qwen-vl-max", messages=[{"role": "user", "content": content}],
        ...     api_key=os.environ["DASHSCOPE_API_KEY"]))                         # DashScope's API
        >>> int(response.status_code), response.output.choices[0].message.content[0]["text"]
        (200, 'ANSWER: Describe it | IMAGES: png 1400x1000 ...')
    """


class InlineMultiModalEmbedding(_InlineFiles, SdkMultiModalEmbedding):
    """``MultiModalEmbedding`` that never uploads local files: images arrive as data URLs.

    Example:
        >>> import os
        >>> from pathlib import Path
        >>> from llama_index_mmrag.models.dashscope.images import image_input_to_dashscope
        >>> response = InlineMultiModalEmbedding.call(
        ...     model="multimodal-embedding-v1", input=[{"image": image_input_to_dashscope(Path("milvus_architecture.png"))}],
        ...     api_key=os.environ["DASHSCOPE_API_KEY"])                          # DashScope's API
        >>> int(response.status_code), len(response.output["embeddings"][0]["embedding"])
        (200, 1024)
    """


class InlineAioMultiModalEmbedding(_InlineFiles, AioMultiModalEmbedding):
    """Async twin of :class:`InlineMultiModalEmbedding`.

    Example:
        >>> import asyncio, os
        >>> response = asyncio.run(InlineAioMultiModalEmbedding.call(
        ...     model="multimodal-embedding-v1", input=[{"text": "a diagram of the Milvus architecture"}],
        ...     api_key=os.environ["DASHSCOPE_API_KEY"]))                         # DashScope's API
        >>> int(response.status_code), len(response.output["embeddings"][0]["embedding"])
        (200, 1024)
    """


class AioTextEmbedding(BaseAioApi):
    """Async twin of ``dashscope.TextEmbedding``, which the SDK does not ship.

    Same endpoint and body as the sync class, sent through the SDK's own aiohttp transport
    (``BaseAioApi``, the base of every ``Aio*`` class in the SDK).

    Example:
        >>> import asyncio, os
        >>> response = asyncio.run(AioTextEmbedding.call(
        ...     model="text-embedding-v3", input=["first chunk", "second chunk"], dimension=512,
        ...     api_key=os.environ["DASHSCOPE_API_KEY"]))                         # DashScope's API
        >>> int(response.status_code), [len(item["embedding"]) for item in response.output["embeddings"]]
        (200, [512, 512])
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
