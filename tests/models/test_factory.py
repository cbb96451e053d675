"""The models factory: what a store gets from its settings, and what a caller's own models override."""

from __future__ import annotations

from pathlib import Path

from llama_index.core.embeddings import MockEmbedding
from llama_index.core.llms import MockLLM

from llama_index_mmrag.models.dashscope import DashScopeEmbedding, DashScopeLLM, DashScopeMultiModalLLM
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, LazyEmbedding, embedding_name
from llama_index_mmrag.models.factory import build_models
from llama_index_mmrag.models.minilm import LOCAL_EMBED_NAME
from llama_index_mmrag.settings import MMRAGSettings


def test_offline_settings_give_no_llm_and_the_packaged_embedding_not_yet_loaded(tmp_path: Path) -> None:
    llm, vlm, embed, dim = build_models(MMRAGSettings(storage_dir=tmp_path))
    assert llm is None and vlm is None
    assert isinstance(embed, LazyEmbedding) and dim == LOCAL_EMBED_DIM
    assert embedding_name(embed) == LOCAL_EMBED_NAME


def test_a_dashscope_key_brings_its_llms_and_keeps_the_packaged_embedding(tmp_path: Path) -> None:
    settings = MMRAGSettings(storage_dir=tmp_path, dashscope_api_key="sk-test", llm_model="qwen-plus")
    llm, vlm, embed, dim = build_models(settings)
    assert isinstance(llm, DashScopeLLM) and llm.model == "qwen-plus"
    assert isinstance(vlm, DashScopeMultiModalLLM) and vlm.model == settings.vlm_model
    assert isinstance(embed, LazyEmbedding) and dim == LOCAL_EMBED_DIM


def test_a_named_dashscope_embedding_is_used_at_its_configured_dimension(tmp_path: Path) -> None:
    settings = MMRAGSettings(
        storage_dir=tmp_path, dashscope_api_key="sk-test", embed_model="text-embedding-v4", embed_dim=512
    )
    models = build_models(settings)
    assert isinstance(models.embed_model, DashScopeEmbedding)
    assert models.embed_model.model_name == "text-embedding-v4" and models.embed_dim == 512


def test_models_given_win_over_the_settings_and_a_missing_dimension_is_probed(tmp_path: Path) -> None:
    own_llm = MockLLM()
    settings = MMRAGSettings(storage_dir=tmp_path, dashscope_api_key="sk-test", embed_model="text-embedding-v3")
    llm, vlm, embed, dim = build_models(settings, llm=own_llm, embed_model=MockEmbedding(embed_dim=16))
    assert llm is own_llm and isinstance(vlm, DashScopeMultiModalLLM)
    assert isinstance(embed, MockEmbedding) and dim == 16
