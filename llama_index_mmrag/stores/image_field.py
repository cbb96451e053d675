"""The collection's image field: a second vector field holding image nodes' pixel embeddings.

A store configured with a multimodal embedding (``MMRAG_IMAGE_EMBED_MODEL``, or ``image_embed_model=``) creates its
collection with this field; a store without one has no such field and is exactly as before. Milvus needs a value in
every row of a vector field (pymilvus 2.6 refuses a row without one, and the pinned Milvus Lite reads a null vector
back as zeros), so nodes without pixels get a zero vector, and rows that hold a real image vector carry the
``has_image_vector`` flag: the image request of a search is restricted to them, so a zero vector never ranks.

The field also has a floor, the least similarity of a question to a picture at which the image model has found the
picture for it (:attr:`ImageField.floor`): like the text relevance floor, it belongs to the model (measured in
``benchmarks/RESULTS.md``, "The image vector field"). Above it a picture is evidence even when no word of the question
is in its text, and its match takes part in the ranking as much as the text search does.

Example:
    >>> from llama_index_mmrag.models.colour import ColourEmbedding
    >>> image_request_filter('modality == "image"')
    '(modality == "image") and has_image_vector == true'
    >>> image_request_filter("")
    'has_image_vector == true'
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from threading import Lock
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import Embedding
    from llama_index.core.embeddings import MultiModalEmbedding

__all__ = [
    "IMAGE_FIELD_NAME",
    "IMAGE_RELEVANCE_FLOORS",
    "IMAGE_VECTOR_FLAG",
    "IMAGE_VECTOR_KEY",
    "ImageField",
    "image_request_filter",
]

IMAGE_FIELD_NAME = "image_embedding"
"""The image vector field of the collection."""
IMAGE_VECTOR_FLAG = "has_image_vector"
"""Set (``true``) on the rows whose image field holds a real image vector."""
IMAGE_VECTOR_KEY = "_image_vector"
"""Metadata key under which the embed stage hands a node's image vector to the store (never stored in metadata)."""
IMAGE_RELEVANCE_FLOORS: dict[str, float] = {"colour-histogram": 0.8}
"""The measured floor of each image model, by ``model_name``: the least cosine similarity of a question's embedding
to a picture's at which the model has found the picture for it. ``colour-histogram``: a question naming no colour
reaches at most 0.69 on 134 real pictures (figures, photos and page images of the development set), one naming a
colour 0.8 or more on a picture where that colour covers 58 % of the pixels or more (the rest one other colour).
A model not listed has no floor until one is measured for it (``MMRAG_IMAGE_RELEVANCE_FLOOR``)."""
_REMEMBERED_QUESTIONS = 32


@dataclass(frozen=True)
class ImageField:
    """The image field of a store: the multimodal embedding that fills it and its dimension.

    The question's embedding is remembered for the last few questions: the retriever and the relevance floor of
    one query engine both read it, and a service model would otherwise be asked twice.

    Args:
        embed_model: A LlamaIndex ``MultiModalEmbedding`` (images at ingest, the question's text at query time).
        dim: Its dimension.
        name: The vector field's name.
        relevance_floor: The model's floor (see :attr:`floor`); ``None``: the measured one of
            :data:`IMAGE_RELEVANCE_FLOORS`, if any.

    Example:
        >>> from llama_index_mmrag.models.colour import ColourEmbedding
        >>> images = ImageField(ColourEmbedding(), dim=11)
        >>> images.zero_vector()[:3], images.floor, ImageField(ColourEmbedding(), dim=11, relevance_floor=0.9).floor
        ([0.0, 0.0, 0.0], 0.8, 0.9)
        >>> [round(v, 2) for v in images.question_embedding("the red chart")][:2]
        [1.0, 0.0]
    """

    embed_model: MultiModalEmbedding
    dim: int
    name: str = IMAGE_FIELD_NAME
    relevance_floor: float | None = None
    _questions: OrderedDict[str, Embedding] = field(default_factory=OrderedDict, init=False, repr=False, compare=False)
    _lock: Lock = field(default_factory=Lock, init=False, repr=False, compare=False)

    @property
    def floor(self) -> float | None:
        """The least cosine similarity of a question to a picture at which the image model has found it: the one
        given, else the model's measured one (:data:`IMAGE_RELEVANCE_FLOORS`), else ``None`` (not known)."""
        if self.relevance_floor is not None:
            return self.relevance_floor
        return IMAGE_RELEVANCE_FLOORS.get(str(getattr(self.embed_model, "model_name", "")))

    def zero_vector(self) -> list[float]:
        """The value of the field in a row without pixels (never searched: the flag is not set there)."""
        return [0.0] * self.dim

    def _recalled(self, question: str) -> Embedding | None:
        with self._lock:
            vector = self._questions.get(question)
            if vector is not None:
                self._questions.move_to_end(question)
            return vector

    def _remember(self, question: str, vector: Embedding) -> Embedding:
        with self._lock:
            self._questions[question] = vector
            while len(self._questions) > _REMEMBERED_QUESTIONS:
                self._questions.popitem(last=False)
        return vector

    def question_embedding(self, question: str) -> Embedding:
        """The question embedded by the image model's text side (remembered for the next reader).

        Args:
            question: The question.
        """
        vector = self._recalled(question)
        if vector is not None:
            return vector
        return self._remember(question, self.embed_model.get_query_embedding(question))

    async def aquestion_embedding(self, question: str) -> Embedding:
        """Native async twin of :meth:`question_embedding`.

        Args:
            question: The question.
        """
        vector = self._recalled(question)
        if vector is not None:
            return vector
        return self._remember(question, await self.embed_model.aget_query_embedding(question))


def image_request_filter(expr: str) -> str:
    """The filter of the image request: the search's own filter (already compiled), and rows with an image vector.

    Args:
        expr: The compiled filter of the search (``""``: none).
    """
    flag = f"{IMAGE_VECTOR_FLAG} == true"
    return f"({expr}) and {flag}" if expr else flag
