"""The collection's image field: a second vector field holding image nodes' pixel embeddings.

A store configured with a multimodal embedding (``MMRAG_IMAGE_EMBED_MODEL``, or ``image_embed_model=``) creates its
collection with this field; a store without one has no such field and is exactly as before. Milvus needs a value in
every row of a vector field (pymilvus 2.6 refuses a row without one, and the pinned Milvus Lite reads a null vector
back as zeros), so nodes without pixels get a zero vector, and rows that hold a real image vector carry the
``has_image_vector`` flag: the image request of a search is restricted to them, so a zero vector never ranks.

Example:
    >>> from llama_index_mmrag.models.colour import ColourEmbedding
    >>> image_request_filter('modality == "image"')
    '(modality == "image") and has_image_vector == true'
    >>> image_request_filter("")
    'has_image_vector == true'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.embeddings import MultiModalEmbedding

__all__ = ["IMAGE_FIELD_NAME", "IMAGE_VECTOR_FLAG", "IMAGE_VECTOR_KEY", "ImageField", "image_request_filter"]

IMAGE_FIELD_NAME = "image_embedding"
"""The image vector field of the collection."""
IMAGE_VECTOR_FLAG = "has_image_vector"
"""Set (``true``) on the rows whose image field holds a real image vector."""
IMAGE_VECTOR_KEY = "_image_vector"
"""Metadata key under which the embed stage hands a node's image vector to the store (never stored in metadata)."""


@dataclass(frozen=True)
class ImageField:
    """The image field of a store: the multimodal embedding that fills it and its dimension.

    Args:
        embed_model: A LlamaIndex ``MultiModalEmbedding`` (images at ingest, the question's text at query time).
        dim: Its dimension.
        name: The vector field's name.

    Example:
        >>> from llama_index_mmrag.models.colour import ColourEmbedding
        >>> ImageField(ColourEmbedding(), dim=11).zero_vector()[:3]
        [0.0, 0.0, 0.0]
    """

    embed_model: MultiModalEmbedding
    dim: int
    name: str = IMAGE_FIELD_NAME

    def zero_vector(self) -> list[float]:
        """The value of the field in a row without pixels (never searched: the flag is not set there)."""
        return [0.0] * self.dim


def image_request_filter(expr: str) -> str:
    """The filter of the image request: the search's own filter (already compiled), and rows with an image vector.

    Args:
        expr: The compiled filter of the search (``""``: none).
    """
    flag = f"{IMAGE_VECTOR_FLAG} == true"
    return f"({expr}) and {flag}" if expr else flag
