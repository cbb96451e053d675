"""DashScope's vision models as a LlamaIndex LLM whose chat messages carry images: :class:`DashScopeMultiModalLLM`."""

from __future__ import annotations

from typing import Any, ClassVar

from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.bridge.pydantic import Field

from llama_index_mmrag.models.dashscope.images import image_block_to_dashscope, image_document_to_block
from llama_index_mmrag.models.dashscope.llm import DashScopeChatLLM, dashscope_role, tool_fields
from llama_index_mmrag.models.dashscope.sdk import InlineAioMultiModalConversation, InlineMultiModalConversation


class DashScopeMultiModalLLM(DashScopeChatLLM):
    """A DashScope vision model (qwen-vl-max by default) as a LlamaIndex LLM that reads images.

    Chat messages may mix ``TextBlock`` and ``ImageBlock`` (inline bytes, local path,
    ``file://``, http(s) or data URL); local images are sent inline as base64 data URLs.

    Example:
        >>> from llama_index.core.llms import ChatMessage, ImageBlock, TextBlock
        >>> from llama_index.core.schema import ImageNode
        >>> vlm = DashScopeMultiModalLLM()  # qwen-vl-max, key from DASHSCOPE_API_KEY
        >>> chart = "milvus_architecture.png"
        >>> msg = ChatMessage(role="user", blocks=[ImageBlock(path=chart), TextBlock(text="Describe it")])
        >>> vlm.chat([msg]).message.content  # the test server echoes the text and the image it received
        'ANSWER: Describe it | IMAGES: png ...'
        >>> vlm.complete("What is shown?", image_documents=[ImageNode(image_path=chart)]).text
        'ANSWER: What is shown? | IMAGES: png ...'

    ``complete``, ``acomplete``, ``stream_complete`` and ``astream_complete`` also take
    ``image_documents``: ``ImageNode``/``ImageDocument``/``ImageBlock`` items, sent before the prompt.

    Args:
        model: Vision model name.
        **settings: Generation and connection settings: see
            :class:`~llama_index_mmrag.models.dashscope.llm.DashScopeChatLLM`.
    """

    model: str = Field(default="qwen-vl-max", min_length=1, description="DashScope vision model name.")

    _sync_api: ClassVar[Any] = InlineMultiModalConversation
    _async_api: ClassVar[Any] = InlineAioMultiModalConversation

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeMultiModalLLM"

    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        content: list[dict[str, str]] = []
        for block in message.blocks:
            if isinstance(block, TextBlock):
                content.append({"text": block.text})
            elif isinstance(block, ImageBlock):
                content.append({"image": image_block_to_dashscope(block)})
            else:
                raise ValueError(
                    f"{self.model} takes text and image blocks; a {message.role.value} message carries a "
                    f"{getattr(block, 'block_type', type(block).__name__)} block: convert it to text or an image."
                )
        entry: dict[str, Any] = {"role": dashscope_role(message.role), "content": content}
        entry.update(tool_fields(message.additional_kwargs))
        return entry

    def _completion_messages(self, prompt: str, kwargs: dict[str, Any]) -> list[ChatMessage]:
        documents = kwargs.pop("image_documents", None) or []
        blocks: list[Any] = [image_document_to_block(item) for item in documents]
        blocks.append(TextBlock(text=prompt))
        return [ChatMessage(role=MessageRole.USER, blocks=blocks)]
