"""The multimodal embedding that searches a store's images by their pixels, built from its settings.

Configured apart from the text embedding: ``MMRAG_IMAGE_EMBED_MODEL`` names a DashScope multimodal model
(``tongyi-embedding-vision-plus``, 1152-d; ``multimodal-embedding-v1``, 1024-d; ...; routed to DashScope's
multimodal-embedding endpoint, key from ``DASHSCOPE_API_KEY``) or ``colour-histogram`` (the offline
:class:`~llama_index_mmrag.models.colour.ColourEmbedding`); ``none`` (the default) gives the store no image field.
In Python any LlamaIndex ``MultiModalEmbedding`` can be passed instead (``MultimodalRAG(image_embed_model=...)``).

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> build_image_embedding(MMRAGSettings(storage_dir="./store"))             # the default: no image field
    (None, None)
    >>> model, dim = build_image_embedding(MMRAGSettings(storage_dir="./store", image_embed_model="colour-histogram"))
    >>> type(model).__name__, dim
    ('ColourEmbedding', 11)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_mmrag.errors import ModelError
from llama_index_mmrag.models.dashscope.multimodal_models import (
    MULTIMODAL_EMBEDDING_DIMENSIONS,
    default_dimension,
    is_multimodal_embedding,
)

if TYPE_CHECKING:
    from llama_index.core.embeddings import MultiModalEmbedding

    from llama_index_mmrag.settings import MMRAGSettings

__all__ = ["NO_IMAGE_EMBEDDING", "ImageEmbeddingSettingError", "build_image_embedding", "check_text_embedding_setting"]

NO_IMAGE_EMBEDDING = "none"
"""``MMRAG_IMAGE_EMBED_MODEL`` of a store without an image field (the default)."""


class ImageEmbeddingSettingError(ModelError, ValueError):
    """An embedding setting names a model that cannot serve where it is configured (a multimodal model given as the
    text embedding, an unknown image model, a DashScope model without a key).

    Example:
        >>> from llama_index_mmrag.settings import MMRAGSettings
        >>> try:
        ...     check_text_embedding_setting(MMRAGSettings(embed_model="tongyi-embedding-vision-plus"))
        ... except ImageEmbeddingSettingError as exc:
        ...     print(str(exc).split(":")[0])
        MMRAG_EMBED_MODEL='tongyi-embedding-vision-plus' is a multimodal embedding model
    """


def check_text_embedding_setting(settings: MMRAGSettings) -> None:
    """Refuse a multimodal model given as the text embedding (``MMRAG_EMBED_MODEL``), saying what to set instead.

    Its requests would go to DashScope's text-embedding endpoint, which does not serve it, and every ingest would
    fail; the store's text vectors and its image vectors are configured apart.

    Args:
        settings: The store's settings.

    Raises:
        ImageEmbeddingSettingError: If ``embed_model`` names a DashScope multimodal embedding model.
    """
    if is_multimodal_embedding(settings.embed_model):
        raise ImageEmbeddingSettingError(
            f"MMRAG_EMBED_MODEL={settings.embed_model!r} is a multimodal embedding model: it embeds images and "
            f"texts for searching pictures by their pixels, not the store's text. Set MMRAG_IMAGE_EMBED_MODEL="
            f"{settings.embed_model} (image_embed_model=) for that, and leave MMRAG_EMBED_MODEL as `local` or a "
            f"text embedding model such as text-embedding-v3"
        )


def build_image_embedding(
    settings: MMRAGSettings, image_embed_model: MultiModalEmbedding | None = None, image_embed_dim: int | None = None
) -> tuple[MultiModalEmbedding | None, int | None]:
    """The store's image embedding and its dimension: the one given, else the configured one, else ``(None, None)``.

    Args:
        settings: ``image_embed_model`` and ``image_embed_dim`` (and the DashScope key and base URL).
        image_embed_model: A multimodal embedding to use instead of the configured one.
        image_embed_dim: Its dimension (probed with one text embedding when not given).

    Raises:
        ImageEmbeddingSettingError: If the setting names an unknown model, or a DashScope model with no key.
    """
    if image_embed_model is not None:
        dim = image_embed_dim or len(image_embed_model.get_query_embedding("dimension probe"))
        return image_embed_model, dim
    name = settings.image_embed_model.strip()
    if name.lower() in ("", NO_IMAGE_EMBEDDING):
        return None, None
    if name.lower() == "colour-histogram":
        from llama_index_mmrag.models.colour import ColourEmbedding

        model = ColourEmbedding()
        return model, model.dimension
    if not is_multimodal_embedding(name):
        raise ImageEmbeddingSettingError(
            f"MMRAG_IMAGE_EMBED_MODEL={name!r} is not a known multimodal embedding model: use one of "
            f"{', '.join(sorted(MULTIMODAL_EMBEDDING_DIMENSIONS))} (DashScope), colour-histogram (offline), or none; "
            f"in Python, pass any LlamaIndex MultiModalEmbedding as image_embed_model="
        )
    if not settings.dashscope_api_key:
        raise ImageEmbeddingSettingError(
            f"MMRAG_IMAGE_EMBED_MODEL={name!r} is a DashScope model and needs DASHSCOPE_API_KEY; set it, or set "
            f"MMRAG_IMAGE_EMBED_MODEL=none"
        )
    from llama_index_mmrag.models.dashscope import DashScopeMultiModalEmbedding
    from llama_index_mmrag.models.dashscope.connection import connection_settings

    name = name.lower()
    allowed = MULTIMODAL_EMBEDDING_DIMENSIONS[name]
    dim = settings.image_embed_dim or default_dimension(name) or allowed[0]
    if dim not in allowed:
        raise ImageEmbeddingSettingError(
            f"MMRAG_IMAGE_EMBED_DIM={dim}: {name} does not produce {dim}-d vectors; use one of {list(allowed)}, or "
            f"leave it empty for {allowed[0]}"
        )
    model = DashScopeMultiModalEmbedding(
        model_name=name, dimension=dim, api_key=settings.dashscope_api_key, **connection_settings(settings)
    )
    return model, dim
