"""DashScope's function-calling protocol: tool schemas out, tool calls back (whole or as stream deltas).

The native ``/api/v1`` generation API takes ``parameters.tools`` as
``[{"type": "function", "function": {"name", "description", "parameters"}}]`` and answers a tool call in
``output.choices[0].message.tool_calls`` as ``[{"id", "type": "function", "index", "function": {"name",
"arguments"}}]``, where ``arguments`` is a JSON text. With ``incremental_output`` a stream sends each call in
pieces that share its ``index``: the first carries the id and the name, the rest extend ``arguments``.
A tool's result goes back as a ``{"role": "tool", "content", "tool_call_id", "name"}`` message.

In LlamaIndex a call is a ``ToolCallBlock`` of the assistant's message; this module converts both ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ToolCallBlock
from llama_index.core.llms.utils import parse_partial_json

from llama_index_mmrag.models.dashscope.calls import CallContext
from llama_index_mmrag.models.dashscope.errors import DashScopeError

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

# DashScope's tool_choice values besides a named function (its native API has no "required").
_TOOL_CHOICE_MODES = frozenset({"auto", "none"})
# finish_reason of a stream chunk that is not the last one
_NOT_FINISHED = (None, "", "null")
_SHOWN_ARGUMENTS = 200


def tool_spec(tool: BaseTool) -> dict[str, Any]:
    """DashScope's schema for one LlamaIndex tool.

    Args:
        tool: Any LlamaIndex tool (``FunctionTool``, ``QueryEngineTool`` ...).

    Returns:
        ``{"type": "function", "function": {"name", "description", "parameters"}}``, the parameters being the
        tool's JSON schema (properties and required ones).
    """
    return {
        "type": "function",
        "function": {
            "name": tool.metadata.get_name(),
            "description": tool.metadata.description,
            "parameters": tool.metadata.get_parameters_dict(),
        },
    }


def tool_choice_param(tool_choice: str | dict[str, Any] | None, specs: Sequence[dict[str, Any]], required: bool) -> Any:
    """The request's ``tool_choice``: ``auto``/``none``, or the object that forces one named function.

    Args:
        tool_choice: What the caller asked for: ``"auto"``, ``"none"``, a tool name, a ready DashScope object,
            or None.
        specs: The tools sent (their schemas).
        required: LlamaIndex's ``tool_required``: with a single tool, that tool is forced; with several the
            model chooses (the native API can force only one named function).

    Returns:
        The value to send, or None to leave the parameter out (the API's default, ``auto``).

    Raises:
        ValueError: ``tool_choice`` names no tool that was offered.
    """
    names = [spec["function"]["name"] for spec in specs]
    if tool_choice is None:
        return _forced(names[0]) if required and len(names) == 1 else None
    if isinstance(tool_choice, dict) or tool_choice in _TOOL_CHOICE_MODES:
        return tool_choice
    if tool_choice not in names:
        raise ValueError(f"tool_choice {tool_choice!r} names no tool offered to the model; offered: {names}.")
    return _forced(tool_choice)


def _forced(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def merge_tool_call_deltas(calls: list[dict[str, Any]], deltas: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fold one stream chunk's tool-call pieces into the calls assembled so far (as the SDK's merger does).

    Pieces with the same ``index`` belong to one call: ``function.name`` and ``function.arguments`` are
    concatenated, ``id`` and ``type`` are taken when non-empty.

    Args:
        calls: The calls so far, in DashScope's shape; updated in place.
        deltas: The ``tool_calls`` of the new chunk.

    Returns:
        ``calls``.
    """
    for delta in deltas:
        index = delta.get("index", len(calls))
        call = next((c for c in calls if c.get("index") == index), None)
        if call is None:
            call = {"index": index, "id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            calls.append(call)
        function = delta.get("function") or {}
        call["function"]["name"] += str(function.get("name") or "")
        call["function"]["arguments"] += str(function.get("arguments") or "")
        for key in ("id", "type"):
            if delta.get(key):
                call[key] = delta[key]
    return calls


def tool_call_blocks(
    ctx: CallContext, calls: Sequence[dict[str, Any]], *, finished: bool, finish_reason: str | None = None
) -> list[ToolCallBlock]:
    """LlamaIndex blocks for DashScope tool calls.

    Args:
        ctx: The call, named in errors.
        calls: ``tool_calls`` in DashScope's shape.
        finished: Whether the answer is complete. A finished call's ``arguments`` must be a JSON object and
            arrive as a dict; an unfinished stream's stay the text so far.
        finish_reason: The answer's ``finish_reason``, named in errors (``length``: cut off by ``max_tokens``).

    Returns:
        One ``ToolCallBlock`` per call.

    Raises:
        DashScopeError: A finished call's arguments are not a JSON object (the message names the tool, the
            call id and the text received).
    """
    blocks = []
    for call in calls:
        function = call.get("function") or {}
        name, arguments = str(function.get("name") or ""), function.get("arguments")
        kwargs: dict[str, Any] | str = arguments if isinstance(arguments, (str, dict)) else ""
        if finished:
            kwargs = _arguments_object(ctx, name, str(call.get("id") or ""), arguments, finish_reason)
        blocks.append(ToolCallBlock(tool_call_id=call.get("id") or None, tool_name=name, tool_kwargs=kwargs))
    return blocks


def _arguments_object(
    ctx: CallContext, name: str, call_id: str, arguments: Any, finish_reason: str | None
) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    text = "" if arguments is None else str(arguments)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value
    shown = text if len(text) <= _SHOWN_ARGUMENTS else text[:_SHOWN_ARGUMENTS] + "..."
    cut = finish_reason == "length"
    reason = "were cut off at max_tokens" if cut else "are not a JSON object"
    advice = "raise max_tokens" if cut else "ask again (a lower temperature makes this rarer)"
    raise DashScopeError(
        model=ctx.model,
        operation=ctx.operation,
        status_code=200,
        code="InvalidToolCall",
        server_message=f"the arguments of its call to tool {name!r} (id {call_id!r}) {reason}: {shown!r}; {advice}",
        endpoint=ctx.endpoint,
    )


def tool_selections(message: ChatMessage) -> list[tuple[str, str, dict[str, Any]]]:
    """``(id, name, arguments)`` of each tool call of an assistant message.

    Arguments still arriving (an unfinished stream) are completed as far as they go, as LlamaIndex does for
    partial JSON; what cannot be read yet counts as no arguments.

    Args:
        message: The assistant's message.
    """
    selections = []
    for block in message.blocks:
        if not isinstance(block, ToolCallBlock):
            continue
        kwargs = block.tool_kwargs
        if isinstance(kwargs, str):
            try:
                kwargs = parse_partial_json(kwargs) if kwargs.strip() else {}
            except ValueError:
                kwargs = {}
        selections.append((block.tool_call_id or "", block.tool_name, kwargs if isinstance(kwargs, dict) else {}))
    return selections


def outgoing_tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    """The ``tool_calls`` to send for an assistant message: as the model wrote them, or from its blocks.

    Args:
        message: An assistant message of the conversation (from this model, another LLM, or built by hand).
    """
    verbatim = message.additional_kwargs.get("tool_calls")
    if verbatim:
        return [dict(call) for call in verbatim]
    calls = []
    for index, block in enumerate(b for b in message.blocks if isinstance(b, ToolCallBlock)):
        arguments = block.tool_kwargs if isinstance(block.tool_kwargs, str) else json.dumps(block.tool_kwargs)
        calls.append({
            "index": index,
            "id": block.tool_call_id or f"call_{index}",
            "type": "function",
            "function": {"name": block.tool_name, "arguments": arguments},
        })
    return calls


def name_tool_results(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give each ``tool`` message the ``name`` of the call it answers (LlamaIndex agents send only the id).

    Args:
        messages: The request's messages; updated in place.

    Returns:
        ``messages``.
    """
    names: dict[str, str] = {}
    for entry in messages:
        for call in entry.get("tool_calls") or []:
            names[str(call.get("id"))] = str((call.get("function") or {}).get("name") or "")
        if entry.get("role") == "tool" and not entry.get("name"):
            name = names.get(str(entry.get("tool_call_id")))
            if name:
                entry["name"] = name
    return messages


def is_finished(finish_reason: Any) -> bool:
    """Whether a stream chunk with this ``finish_reason`` is the answer's last."""
    return finish_reason not in _NOT_FINISHED
