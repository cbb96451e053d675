"""The deterministic "model" behind the loopback DashScope server's agent conversations.

Two kinds of conversation get a scripted turn instead of the server's plain echo:

* **function calling** (the request carries ``parameters.tools``): while the last user question has no tool
  result after it, the model calls a tool (the one ``tool_choice`` forces, else the first offered) with the
  question as the tool's first string argument; once a ``tool`` message answers that call, it answers in
  text from the tool's output alone (:func:`~tests.support.fake_agent_llm.answer_from_evidence`: the cited
  pieces that match the question; an output without citations, e.g. an LLM-written one, is quoted whole);
* **ReAct** (the system message lists ``> Tool Name:`` lines, as ``ReActAgent``'s header does): the same two
  turns in the ReAct text format (``Thought`` / ``Action`` / ``Action Input``, then ``Answer`` after an
  ``Observation``).

Requests that break the protocol get DashScope's 400 ``InvalidParameter`` with a message saying what is wrong
(a tool without a name or a parameters schema, a ``tool`` message without the id of an earlier call, or with a
``name`` that is not that call's tool).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.support.fake_agent_llm import ANSWER_PREFIX, answer_from_evidence, cited_evidence

_REACT_TOOL = re.compile(r"^> Tool Name: (?P<name>\S+)\s*$", re.M)
_OBSERVATION = "Observation:"


class ProtocolError(ValueError):
    """The request breaks DashScope's tool-call protocol (answered with 400 ``InvalidParameter``)."""


@dataclass
class Turn:
    """What the scripted model answers.

    Args:
        text: The answer's text.
        tool_calls: ``[{"name", "arguments"}]`` (arguments as JSON text) when it calls tools.
    """

    text: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)


def scripted_turn(messages: list[dict[str, Any]], parameters: dict[str, Any]) -> Turn | None:
    """The scripted answer to an agent conversation; None for any other conversation.

    Args:
        messages: The request's ``input.messages``.
        parameters: The request's ``parameters``.

    Raises:
        ProtocolError: The tools or the tool messages break the protocol.
    """
    tools = parameters.get("tools")
    if tools:
        return _function_calling_turn(messages, _tool_schemas(tools), parameters.get("tool_choice"))
    header = next((str(m.get("content") or "") for m in messages if m.get("role") == "system"), "")
    react_tools = _REACT_TOOL.findall(header)
    if react_tools:
        return _react_turn(messages, react_tools)
    return None


def _tool_schemas(tools: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(tools, list):
        raise ProtocolError("parameters.tools must be a list of {type: function, function: {...}} objects.")
    schemas: dict[str, dict[str, Any]] = {}
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            raise ProtocolError(f"Each tool must be {{type: function, function: {{...}}}}, got: {tool!r}")
        name, schema = function.get("name"), function.get("parameters")
        if not isinstance(name, str) or not name:
            raise ProtocolError("tools[].function.name is required.")
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise ProtocolError(f"tools[].function.parameters of {name!r} must be a JSON schema of type object.")
        schemas[name] = schema
    return schemas


def _last_user(messages: list[dict[str, Any]], skip_prefix: str | None = None) -> int:
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        content = str(message.get("content") or "")
        if message.get("role") == "user" and not (skip_prefix and content.startswith(skip_prefix)):
            return index
    raise ProtocolError("The conversation holds no user message.")


def _checked_tool_results(messages: list[dict[str, Any]], start: int) -> list[tuple[str, str]]:
    """``(tool name, output)`` of the tool messages after ``start``, each matched to the call it answers."""
    calls: dict[str, str] = {}
    results = []
    for message in messages:
        for call in message.get("tool_calls") or []:
            calls[str(call.get("id"))] = str((call.get("function") or {}).get("name"))
    for message in messages[start + 1 :]:
        if message.get("role") != "tool":
            continue
        call_id = message.get("tool_call_id")
        if call_id not in calls:
            raise ProtocolError(f"A tool message's tool_call_id {call_id!r} answers no earlier tool call.")
        if message.get("name") != calls[call_id]:
            raise ProtocolError(
                f"The tool message for call {call_id!r} is named {message.get('name')!r}, not {calls[call_id]!r}."
            )
        results.append((calls[call_id], str(message.get("content") or "")))
    return results


def _function_calling_turn(messages: list[dict[str, Any]], schemas: dict[str, dict[str, Any]], choice: Any) -> Turn:
    start = _last_user(messages)
    question = str(messages[start].get("content") or "")
    results = _checked_tool_results(messages, start)
    if results:
        name, output = results[-1]
        if not cited_evidence(output):
            return Turn(text=f"{ANSWER_PREFIX.format(tool=name)} {output}")
        return Turn(text=answer_from_evidence(question, name, output))
    if choice == "none":
        return Turn(text="ANSWER: " + question)
    name = next(iter(schemas))
    if isinstance(choice, dict):
        name = str((choice.get("function") or {}).get("name"))
        if name not in schemas:
            raise ProtocolError(f"tool_choice names {name!r}, which is not among the tools.")
    return Turn(tool_calls=[{"name": name, "arguments": json.dumps(_arguments(schemas[name], question))}])


def _arguments(schema: dict[str, Any], question: str) -> dict[str, Any]:
    for argument, spec in (schema.get("properties") or {}).items():
        if isinstance(spec, dict) and spec.get("type") == "string":
            return {argument: question}
    return {}


def _react_turn(messages: list[dict[str, Any]], tools: list[str]) -> Turn:
    start = _last_user(messages, skip_prefix=_OBSERVATION)
    question = str(messages[start].get("content") or "")
    observations = [
        str(m.get("content"))[len(_OBSERVATION) :].strip()
        for m in messages[start + 1 :]
        if str(m.get("content") or "").startswith(_OBSERVATION)
    ]
    if observations:
        answer = answer_from_evidence(question, tools[0], observations[-1])
        return Turn(text=f"Thought: I can answer without using any more tools.\nAnswer: {answer}")
    return Turn(
        text="Thought: I need to use a tool to help me answer the question.\n"
        f"Action: {tools[0]}\nAction Input: {json.dumps({'input': question})}"
    )
