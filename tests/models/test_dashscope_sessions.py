"""The DashScope SDK's per-loop aiohttp session is closed with the engine loop, so a process that called DashScope
asynchronously (every ``mmrag ingest`` with a key) ends without asyncio's "Unclosed client session" error."""

from __future__ import annotations

from dashscope.api_entities.aio_session import get_shared_aio_session

from llama_index_mmrag.models.dashscope import DashScopeLLM
from llama_index_mmrag.runtime import BackgroundLoop
from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer


def test_closing_a_loop_that_called_dashscope_closes_the_sdks_session_on_it(
    dashscope_server: DashScopeFakeServer,
) -> None:
    llm = DashScopeLLM(model="qwen-max", api_key=FAKE_API_KEY, base_url=dashscope_server.base_url)
    loop = BackgroundLoop()
    assert loop.run(llm.acomplete("Name the capital of France.")).text == "ANSWER: Name the capital of France."
    session = loop.run(get_shared_aio_session())  # the one the call above used: the SDK keeps one per loop

    loop.close()

    assert session.closed
