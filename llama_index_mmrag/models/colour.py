"""ColourEmbedding: a small offline ``MultiModalEmbedding`` that places pictures and colour words in one space.

No image-text model ships its weights in a package (see the README), so a store that searches images by their
pixels needs a service (DashScope) or a model of the caller's own. This one needs neither: a picture's vector is
the share of its pixels nearest to each of eleven named colours, and a text's vector counts the colour words it
names. It is not a semantic model (it knows colours, nothing else); it is what the offline demo and the README use to
show the image field end to end, and a deterministic model for checking that path.

Example:
    >>> from PIL import Image
    >>> Image.new("RGB", (8, 8), (30, 160, 60)).save("green.png")
    >>> embed = ColourEmbedding()
    >>> picture = embed.get_image_embedding("green.png")
    >>> [round(v, 2) for v in picture] == [round(v, 2) for v in embed.get_query_embedding("the green one")]
    True
"""

from __future__ import annotations

import math
import re
from io import BytesIO
from pathlib import Path

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType

__all__ = ["COLOUR_EMBEDDING_NAME", "PALETTE", "ColourEmbedding"]

COLOUR_EMBEDDING_NAME = "colour-histogram"
"""The model's name (``MMRAG_IMAGE_EMBED_MODEL=colour-histogram``), recorded by a store it built."""

PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "orange": (245, 140, 30),
    "yellow": (240, 220, 40),
    "green": (40, 170, 70),
    "blue": (40, 90, 220),
    "purple": (140, 60, 180),
    "pink": (240, 140, 190),
    "brown": (130, 80, 40),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
}
"""The named colours, one vector dimension each, in this order."""

_SYNONYMS = {"gray": "grey", "violet": "purple", "crimson": "red", "scarlet": "red", "navy": "blue"}
_WORD = re.compile(r"[a-z]+")
_SIDE = 64  # pictures are read at most 64 x 64 pixels: colour shares need no more


class ColourEmbedding(MultiModalEmbedding):
    """Pictures as the share of their pixels nearest each named colour; texts as the colour words they name.

    A text that names no colour gets the same weight on every colour, so it ranks pictures without preferring one.

    Args:
        model_name: The name recorded by a store (``colour-histogram``).
        embed_batch_size: Items per batch.

    Example:
        >>> embed = ColourEmbedding()
        >>> len(embed.get_text_embedding("a red and white chart")), embed.model_name
        (11, 'colour-histogram')
    """

    model_name: str = COLOUR_EMBEDDING_NAME

    @classmethod
    def class_name(cls) -> str:
        return "ColourEmbedding"

    @property
    def dimension(self) -> int:
        """The vector length: one per named colour."""
        return len(PALETTE)

    def _text_vector(self, text: str) -> Embedding:
        counts = dict.fromkeys(PALETTE, 0.0)
        for word in _WORD.findall(text.lower()):
            word = _SYNONYMS.get(word, word)
            if word in counts:
                counts[word] += 1.0
        vector = list(counts.values())
        return _unit(vector if any(vector) else [1.0] * len(vector))

    def _image_vector(self, image: ImageType) -> Embedding:
        from PIL import Image

        source = BytesIO(image.getvalue()) if isinstance(image, BytesIO) else Path(image)
        with Image.open(source) as picture:
            picture = picture.convert("RGB")
            picture.thumbnail((_SIDE, _SIDE))
            pixels = list(picture.getdata())
        colours = list(PALETTE.values())
        counts = [0.0] * len(colours)
        for pixel in pixels:
            nearest = min(range(len(colours)), key=lambda i: sum((a - b) ** 2 for a, b in zip(pixel, colours[i])))
            counts[nearest] += 1.0
        return _unit(counts)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._text_vector(query)

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._text_vector(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._text_vector(text)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return self._text_vector(text)

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._image_vector(img_file_path)

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._image_vector(img_file_path)


def _unit(vector: list[float]) -> Embedding:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
