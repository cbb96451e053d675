"""Count the qwen-max calls an agent question costs, at a loopback DashScope server.

A store of the demo's two files is built offline once; then each question goes to an agent whose LLM is the
package's ``DashScopeLLM`` pointed at the loopback server (tests/support/dashscope_server.py), and every
request the server receives is counted, by kind:

* ``FunctionAgent``, streaming (the default) and not, and ``ReActAgent``, over ``rag.as_tool()`` of the
  offline store (its tool answers extractively, with no model call);
* the same ``FunctionAgent`` over the tool of the same store opened with qwen-max as its LLM (what
  ``DASHSCOPE_API_KEY`` gives), so the tool's own calls (query keywords, the synthesized answer) show too.

Usage:
    python benchmarks/agent_calls.py [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "Does Milvus support simultaneous insertion and search?",
    "What are the key components of the Milvus architecture?",
    "Can Milvus run inside a Python process?",
]


def _kind(body: dict[str, Any] | None) -> str:
    parameters = (body or {}).get("parameters") or {}
    messages = ((body or {}).get("input") or {}).get("messages") or []
    if parameters.get("tools"):
        return "agent turn (tools offered)"
    if any("> Tool Name:" in str(m.get("content")) for m in messages if m.get("role") == "system"):
        return "agent turn (ReAct)"
    return "the store's own query (keywords, answer)"


async def _ask(agent: Any, question: str) -> str:
    import dashscope

    answer = str(await agent.run(question))
    await dashscope.close_shared_aio_session()
    return answer


def main() -> None:
    """Run every agent set-up over every question and print the calls per question."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

    from llama_index.core.agent.workflow import FunctionAgent, ReActAgent

    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.models.dashscope import DashScopeLLM
    from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, DashScopeFakeServer() as server:
        store = Path(tmp) / "store"
        rag = MultimodalRAG(storage_dir=store)
        report = rag.ingest([ROOT / "sample" / "milvus_faq.txt", ROOT / "sample" / "milvus_architecture.png"],
                            show_progress=False)
        assert report.ok, report.failures

        def qwen() -> DashScopeLLM:
            return DashScopeLLM(model="qwen-max", api_key=FAKE_API_KEY, base_url=server.base_url)

        setups: list[tuple[str, Any, Any]] = [
            ("FunctionAgent, streaming; offline store", rag, lambda tool: FunctionAgent(tools=[tool], llm=qwen())),
            ("FunctionAgent, not streaming; offline store", rag,
             lambda tool: FunctionAgent(tools=[tool], llm=qwen(), streaming=False)),
            ("ReActAgent; offline store", rag, lambda tool: ReActAgent(tools=[tool], llm=qwen())),
        ]
        for name, store_rag, make in setups:
            results.append(_measure(name, store_rag, make, server))
        rag.close()
        llm_rag = MultimodalRAG(storage_dir=store, llm=qwen())
        results.append(_measure("FunctionAgent, streaming; store on qwen-max", llm_rag,
                                lambda tool: FunctionAgent(tools=[tool], llm=qwen()), server))
        llm_rag.close()

    print(f"{'set-up':48} {'calls/question':>14}  calls by kind")
    for row in results:
        kinds = ", ".join(f"{k}: {v}" for k, v in row["calls_by_kind"].items())
        print(f"{row['setup']:48} {row['calls_per_question']:>14}  {kinds}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")


def _measure(name: str, rag: Any, make: Any, server: Any) -> dict[str, Any]:
    from tests.support.dashscope_server import TEXT_GENERATION_PATH

    tool = rag.as_tool(name="milvus_docs", description="Answers questions about Milvus from its docs.")
    calls: list[int] = []
    kinds: Counter[str] = Counter()
    for question in QUESTIONS:
        server.reset()
        answer = asyncio.run(_ask(make(tool), question))
        requests = server.requests_to(TEXT_GENERATION_PATH)
        assert "the milvus_docs tool" in answer, answer  # the answer came from the tool's result
        calls.append(len(server.requests))
        kinds.update(_kind(r.body) for r in requests)
    return {
        "setup": name,
        "questions": len(QUESTIONS),
        "calls_per_question": sum(calls) / len(calls),
        "calls": calls,
        "calls_by_kind": {k: v / len(QUESTIONS) for k, v in sorted(kinds.items())},
    }


if __name__ == "__main__":
    main()
