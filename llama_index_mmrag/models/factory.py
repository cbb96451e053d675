"""The models a store uses, built from its settings: the one place that knows the providers.

Models passed in are used as they are; what is missing comes from the settings: DashScope's text LLM, vision
LLM and embedding when an API key is set (``DASHSCOPE_API_KEY``), else no LLM and the packaged
all-MiniLM-L6-v2, which loads on its first embedding (opening a store to count or delete loads no model).

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> models = build_models(MMRAGSettings(storage_dir="./store"))
    >>> models.llm is None, models.embed_dim
    (True, 384)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, lazy_local_embedding
from llama_index_mmrag.models.image_embedding import check_text_embedding_setting

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import LLM

    from llama_index_mmrag.settings import MMRAGSettings

DASHSCOPE_DEFAULT_EMBEDDING = "text-embedding-v3"
"""DashScope's embedding built with its LLMs when ``MMRAG_EMBED_MODEL`` is ``local``; unused then: the store keeps
the packaged embedding unless another embedding model is named."""


class ModelSet(NamedTuple):
    """The models of a store.

    Args:
        llm: The LLM for answers and graph building (``None``: the LLM-free paths).
        vlm: The vision LLM for image descriptions (``None``: offline descriptions).
        embed_model: The embedding of the store's vectors.
        embed_dim: Its dimension.

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> models = build_models(MMRAGSettings(storage_dir="store"))    # offline: no key, no LLM
        >>> models.llm, models.vlm, models.embed_dim
        (None, None, 384)
    """

    llm: LLM | None
    vlm: LLM | None
    embed_model: BaseEmbedding
    embed_dim: int


def build_models(
    settings: MMRAGSettings,
    llm: LLM | None = None,
    vlm: LLM | None = None,
    embed_model: BaseEmbedding | None = None,
    embed_dim: int | None = None,
) -> ModelSet:
    """The store's models: those given, the rest from the settings.

    Args:
        settings: Provider settings (DashScope key, base URL and model names; ``embed_model``, ``embed_dim``).
        llm: An LLM to use instead of the configured one.
        vlm: A vision LLM to use instead of the configured one.
        embed_model: An embedding to use instead of the configured one.
        embed_dim: Its dimension (probed with one embedding call when not given).
    """
    s = settings
    if embed_model is None:
        check_text_embedding_setting(s)  # a multimodal model as the text embedding fails now, saying what to set
    remote_embedding = embed_model is None and s.embed_model != "local"
    if s.use_dashscope and (llm is None or vlm is None or remote_embedding):
        from llama_index_mmrag.models.dashscope import dashscope_models_from_settings
        from llama_index_mmrag.models.dashscope.connection import connection_settings

        ds_llm, ds_vlm, ds_embed = dashscope_models_from_settings(
            api_key=s.dashscope_api_key or "",
            llm_model=s.llm_model,
            vlm_model=s.vlm_model,
            embed_model=s.embed_model if s.embed_model != "local" else DASHSCOPE_DEFAULT_EMBEDDING,
            embed_dim=s.embed_dim,
            **connection_settings(s),
        )
        llm = llm or ds_llm
        vlm = vlm or ds_vlm
        if remote_embedding:
            embed_model, embed_dim = ds_embed, s.embed_dim
    if embed_model is None:
        return ModelSet(llm, vlm, lazy_local_embedding(), LOCAL_EMBED_DIM)
    if embed_dim is None:
        embed_dim = len(embed_model.get_text_embedding("dimension probe"))
    return ModelSet(llm, vlm, embed_model, embed_dim)
