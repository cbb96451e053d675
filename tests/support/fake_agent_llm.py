"""Deterministic agent LLMs for tests: they implement the real LlamaIndex LLM interfaces, with no weights.

Two stand-ins for the two agent kinds of ``llama_index.core.agent`` (0.14):

* :class:`FakeFunctionCallingLLM` is a ``FunctionCallingLLM`` for ``FunctionAgent``: given tools and a fresh
  user question it answers with a ``ToolCallBlock`` that calls one tool with the question as the tool's string
  argument; once the conversation holds that tool's result, it answers from the result alone.
* :class:`FakeReActLLM` is a plain text ``CustomLLM`` for ``ReActAgent``: it reads the tool names in the
  ReAct system header and answers in the ReAct format (``Thought`` / ``Action`` / ``Action Input``, then
  ``Thought`` / ``Answer`` after an ``Observation``).

Both compose their final answer from the tool's output only (the cited evidence sentences that share words
with the question, see :func:`answer_from_evidence`), never from knowledge of their own, so a test can tell
that the answer went through the tool. Every turn is recorded in ``turns``.

Example:
    >>> llm = FakeFunctionCallingLLM()
    >>> agent = FunctionAgent(tools=[rag.as_tool(name="docs")], llm=llm)   # doctest: +SKIP
    >>> await agent.run(user_msg="Does Milvus support simultaneous insertion and search?")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    ToolCallBlock,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from pydantic import PrivateAttr

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

ANSWER_PREFIX = "According to the {tool} tool:"
NO_EVIDENCE = "The {tool} tool found no evidence for this question."

# One piece of cited evidence: "sentence [doc, p.N, modality]" as the package's extractive answers write it.
_CITED = re.compile(r"\s*(?P<text>.+?)\s*(?P<cite>\[[^\[\]]+?, p\.[^\[\],]+, [a-z]+\])", re.S)
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an and are as at be by can could do does for from has have how i in is it its of on or that the this "
    "to was what when where which who why will with you your".split()
)
_REACT_TOOL = re.compile(r"^> Tool Name: (?P<name>\S+)\s*$", re.M)
_OBSERVATION = "Observation:"


@dataclass(frozen=True)
class AgentTurn:
    """One call of a fake agent LLM.

    Args:
        messages: The conversation the LLM was given.
        tool_names: Names of the tools it was offered (function calling), or read in its prompt (ReAct).
        reply: What it answered.
    """

    messages: tuple[ChatMessage, ...]
    tool_names: tuple[str, ...]
    reply: ChatMessage


def cited_evidence(tool_output: str) -> list[str]:
    """Split a tool output into its cited pieces, each ``"sentence [doc, p.N, modality]"``.

    Args:
        tool_output: The text a tool returned.
    """
    return [f"{m.group('text').strip()} {m.group('cite')}" for m in _CITED.finditer(tool_output)]


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and len(w) > 1}


def answer_from_evidence(question: str, tool_name: str, tool_output: str, max_pieces: int = 2) -> str:
    """Compose a final answer from a tool's output only: its cited pieces that best match the question.

    Pieces are ranked by the number of question words they share (ties keep the tool's order); pieces
    sharing none are left out. Citations stay attached to their sentences.

    Args:
        question: The user's question.
        tool_name: The tool that produced the evidence (named in the answer).
        tool_output: The tool's text output.
        max_pieces: How many pieces the answer quotes at most.
    """
    wanted = _terms(question)
    pieces = cited_evidence(tool_output)
    scored = [(len(_terms(p) & wanted), -i, p) for i, p in enumerate(pieces)]
    chosen = [p for overlap, _, p in sorted(scored, reverse=True) if overlap > 0][:max_pieces]
    if not chosen:
        return NO_EVIDENCE.format(tool=tool_name)
    return f"{ANSWER_PREFIX.format(tool=tool_name)} {' '.join(chosen)}"


def _string_argument(tool: BaseTool) -> str:
    """The name of the tool's first string argument (``input`` for a ``QueryEngineTool``)."""
    schema = tool.metadata.get_parameters_dict()
    for name, spec in schema.get("properties", {}).items():
        if spec.get("type") == "string":
            return name
    raise ValueError(f"tool {tool.metadata.name!r} takes no string argument to pass the question in: {schema}")


def _last_user_index(messages: Sequence[ChatMessage], skip_prefix: str | None = None) -> int:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.role == MessageRole.USER and not (skip_prefix and (message.content or "").startswith(skip_prefix)):
            return index
    raise ValueError("the conversation holds no user message to answer")


class FakeFunctionCallingLLM(FunctionCallingLLM):
    """A function-calling LLM that always consults a tool first, then answers from the tool's output.

    Args:
        tool_name: The tool to call; the first tool offered when ``None``.

    Example:
        >>> llm = FakeFunctionCallingLLM(tool_name="milvus_docs")
        >>> llm.metadata.is_function_calling_model
        True
    """

    tool_name: str | None = None
    _turns: list[AgentTurn] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "FakeFunctionCallingLLM"

    @property
    def turns(self) -> list[AgentTurn]:
        """Every call so far, in order."""
        return self._turns

    @property
    def metadata(self) -> LLMMetadata:
        """A chat model with function calling."""
        return LLMMetadata(
            context_window=32000, num_output=512, is_chat_model=True, is_function_calling_model=True,
            model_name="fake-function-calling-llm",
        )

    # -- the model ---------------------------------------------------------------------------

    def _pick_tool(self, tools: Sequence[BaseTool]) -> BaseTool:
        if self.tool_name is None:
            return tools[0]
        for tool in tools:
            if tool.metadata.name == self.tool_name:
                return tool
        raise ValueError(f"tool {self.tool_name!r} was not offered; offered: {[t.metadata.name for t in tools]}")

    def _respond(self, messages: Sequence[ChatMessage], tools: Sequence[BaseTool]) -> ChatMessage:
        start = _last_user_index(messages)
        question = messages[start].content or ""
        results = [m for m in messages[start + 1 :] if m.role == MessageRole.TOOL]
        if results:
            calls = [b for m in messages[start + 1 :] for b in m.blocks if isinstance(b, ToolCallBlock)]
            called = calls[-1].tool_name if calls else "tool"
            reply = ChatMessage(
                role=MessageRole.ASSISTANT, content=answer_from_evidence(question, called, results[-1].content or "")
            )
        elif tools:
            tool = self._pick_tool(tools)
            call = ToolCallBlock(
                tool_call_id=f"call-{len(self._turns)}",
                tool_name=tool.metadata.name or "",
                tool_kwargs={_string_argument(tool): question},
            )
            reply = ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])
        else:
            reply = ChatMessage(role=MessageRole.ASSISTANT, content="I have no tool to look this up with.")
        self._turns.append(
            AgentTurn(messages=tuple(messages), tool_names=tuple(t.metadata.name or "" for t in tools), reply=reply)
        )
        return reply

    # -- FunctionCallingLLM --------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments: the conversation plus the tools (a real client would send their schemas)."""
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str) else user_msg)
        return {"messages": messages, "tools": list(tools), **kwargs}

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls of a response, as ``ToolSelection``s.

        Raises:
            ValueError: If there is none and ``error_on_no_tool_call`` is set.
        """
        calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
        if not calls and error_on_no_tool_call:
            raise ValueError(f"expected a tool call, got: {response.message.content!r}")
        return [
            ToolSelection(
                tool_id=c.tool_call_id or "",
                tool_name=c.tool_name,
                tool_kwargs=c.tool_kwargs if isinstance(c.tool_kwargs, dict) else json.loads(c.tool_kwargs or "{}"),
            )
            for c in calls
        ]

    # -- LLM -----------------------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Answer a conversation (``tools=`` as passed by ``chat_with_tools``)."""
        message = self._respond(messages, kwargs.get("tools") or [])
        return ChatResponse(message=message, delta=message.content or "")

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async twin of :meth:`chat` (no I/O)."""
        message = self._respond(messages, kwargs.get("tools") or [])
        return ChatResponse(message=message, delta=message.content or "")

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """One-chunk stream of :meth:`chat`."""
        message = self._respond(messages, kwargs.get("tools") or [])

        def gen() -> Iterator[ChatResponse]:
            yield ChatResponse(message=message, delta=message.content or "")

        return gen()

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """One-chunk async stream of :meth:`chat`."""
        message = self._respond(messages, kwargs.get("tools") or [])

        async def gen() -> AsyncIterator[ChatResponse]:
            yield ChatResponse(message=message, delta=message.content or "")

        return gen()

    def _complete_text(self, prompt: str) -> str:
        return self._respond([ChatMessage(role=MessageRole.USER, content=prompt)], []).content or ""

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer a prompt with no tools."""
        return CompletionResponse(text=self._complete_text(prompt))

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Async twin of :meth:`complete`."""
        return CompletionResponse(text=self._complete_text(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """One-chunk stream of :meth:`complete`."""
        text = self._complete_text(prompt)

        def gen() -> Iterator[CompletionResponse]:
            yield CompletionResponse(text=text, delta=text)

        return gen()

    @llm_completion_callback()
    async def astream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseAsyncGen:
        """One-chunk async stream of :meth:`complete`."""
        text = self._complete_text(prompt)

        async def gen() -> AsyncIterator[CompletionResponse]:
            yield CompletionResponse(text=text, delta=text)

        return gen()


class FakeReActLLM(CustomLLM):
    """A text LLM that speaks the ReAct format of ``ReActAgent``: one tool call, then an answer from it.

    Args:
        tool_name: The tool to call; the first tool named in the ReAct header when ``None``.

    Example:
        >>> llm = FakeReActLLM()
        >>> agent = ReActAgent(tools=[rag.as_tool(name="docs")], llm=llm)   # doctest: +SKIP
    """

    tool_name: str | None = None
    _turns: list[AgentTurn] = PrivateAttr(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        """Class name for serialization."""
        return "FakeReActLLM"

    @property
    def turns(self) -> list[AgentTurn]:
        """Every call so far, in order."""
        return self._turns

    @property
    def metadata(self) -> LLMMetadata:
        """A chat model without function calling."""
        return LLMMetadata(context_window=32000, num_output=512, is_chat_model=True, model_name="fake-react-llm")

    def _respond(self, messages: Sequence[ChatMessage]) -> ChatMessage:
        header = next((m.content or "" for m in messages if m.role == MessageRole.SYSTEM), "")
        tools = tuple(_REACT_TOOL.findall(header))
        start = _last_user_index(messages, skip_prefix=_OBSERVATION)
        question = messages[start].content or ""
        observations = [
            (m.content or "")[len(_OBSERVATION) :].strip()
            for m in messages[start + 1 :]
            if (m.content or "").startswith(_OBSERVATION)
        ]
        tool = self.tool_name or (tools[0] if tools else None)
        if observations:
            answer = answer_from_evidence(question, tool or "tool", observations[-1])
            text = f"Thought: I can answer without using any more tools.\nAnswer: {answer}"
        elif tool is None or tool not in tools:
            text = (
                "Thought: I cannot answer the question with the provided tools.\n"
                f"Answer: No tool named {tool!r} is available."
            )
        else:
            text = (
                "Thought: I need to use a tool to help me answer the question.\n"
                f"Action: {tool}\nAction Input: {json.dumps({'input': question})}"
            )
        reply = ChatMessage(role=MessageRole.ASSISTANT, blocks=[TextBlock(text=text)])
        self._turns.append(AgentTurn(messages=tuple(messages), tool_names=tools, reply=reply))
        return reply

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Answer a ReAct conversation."""
        message = self._respond(messages)
        return ChatResponse(message=message, delta=message.content or "")

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async twin of :meth:`chat` (no I/O)."""
        return self.chat(messages, **kwargs)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """One-chunk stream of :meth:`chat`."""
        message = self._respond(messages)

        def gen() -> Iterator[ChatResponse]:
            yield ChatResponse(message=message, delta=message.content or "")

        return gen()

    @llm_chat_callback()
    async def astream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseAsyncGen:
        """One-chunk async stream of :meth:`chat`."""
        message = self._respond(messages)

        async def gen() -> AsyncIterator[ChatResponse]:
            yield ChatResponse(message=message, delta=message.content or "")

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Answer a prompt as a one-message conversation."""
        return CompletionResponse(text=self._respond([ChatMessage(role=MessageRole.USER, content=prompt)]).content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        """One-chunk stream of :meth:`complete`."""
        text = self.complete(prompt).text

        def gen() -> Iterator[CompletionResponse]:
            yield CompletionResponse(text=text, delta=text)

        return gen()
