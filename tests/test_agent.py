"""A real LlamaIndex agent (FunctionAgent and ReActAgent workflows) over ``MultimodalRAG.as_tool``, offline.

The agent LLMs are deterministic fakes (tests/support/fake_agent_llm.py) that implement LlamaIndex's LLM
interfaces and answer only from what the tool returns, so these tests check the whole path a user's agent
takes: tool schema -> tool call with the question -> composite retrieval over Milvus Lite and the LightRAG
graph -> extractive answer with citations -> the agent's final answer.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from llama_index.core.agent.workflow import AgentOutput, FunctionAgent, ReActAgent, ToolCall, ToolCallResult
from llama_index.core.base.llms.types import MessageRole, ToolCallBlock
from llama_index.core.tools import QueryEngineTool

from llama_index_mmrag import MultimodalRAG
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
    return events, await handler


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


def test_function_agent_answers_from_the_tool(milvus_tool: QueryEngineTool) -> None:
    llm = FakeFunctionCallingLLM(tool_name=TOOL_NAME)
    agent = FunctionAgent(tools=[milvus_tool], llm=llm, system_prompt="Answer from the Milvus docs, with citations.")

    events, output = asyncio.run(_run_agent(agent, QUESTION))

    result = _check_tool_round_trip(events)
    answer = str(output)
    assert answer.startswith(ANSWER_PREFIX.format(tool=TOOL_NAME))
    assert EVIDENCE in answer and CITATION in answer
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

    events, output = asyncio.run(_run_agent(agent, QUESTION))

    result = _check_tool_round_trip(events)
    answer = str(output)
    assert answer.startswith(ANSWER_PREFIX.format(tool=TOOL_NAME)), answer
    assert EVIDENCE in answer and CITATION in answer
    assert len(llm.turns) == 2
    assert llm.turns[0].tool_names == (TOOL_NAME,)  # read from the ReAct header the agent wrote
    observations = [m.content or "" for m in llm.turns[1].messages if (m.content or "").startswith("Observation:")]
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
