"""The DashScope path: RAG-Anything's prompts through the real DashScope SDK to a loopback DashScope server."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llama_index_mmrag.schema import ContentBlock
from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
from llama_index_mmrag.processors import ModalDescriber, ModalDescriptionError
from tests.support.dashscope_server import (
    FAKE_API_KEY,
    MULTIMODAL_GENERATION_PATH,
    TEXT_GENERATION_PATH,
    DashScopeFakeServer,
)


@pytest.fixture
def server(dashscope_server: DashScopeFakeServer) -> DashScopeFakeServer:
    """The shared loopback DashScope (tests/conftest.py)."""
    return dashscope_server


def _data_url_bytes(url: str) -> bytes:
    head, _, data = url.partition(",")
    assert head == "data:image/png;base64", head
    return base64.b64decode(data)


async def test_vlm_gets_the_picture_and_rag_anything_prompt_once_per_item(
    server: DashScopeFakeServer, aio_sessions: None, doc_blocks: list[ContentBlock], blue_png: Path, tmp_path: Path
) -> None:
    vlm = DashScopeMultiModalLLM(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0)
    llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0)
    describer = ModalDescriber(llm=llm, vlm=vlm, cache_dir=tmp_path / "cache")

    results = await describer.adescribe(doc_blocks)

    assert [r.model for r in results] == [
        "DashScopeMultiModalLLM:qwen-vl-max",
        "DashScopeLLM:qwen-max",
        "DashScopeLLM:qwen-max",
    ]
    assert len(server.requests_to(MULTIMODAL_GENERATION_PATH)) == 1
    assert len(server.requests_to(TEXT_GENERATION_PATH)) == 2
    [vision] = server.requests_to(MULTIMODAL_GENERATION_PATH)
    system, user = vision.input["messages"]
    assert system["content"] == [{"text": "You are an expert image analyst. Provide detailed, accurate descriptions."}]
    image_items = [part for part in user["content"] if "image" in part]
    text_items = [part["text"] for part in user["content"] if "text" in part]
    assert [_data_url_bytes(part["image"]) for part in image_items] == [blue_png.read_bytes()]
    assert "Please analyze this image in detail" in text_items[0]
    assert "Captions: ['Figure 1: Milvus architecture']" in text_items[0]
    text_prompts = [r.input["messages"][-1]["content"] for r in server.requests_to(TEXT_GENERATION_PATH)]
    # the table and the equation are described concurrently: their requests arrive in either order
    assert sum("| HNSW | 0.98 | 2 ms |" in prompt for prompt in text_prompts) == 1, text_prompts
    # The fake answers in prose, not JSON: RAG-Anything keeps what it can parse; it is still a description.
    assert all(r.description for r in results)

    again = ModalDescriber(llm=llm, vlm=vlm, cache_dir=tmp_path / "cache")
    await again.adescribe(doc_blocks)
    assert len(server.requests) == 3  # cached: no new request


async def test_a_dashscope_error_surfaces_with_the_item_and_the_fix(
    server: DashScopeFakeServer, aio_sessions: None, doc_blocks: list[ContentBlock]
) -> None:
    vlm = DashScopeMultiModalLLM(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0)
    server.fail_next(1, status=401)

    with pytest.raises(ModalDescriptionError, match=r"architecture\.png.*InvalidApiKey.*DASHSCOPE_API_KEY"):
        await ModalDescriber(vlm=vlm).adescribe(doc_blocks[:3])
    assert len(server.requests) == 1  # 401 is not retried; nothing was cached
