"""LlamaIndex models -> LightRAG / RAG-Anything functions, and the facade's LLM path, with a deterministic fake LLM."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.models.adapters import (
    NoLLMConfiguredError,
    lightrag_embedding_func,
    lightrag_llm_func,
    lightrag_vision_func,
    no_llm_func,
)
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, local_embedding
from tests.support.fake_llm import ANSWER_PREFIX, FakeLLM


def test_llm_func_passes_system_prompt_and_history() -> None:
    llm = FakeLLM()
    func = lightrag_llm_func(llm)
    out = asyncio.run(
        func("the question", system_prompt="be brief", history_messages=[{"role": "assistant", "content": "earlier turn"}])
    )
    assert out.startswith(ANSWER_PREFIX)
    assert llm.calls == ["be brief\nearlier turn\nthe question"]


def test_keyword_extraction_prompt_gets_lightrag_json() -> None:
    func = lightrag_llm_func(FakeLLM())
    out = asyncio.run(func("Return high_level_keywords and low_level_keywords.\nQuery: Milvus storage nodes", keyword_extraction=True))
    assert set(__import__("json").loads(out)) == {"high_level_keywords", "low_level_keywords"}


def test_vision_func_sends_the_image_as_an_image_block() -> None:
    seen: list = []

    class RecordingLLM(FakeLLM):
        def chat(self, messages, **kwargs):  # type: ignore[no-untyped-def]
            seen.extend(messages)
            return super().chat(messages, **kwargs)

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buffer, format="PNG")
    asyncio.run(lightrag_vision_func(RecordingLLM())("describe", image_data=base64.b64encode(buffer.getvalue()).decode()))
    user = seen[-1]
    kinds = [type(b).__name__ for b in user.blocks]
    assert kinds == ["ImageBlock", "TextBlock"]
    assert user.blocks[0].image == buffer.getvalue() or base64.b64decode(user.blocks[0].image) == buffer.getvalue()


def test_no_llm_func_says_how_to_configure_one() -> None:
    with pytest.raises(NoLLMConfiguredError, match="DASHSCOPE_API_KEY"):
        asyncio.run(no_llm_func("anything"))


def test_embedding_func_has_lightrags_shape() -> None:
    func = lightrag_embedding_func(local_embedding(), LOCAL_EMBED_DIM)
    vectors = asyncio.run(func(["a vector database", "a graph"]))
    assert isinstance(vectors, np.ndarray) and vectors.shape == (2, LOCAL_EMBED_DIM)


def test_facade_answers_with_the_configured_llm(tmp_path: Path, sample_faq: Path) -> None:
    llm = FakeLLM()
    with MultimodalRAG(storage_dir=tmp_path / "store", llm=llm) as rag:
        rag.ingest([sample_faq], show_progress=False)
        response = rag.as_query_engine(top_k=3).query("Does Milvus support simultaneous insertion and search?")
    assert str(response).startswith(ANSWER_PREFIX)
    answer_prompts = [c for c in llm.calls if "simultaneous insertion and search" in c and "Query:" in c or "Answer:" in c]
    assert answer_prompts, "the LLM never saw the retrieved context"
    assert any("Milvus supports simultaneous insertion and search" in c for c in answer_prompts)


def test_a_dashscope_key_switches_the_facade_to_dashscope(
    tmp_path: Path, sample_faq: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
    from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer

    with DashScopeFakeServer() as server:
        monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
        monkeypatch.setenv("DASHSCOPE_BASE_URL", server.base_url)
        with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
            assert isinstance(rag.llm, DashScopeLLM) and rag.llm.model == "qwen-max"
            assert isinstance(rag.vlm, DashScopeMultiModalLLM) and rag.vlm.model == "qwen-vl-max"
            assert rag.embed_dim == LOCAL_EMBED_DIM  # MMRAG_EMBED_MODEL=local keeps the packaged embedding
            rag.ingest([sample_faq], show_progress=False)
            response = rag.as_query_engine(top_k=2).query("Does Milvus support simultaneous insertion and search?")
        generation = [r for r in server.requests if "generation" in r.path]
        assert generation, "no request reached the DashScope endpoint"
        assert all(r.headers["authorization"] == f"Bearer {FAKE_API_KEY}" for r in generation)
        assert str(response).startswith("ANSWER:")
