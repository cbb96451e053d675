"""DashScope's chat models as LlamaIndex LLMs: the shared chat implementation (messages, streaming, tool
calls, usage) and :class:`DashScopeLLM`, the function-calling LLM for qwen text models."""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from dashscope import AioGeneration, Generation
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import Field
from llama_index.core.constants import DEFAULT_NUM_OUTPUTS, DEFAULT_TEMPERATURE
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from llama_index_mmrag.models.dashscope.calls import (
    CallContext,
    call_async,
    call_sync,
    open_stream_async,
    open_stream_sync,
)
from llama_index_mmrag.models.dashscope.connection import DashScopeConnection
from llama_index_mmrag.models.dashscope.tools import (
    is_finished,
    merge_tool_call_deltas,
    name_tool_results,
    outgoing_tool_calls,
    tool_call_blocks,
    tool_choice_param,
    tool_selections,
    tool_spec,
)

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

_ROLE_MAP = {
    MessageRole.SYSTEM: "system",
    MessageRole.DEVELOPER: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
    MessageRole.CHATBOT: "assistant",
    MessageRole.MODEL: "assistant",
    MessageRole.TOOL: "tool",
    MessageRole.FUNCTION: "tool",
}


_PASSTHROUGH_MESSAGE_KEYS = ("tool_calls", "tool_call_id", "name")


def tool_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The tool-calling fields (``tool_calls``, ``tool_call_id``, ``name``) present in a message dict."""
    return {key: fields[key] for key in _PASSTHROUGH_MESSAGE_KEYS if fields.get(key)}


def dashscope_role(role: MessageRole) -> str:
    return _ROLE_MAP.get(role, "user")


def _content_text(content: Any) -> str:
    """Text of a DashScope message ``content``: a string, or a list of ``{"text": ...}`` items."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(item.get("text", "")) for item in content if isinstance(item, dict))
    return str(content)


def _finish_reason(response: Any) -> str | None:
    choices = (getattr(response, "output", None) or {}).get("choices") or []
    return choices[0].get("finish_reason") if choices else None


def _usage_kwargs(response: Any) -> dict[str, int]:
    usage = getattr(response, "usage", None) or {}
    prompt, completion = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    total = int(usage.get("total_tokens") or prompt + completion)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


class DashScopeChatLLM(CustomLLM, DashScopeConnection):
    """Everything the text and the vision LLM share; subclasses pick the SDK API and message format.

    Args:
        model: Model name.
        temperature: Sampling temperature in [0, 2).
        max_tokens: Maximum output tokens; None for the model default.
        context_window: Context window reported in ``metadata``.
        additional_kwargs: Extra generation parameters sent with every call.
        **connection: ``api_key``, ``base_url``, ``timeout``, ``max_retries``, ``retry_backoff``: see
            :class:`~llama_index_mmrag.models.dashscope.connection.DashScopeConnection`.

    Example:
        >>> from llama_index_mmrag.models.dashscope import DashScopeMultiModalLLM
        >>> llm, vlm = DashScopeLLM(max_tokens=512), DashScopeMultiModalLLM()   # key from DASHSCOPE_API_KEY
        >>> isinstance(llm, DashScopeChatLLM), isinstance(vlm, DashScopeChatLLM)
        (True, True)
        >>> llm.metadata.model_name, llm.metadata.num_output, vlm.metadata.model_name
        ('qwen-max', 512, 'qwen-vl-max')
    """

    model: str = Field(min_length=1, description="DashScope model name.")
    temperature: float | None = Field(default=DEFAULT_TEMPERATURE, ge=0.0, lt=2.0, description="Sampling temperature.")
    max_tokens: int | None = Field(default=None, gt=0, description="Maximum output tokens; None: model default.")
    context_window: int = Field(default=32768, gt=0, description="Context window reported in metadata.")
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra generation parameters (top_p, seed, stop, enable_thinking ...)."
    )

    _sync_api: ClassVar[Any]
    _async_api: ClassVar[Any]

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output size and name of the model."""
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.max_tokens or DEFAULT_NUM_OUTPUTS,
            is_chat_model=True,
            model_name=self.model,
        )

    # -- hooks for subclasses ---------------------------------------------------------------

    def _to_dashscope_messages(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        """The ``messages`` list of the request body for a LlamaIndex conversation."""
        return name_tool_results([self._to_dashscope_message(message) for message in messages])

    @abstractmethod
    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        """One message of the request body."""

    def _completion_messages(self, prompt: str, kwargs: dict[str, Any]) -> list[ChatMessage]:
        """Messages for ``complete(prompt)``; may consume completion-only kwargs."""
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    # -- request building -------------------------------------------------------------------

    def _call_kwargs(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": self._to_dashscope_messages(messages),
            "result_format": "message",
            **self._transport_kwargs(),
        }
        if self.temperature is not None:
            kwargs["temperature"] = self.temperature
        if self.max_tokens is not None:
            kwargs["max_tokens"] = self.max_tokens
        kwargs.update(self.additional_kwargs)
        kwargs.update(overrides)
        if kwargs.get("tools"):
            kwargs["tools"] = [t if isinstance(t, dict) else tool_spec(t) for t in kwargs["tools"]]
        return kwargs

    @staticmethod
    def _stream_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "stream": True, "incremental_output": True}

    def _message_of(self, ctx: CallContext, response: Any) -> dict[str, Any]:
        output = getattr(response, "output", None) or {}
        choices = output.get("choices") or []
        if choices and choices[0].get("message") is not None:
            return dict(choices[0]["message"])
        if output.get("text") is not None:
            return {"role": "assistant", "content": output["text"]}
        raise ctx.unexpected("the answer has no choices", getattr(response, "request_id", None))

    def _chat_response(
        self,
        ctx: CallContext,
        response: Any,
        text: str | None = None,
        delta: str | None = None,
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> ChatResponse:
        """A LlamaIndex response for an answer, or for a stream chunk given the text and tool calls so far."""
        message = self._message_of(ctx, response)
        content = _content_text(message.get("content")) if text is None else text
        extra = tool_fields(message)
        answered_calls = extra.pop("tool_calls", None)
        calls = answered_calls if tool_calls is None else tool_calls
        reply = ChatMessage(role=MessageRole.ASSISTANT, content=content, additional_kwargs=extra)
        if calls:
            finish_reason = _finish_reason(response)
            finished = text is None or is_finished(finish_reason)
            extra["tool_calls"] = copy.deepcopy(list(calls))  # a stream keeps growing its own
            blocks: list[Any] = [TextBlock(text=content)] if content else []
            blocks += tool_call_blocks(ctx, calls, finished=finished, finish_reason=finish_reason)
            reply = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=extra)
        return ChatResponse(
            message=reply, delta=delta, raw=dict(response), additional_kwargs=_usage_kwargs(response)
        )

    @staticmethod
    def _to_completion(chat: ChatResponse) -> CompletionResponse:
        return CompletionResponse(
            text=chat.message.content or "", delta=chat.delta, raw=chat.raw, additional_kwargs=chat.additional_kwargs
        )

    # -- undecorated implementations --------------------------------------------------------

    def _chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponse:
        ctx = self._context(self.model, "chat")
        kwargs = self._call_kwargs(messages, overrides)
        response = call_sync(ctx, lambda: self._sync_api.call(**kwargs))
        return self._chat_response(ctx, response)

    async def _achat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponse:
        ctx = self._context(self.model, "chat")
        kwargs = self._call_kwargs(messages, overrides)
        response = await call_async(ctx, lambda: self._async_api.call(**kwargs))
        return self._chat_response(ctx, response)

    def _stream_chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponseGen:
        ctx = self._context(self.model, "streaming chat")
        kwargs = self._stream_kwargs(self._call_kwargs(messages, overrides))
        chunks = open_stream_sync(ctx, lambda: self._sync_api.call(**kwargs))

        def generate() -> ChatResponseGen:
            text, calls = "", []
            for chunk in chunks:
                message = self._message_of(ctx, chunk)
                delta = _content_text(message.get("content"))
                text += delta
                merge_tool_call_deltas(calls, message.get("tool_calls") or [])
                yield self._chat_response(ctx, chunk, text=text, delta=delta, tool_calls=calls)

        return generate()

    async def _astream_chat(self, messages: Sequence[ChatMessage], overrides: dict[str, Any]) -> ChatResponseAsyncGen:
        ctx = self._context(self.model, "streaming chat")
        kwargs = self._stream_kwargs(self._call_kwargs(messages, overrides))
        chunks = await open_stream_async(ctx, lambda: self._async_api.call(**kwargs))

        async def generate() -> ChatResponseAsyncGen:
            text, calls = "", []
            async for chunk in chunks:
                message = self._message_of(ctx, chunk)
                delta = _content_text(message.get("content"))
                text += delta
                merge_tool_call_deltas(calls, message.get("tool_calls") or [])
                yield self._chat_response(ctx, chunk, text=text, delta=delta, tool_calls=calls)

        return generate()

    # -- public LlamaIndex API --------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Send a conversation and return the assistant's reply.

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters (temperature, max_tokens, top_p, seed ...).

        Returns:
            The reply, with token usage in ``additional_kwargs``.
        """
        return self._chat(messages, kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Stream the assistant's reply (SSE, incremental output).

        Args:
            messages: The conversation.
            **kwargs: Per-call generation parameters.

        Returns:
            Responses whose ``delta`` is the new text and ``message`` the text so far.
        """
        return self._stream_chat(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async twin of :meth:`chat`: same arguments, same result."""
        return await self._achat(messages, kwargs)

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """Async twin of :meth:`stream_chat`: same arguments, same result."""
        return await self._astream_chat(messages, kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer a prompt (sent as one user message).

        Args:
            prompt: The prompt.
            formatted: Unused (the prompt is sent as is); kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters; a vision model also takes ``image_documents``.

        Returns:
            The completion.
        """
        messages = self._completion_messages(prompt, kwargs)
        return self._to_completion(self._chat(messages, kwargs))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """Stream the answer to a prompt.

        Args:
            prompt: The prompt.
            formatted: Unused; kept for the LlamaIndex signature.
            **kwargs: Per-call generation parameters.

        Returns:
            Completions whose ``delta`` is the new text and ``text`` the text so far.
        """
        messages = self._completion_messages(prompt, kwargs)
        chats = self._stream_chat(messages, kwargs)
        return (self._to_completion(chat) for chat in chats)

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async twin of :meth:`complete`: same arguments, same result."""
        messages = self._completion_messages(prompt, kwargs)
        return self._to_completion(await self._achat(messages, kwargs))

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """Async twin of :meth:`stream_complete`: same arguments, same result."""
        messages = self._completion_messages(prompt, kwargs)
        chats = await self._astream_chat(messages, kwargs)

        async def generate() -> CompletionResponseAsyncGen:
            async for chat in chats:
                yield self._to_completion(chat)

        return generate()


class DashScopeLLM(FunctionCallingLLM, DashScopeChatLLM):
    """A DashScope qwen text model (qwen-max by default) as a function-calling LlamaIndex LLM.

    It drives LlamaIndex agents: ``FunctionAgent`` through DashScope's native tool calls (the tools' schemas
    in the request, ``tool_calls`` in the answer, assembled from the stream's pieces), and ``ReActAgent``
    through plain chat.

    Example:
        >>> import asyncio
        >>> from llama_index.core.llms import ChatMessage
        >>> llm = DashScopeLLM(model="qwen-max")  # key from DASHSCOPE_API_KEY
        >>> llm.complete("Name the capital of France.").text  # the test server echoes the prompt
        'ANSWER: Name the capital of France.'
        >>> asyncio.run(llm.achat([ChatMessage(role="user", content="Hi")])).message.content
        'ANSWER: Hi'
        >>> from llama_index.core.tools import FunctionTool
        >>> def search(query: str) -> str:
        ...     '''Search the docs.'''
        ...     return "Milvus Lite runs in-process."
        >>> reply = llm.chat_with_tools([FunctionTool.from_defaults(search)], user_msg="Where does Milvus Lite run?")
        >>> llm.get_tool_calls_from_response(reply)[0].tool_kwargs  # the test server calls the first tool
        {'query': 'Where does Milvus Lite run?'}

    Args:
        model: Text model name.
        **settings: Generation and connection settings: see :class:`DashScopeChatLLM`.
    """

    model: str = Field(default="qwen-max", min_length=1, description="DashScope text model name.")

    _sync_api: ClassVar[Any] = Generation
    _async_api: ClassVar[Any] = AioGeneration

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "DashScopeLLM"

    @property
    def metadata(self) -> LLMMetadata:
        """Context window, output size and name of the model; a function-calling chat model."""
        return super().metadata.model_copy(update={"is_function_calling_model": True})

    # -- function calling ---------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments for a conversation with tools: the messages and DashScope's tool parameters.

        Args:
            tools: The tools the model may call.
            user_msg: A new user message, appended to the history.
            chat_history: The conversation so far.
            verbose: Unused; kept for the LlamaIndex signature.
            allow_parallel_tool_calls: Let the model call several tools in one answer.
            tool_required: Make the model call a tool (forced when a single tool is offered).
            tool_choice: ``"auto"``, ``"none"`` or the name of the tool to force.
            **kwargs: Per-call generation parameters.

        Returns:
            ``messages``, ``tools`` (DashScope's schemas) and, when set, ``tool_choice`` and
            ``parallel_tool_calls``.
        """
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        specs = [tool_spec(tool) for tool in tools]
        prepared: dict[str, Any] = {"messages": messages, **kwargs}
        if specs:
            prepared["tools"] = specs
            choice = tool_choice_param(tool_choice, specs, tool_required)
            if choice is not None:
                prepared["tool_choice"] = choice
            if allow_parallel_tool_calls:
                prepared["parallel_tool_calls"] = True
        return prepared

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls were allowed."""
        if allow_parallel_tool_calls:
            return response
        message = response.message
        calls = [b for b in message.blocks if getattr(b, "block_type", "") == "tool_call"]
        if len(calls) > 1:
            dropped = {id(b) for b in calls[1:]}
            message.blocks = [b for b in message.blocks if id(b) not in dropped]
            message.additional_kwargs["tool_calls"] = message.additional_kwargs.get("tool_calls", [])[:1]
        return response

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a response (a stream's partial arguments completed as far as they go).

        Args:
            response: A response of :meth:`chat_with_tools` or of its stream.
            error_on_no_tool_call: Raise when the response calls no tool.
            **kwargs: Unused; kept for the LlamaIndex signature.

        Returns:
            One ``ToolSelection`` per call, in the model's order.

        Raises:
            ValueError: The response calls no tool and ``error_on_no_tool_call`` is set.
        """
        selections = [
            ToolSelection(tool_id=call_id, tool_name=name, tool_kwargs=arguments)
            for call_id, name, arguments in tool_selections(response.message)
        ]
        if not selections and error_on_no_tool_call:
            raise ValueError(
                f"{self.model} called no tool; it answered: {(response.message.content or '')[:200]!r}. "
                "Pass error_on_no_tool_call=False to accept a plain answer."
            )
        return selections

    def _to_dashscope_message(self, message: ChatMessage) -> dict[str, Any]:
        for block in message.blocks:
            if not isinstance(block, TextBlock) and getattr(block, "block_type", "") in (
                "image", "audio", "video", "document"
            ):
                raise ValueError(
                    f"{self.model} is a text-only model and a {message.role.value} message carries a "
                    f"{block.block_type} block: use DashScopeMultiModalLLM (e.g. qwen-vl-max) for images."
                )
        entry: dict[str, Any] = {"role": dashscope_role(message.role), "content": message.content or ""}
        entry.update(tool_fields(message.additional_kwargs))
        calls = outgoing_tool_calls(message)
        if calls:
            entry["tool_calls"] = calls
        return entry
