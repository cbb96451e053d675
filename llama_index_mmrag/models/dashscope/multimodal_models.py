"""DashScope's multimodal embedding models: their names and the dimensions each one produces.

A light table (it imports neither the SDK nor LlamaIndex), read where a setting names a model: by
:class:`~llama_index_mmrag.models.dashscope.embedding.DashScopeMultiModalEmbedding` to check its dimension, and by
the model factory to tell a multimodal model given as the text embedding.

Example:
    >>> is_multimodal_embedding("tongyi-embedding-vision-plus"), default_dimension("tongyi-embedding-vision-plus")
    (True, 1152)
    >>> is_multimodal_embedding("text-embedding-v3")
    False
"""

from __future__ import annotations

__all__ = ["MULTIMODAL_EMBEDDING_DIMENSIONS", "default_dimension", "is_multimodal_embedding", "takes_dimension"]

MULTIMODAL_EMBEDDING_DIMENSIONS: dict[str, tuple[int, ...]] = {
    "tongyi-embedding-vision-plus": (1152, 1024, 512, 256, 128, 64),
    "tongyi-embedding-vision-flash": (768, 512, 256, 128, 64),
    "multimodal-embedding-v1": (1024,),
    "multimodal-embedding-one-peace-v1": (1536,),
}
"""Output dimensions of each model of DashScope's multimodal-embedding endpoint, its default first. A model with
one dimension takes no ``dimension`` parameter."""


def is_multimodal_embedding(model: str) -> bool:
    """Whether ``model`` is served by DashScope's multimodal-embedding endpoint (not the text-embedding one).

    Args:
        model: A DashScope model name.
    """
    return model.strip().lower() in MULTIMODAL_EMBEDDING_DIMENSIONS


def default_dimension(model: str) -> int | None:
    """The dimension ``model`` produces when none is asked for; ``None`` for a model not in the table.

    Args:
        model: A DashScope multimodal embedding model name.
    """
    dims = MULTIMODAL_EMBEDDING_DIMENSIONS.get(model.strip().lower())
    return dims[0] if dims else None


def takes_dimension(model: str) -> bool:
    """Whether requests for ``model`` carry a ``dimension`` parameter (a model of one dimension takes none; a model
    not in the table gets it, as newer models do).

    Args:
        model: A DashScope multimodal embedding model name.
    """
    return len(MULTIMODAL_EMBEDDING_DIMENSIONS.get(model.strip().lower(), (0, 0))) > 1
