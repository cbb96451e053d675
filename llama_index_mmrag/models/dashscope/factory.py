"""The three DashScope models the package uses, built from settings values."""

from __future__ import annotations

from llama_index_mmrag.models.dashscope.connection import DASHSCOPE_API_KEY_ENV
from llama_index_mmrag.models.dashscope.embedding import DashScopeEmbedding
from llama_index_mmrag.models.dashscope.llm import DashScopeLLM
from llama_index_mmrag.models.dashscope.vlm import DashScopeMultiModalLLM


def dashscope_models_from_settings(
    api_key: str,
    base_url: str | None,
    llm_model: str,
    vlm_model: str,
    embed_model: str,
    embed_dim: int,
    **retries: float,
) -> tuple[DashScopeLLM, DashScopeMultiModalLLM, DashScopeEmbedding]:
    """Build the text LLM, the vision LLM and the text embedding from settings values.

    Example:
        >>> llm, vlm, embed = dashscope_models_from_settings(
        ...     "sk-...", None, "qwen-max", "qwen-vl-max", "text-embedding-v3", 1024)

    Args:
        api_key: DashScope API key.
        base_url: Native API base URL, or None for the SDK default.
        llm_model: Text model, e.g. ``qwen-max``.
        vlm_model: Vision model, e.g. ``qwen-vl-max``.
        embed_model: Text embedding model, e.g. ``text-embedding-v3``.
        embed_dim: Embedding dimension.
        **retries: ``timeout``, ``max_retries``, ``retry_backoff``, ``max_retry_wait`` of every model (see
            :class:`~llama_index_mmrag.models.dashscope.connection.DashScopeConnection`).

    Returns:
        ``(llm, vlm, embedding)``, all pointed at the same key and endpoint.

    Raises:
        ValueError: The key is empty or a model/dimension setting is invalid.
    """
    if not api_key:
        raise ValueError(f"DashScope models need an API key: set {DASHSCOPE_API_KEY_ENV} or pass api_key.")
    connection = {"api_key": api_key, "base_url": base_url, **retries}
    return (
        DashScopeLLM(model=llm_model, **connection),
        DashScopeMultiModalLLM(model=vlm_model, **connection),
        DashScopeEmbedding(model_name=embed_model, dimension=embed_dim, **connection),
    )
