"""A real LlamaIndex agent (FunctionAgent and ReActAgent workflows) over ``MultimodalRAG.as_tool``, offline.

The agent LLMs are deterministic fakes (tests/support/fake_agent_llm.py) that implement LlamaIndex's LLM
interfaces and answer only from what the tool returns, so these tests check the whole path a user's agent
takes: tool schema -> tool call with the question -> composite retrieval over Milvus Lite and the LightRAG
graph -> extractive answer with citations -> the agent's final answer. The package's own qwen-max adapter
(``DashScopeLLM``) drives the same agents over real HTTP, against the loopback server that speaks DashScope's
tool-call protocol (tests/support/dashscope_server.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import dashscope
import pytest
from llama_index.core.agent.workflow import (
    AgentOutput,
    AgentStream,
    FunctionAgent,
    ReActAgent,
    ToolCall,
    ToolCallResult,
)
from llama_index.core.base.llms.types import MessageRole, ToolCallBlock
from llama_index.core.tools import QueryEngineTool

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.models.dashscope import DashScopeLLM
from tests.support.dashscope_server import FAKE_API_KEY, TEXT_GENERATION_PATH, DashScopeFakeServer
from tests.support.fake_agent_llm import (
    ANSWER_PREFIX,
    NO_EVIDENCE,
    FakeFunctionCallingLLM,
    FakeReActLLM,
    answer_from_evidence,
    cited_evidence,
)

QUESTION = "Does Milvus support simultaneous insertion and search?"
EVIDENCE = "Milvus supports simultaneous insertion and search"
CITATION = "[milvus_faq.txt, p.1, text]"
TOOL_NAME = "milvus_docs"


async def _run_agent(agent: FunctionAgent | ReActAgent, question: str) -> tuple[list[Any], AgentOutput]:
    """Run an agent workflow to the end, keeping every event it streamed."""
    handler = agent.run(user_msg=question)
    events = [event async for event in handler.stream_events()]
    output = await handler
    await dashscope.close_shared_aio_session()  # the SDK's session of this event loop, if it opened one
    return events, output


@pytest.fixture(scope="module")
def milvus_tool(demo_rag: MultimodalRAG) -> QueryEngineTool:
    """The facade's tool over the sample FAQ and diagram (no LLM: extractive answers with citations)."""
    assert demo_rag.llm is None, "the store must answer offline, without an LLM"
    description = "Answers questions about Milvus from its FAQ and architecture diagram."
    return demo_rag.as_tool(name=TOOL_NAME, description=description)


def _check_tool_round_trip(events: list[Any]) -> ToolCallResult:
    calls = [e for e in events if isinstance(e, ToolCall) and not isinstance(e, ToolCallResult)]
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [(TOOL_NAME, {"input": QUESTION})]
    assert len(results) == 1
    result = results[0]
    assert result.tool_name == TOOL_NAME and result.tool_kwargs == {"input": QUESTION}
    output = result.tool_output
    assert not output.is_error, output.content
    assert EVIDENCE in output.content
    assert CITATION in output.content
    sources = output.raw_output.source_nodes
    assert any(n.node.metadata["doc"] == "milvus_faq.txt" and n.node.metadata["page"] == 0 for n in sources)
    assert all({"doc", "page", "modality"} <= set(n.node.metadata) for n in sources)
    return result


def _answered_from_the_tool(agent: Any) -> tuple[list[Any], ToolCallResult, str]:
    """Ask the agent QUESTION; check that it called the tool once and answered from the tool's result."""
    events, output = asyncio.run(_run_agent(agent, QUESTION))
    result = _check_tool_round_trip(events)
    answer = str(output)
    assert answer.startswith(ANSWER_PREFIX.format(tool=TOOL_NAME)), answer
    assert EVIDENCE in answer and CITATION in answer
    return events, result, answer


def test_function_agent_answers_from_the_tool(milvus_tool: QueryEngineTool) -> None:
    llm = FakeFunctionCallingLLM(tool_name=TOOL_NAME)
    agent = FunctionAgent(tools=[milvus_tool], llm=llm, system_prompt="Answer from the Milvus docs, with citations.")

    _, result, answer = _answered_from_the_tool(agent)
    # The quoted evidence is the tool's, citation attached, not something the LLM knew on its own.
    quoted = answer.removeprefix(ANSWER_PREFIX.format(tool=TOOL_NAME)).strip()
    assert all(piece in result.tool_output.content for piece in cited_evidence(quoted))
    # Two LLM turns: the first is offered the tool and calls it, the second reads its result.
    assert len(llm.turns) == 2
    first, second = llm.turns
    assert first.tool_names == (TOOL_NAME,)
    assert [b.tool_name for b in first.reply.blocks if isinstance(b, ToolCallBlock)] == [TOOL_NAME]
    tool_messages = [m for m in second.messages if m.role == MessageRole.TOOL]
    assert [m.content for m in tool_messages] == [result.tool_output.content]


def test_react_agent_answers_from_the_tool(milvus_tool: QueryEngineTool) -> None:
    llm = FakeReActLLM()
    agent = ReActAgent(tools=[milvus_tool], llm=llm)

    _, result, answer = _answered_from_the_tool(agent)
    assert len(llm.turns) == 2
    assert llm.turns[0].tool_names == (TOOL_NAME,)  # read from the ReAct header the agent wrote
    observations = [m.content or "" for m in llm.turns[1].messages if (m.content or "").startswith("Observation:")]
    assert observations == [f"Observation: {result.tool_output.content}"]


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "whole"])
def test_function_agent_on_qwen_max_answers_from_the_tool(
    milvus_tool: QueryEngineTool, dashscope_server: DashScopeFakeServer, streaming: bool
) -> None:
    llm = DashScopeLLM(model="qwen-max", api_key=FAKE_API_KEY, base_url=dashscope_server.base_url)
    agent = FunctionAgent(tools=[milvus_tool], llm=llm, streaming=streaming)

    events, result, answer = _answered_from_the_tool(agent)
    quoted = answer.removeprefix(ANSWER_PREFIX.format(tool=TOOL_NAME)).strip()
    assert all(piece in result.tool_output.content for piece in cited_evidence(quoted))
    # Two qwen-max calls per question: the tool call, then the answer from the tool's result.
    first, second = dashscope_server.requests_to(TEXT_GENERATION_PATH)
    assert len(dashscope_server.requests) == 2
    assert [t["function"]["name"] for t in first.parameters["tools"]] == [TOOL_NAME]
    assert first.parameters["tools"][0]["function"]["parameters"]["required"] == ["input"]
    assert (first.headers.get("x-dashscope-sse") == "enable") is streaming
    tool_messages = [m for m in second.input["messages"] if m["role"] == "tool"]
    assert [(m["name"], m["content"]) for m in tool_messages] == [(TOOL_NAME, result.tool_output.content)]
    if streaming:  # the arguments arrived in pieces and the agent streamed the call as it grew
        partial = [e.tool_calls[0].tool_kwargs for e in events if isinstance(e, AgentStream) and e.tool_calls]
        assert len(partial) > 1 and partial[-1] == {"input": QUESTION} and partial[0] != partial[-1]


def test_react_agent_on_qwen_max_answers_from_the_tool(
    milvus_tool: QueryEngineTool, dashscope_server: DashScopeFakeServer
) -> None:
    llm = DashScopeLLM(model="qwen-max", api_key=FAKE_API_KEY, base_url=dashscope_server.base_url)
    agent = ReActAgent(tools=[milvus_tool], llm=llm)

    _, result, answer = _answered_from_the_tool(agent)
    first, second = dashscope_server.requests_to(TEXT_GENERATION_PATH)
    assert len(dashscope_server.requests) == 2
    assert "tools" not in first.parameters  # ReAct: the tools are described in the prompt
    observations = [m["content"] for m in second.input["messages"] if m["content"].startswith("Observation:")]
    assert observations == [f"Observation: {result.tool_output.content}"]


def test_scoped_tool_keeps_out_other_modalities(demo_rag: MultimodalRAG) -> None:
    """``as_tool`` passes retriever scopes through: an image-only tool cites only the diagram."""
    tool = demo_rag.as_tool(name="milvus_diagram", description="The Milvus architecture diagram.", modalities=["image"])
    llm = FakeFunctionCallingLLM()
    question = "Which components does the query node talk to?"
    events, output = asyncio.run(_run_agent(FunctionAgent(tools=[tool], llm=llm), question))
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert len(results) == 1
    sources = results[0].tool_output.raw_output.source_nodes
    assert sources and {n.node.metadata["modality"] for n in sources} == {"image"}
    assert "[milvus_architecture.png, p.1, image]" in str(output)
    assert "milvus_faq.txt" not in str(output)


def test_answer_from_evidence_uses_only_matching_cited_pieces() -> None:
    output = (
        "Milvus Lite runs inside your Python process. [faq.txt, p.0, text] "
        "The proxy routes requests. [arch.png, p.2, image]"
    )
    assert cited_evidence(output) == [
        "Milvus Lite runs inside your Python process. [faq.txt, p.0, text]",
        "The proxy routes requests. [arch.png, p.2, image]",
    ]
    answer = answer_from_evidence("What does the proxy do?", "docs", output)
    assert answer == f"{ANSWER_PREFIX.format(tool='docs')} The proxy routes requests. [arch.png, p.2, image]"
    assert answer_from_evidence("Unrelated question?", "docs", output) == NO_EVIDENCE.format(tool="docs")
