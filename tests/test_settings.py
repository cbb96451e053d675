"""Settings precedence: arguments > environment > .env > offline defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from llama_index_mmrag.settings import MMRAGSettings


def test_offline_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    s = MMRAGSettings()
    assert s.use_dashscope is False
    assert s.milvus_uri is None and s.effective_milvus_uri.endswith("milvus.db")
    assert s.embed_model == "local" and s.graph_storage == "NetworkXStorage"


def test_arguments_beat_environment_beat_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MMRAG_TOP_K=3\nMILVUS_COLLECTION=from_dotenv\nDASHSCOPE_API_KEY=sk-dotenv\n")
    monkeypatch.setenv("MILVUS_COLLECTION", "from_env")
    s = MMRAGSettings()
    assert s.top_k == 3 and s.milvus_collection == "from_env" and s.use_dashscope
    assert MMRAGSettings(milvus_collection="from_arg").milvus_collection == "from_arg"


def test_blank_values_mean_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MILVUS_URI", "  ")
    monkeypatch.setenv("DASHSCOPE_API_KEY", "")
    s = MMRAGSettings()
    assert s.milvus_uri is None and not s.use_dashscope


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).resolve().parent.parent / ".env.example").read_text()
    for name, field in MMRAGSettings.model_fields.items():
        env_names = [c for c in field.validation_alias.choices if c.isupper()]  # type: ignore[union-attr]
        assert any(f"{e}=" in example for e in env_names), f"{name} is missing from .env.example"
