"""The embed stage: every node gets its vector, batch by batch, with the pages embedded reported to the open bar;
with an image embedding, every picture also gets its pixels' vector for the store's image field.

Example:
    >>> from llama_index.core.embeddings import MockEmbedding
    >>> from llama_index.core.schema import TextNode
    >>> nodes = [TextNode(text="Milvus stores vectors.", metadata={"page": 0})]
    >>> embed_nodes(MockEmbedding(embed_dim=4), nodes)
    >>> len(nodes[0].embedding)
    4
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import TYPE_CHECKING

from llama_index_mmrag.progress import report_progress
from llama_index_mmrag.schema.nodes import node_image, node_modality
from llama_index_mmrag.stores.image_field import IMAGE_VECTOR_KEY

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.embeddings import MultiModalEmbedding
    from llama_index.core.schema import BaseNode, ImageType


def embed_nodes(
    embed_model: BaseEmbedding, nodes: Sequence[BaseNode], image_embed_model: MultiModalEmbedding | None = None
) -> None:
    """Embed nodes in place (their text as an embedding sees it), batch by batch; then, with an image embedding,
    the pixels of every picture (:func:`embed_images`).

    After each batch the open progress bar (:mod:`llama_index_mmrag.progress`) learns how many pages have all
    their nodes embedded.

    Args:
        embed_model: Any LlamaIndex embedding; its ``embed_batch_size`` sets the batch (64 without one).
        nodes: The nodes, in document order.
        image_embed_model: The store's image embedding (``None``: no image vectors).
    """
    if not nodes:
        return
    from llama_index.core.schema import MetadataMode

    texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
    pages = [n.metadata.get("page") for n in nodes]
    step = max(1, int(getattr(embed_model, "embed_batch_size", 0) or 64))
    report_progress(0, len(set(pages)))
    for start in range(0, len(nodes), step):
        end = min(start + step, len(nodes))
        for node, vector in zip(nodes[start:end], embed_model.get_text_embedding_batch(texts[start:end])):
            node.embedding = vector
        report_progress(len(set(pages[:end]) - set(pages[end:])), len(set(pages)))
    if image_embed_model is not None:  # after the texts: the vector must not be part of any text embedded
        embed_images(image_embed_model, nodes)


def embed_images(image_embed_model: MultiModalEmbedding, nodes: Sequence[BaseNode]) -> int:
    """Give every image node the vector of its pixels, for the store's image field; returns how many got one.

    The vector travels to the store in the node's metadata (under ``_image_vector``), which the store takes out
    before it writes the node. An image node whose picture is neither a file nor inline bytes gets none (the store
    gives it a zero vector that no image search sees).

    Args:
        image_embed_model: A LlamaIndex ``MultiModalEmbedding``; its ``embed_batch_size`` sets the batch.
        nodes: The nodes.

    Example:
        >>> from PIL import Image
        >>> from llama_index.core.schema import ImageNode, TextNode
        >>> from llama_index_mmrag.models.colour import ColourEmbedding
        >>> Image.new("RGB", (8, 8), (220, 40, 40)).save("red.png")
        >>> nodes = [ImageNode(image_path="red.png", metadata={"modality": "image"}), TextNode(text="no picture")]
        >>> embed_images(ColourEmbedding(), nodes), [round(v, 1) for v in nodes[0].metadata["_image_vector"][:2]]
        (1, [1.0, 0.0])
    """
    pictures: list[tuple[BaseNode, ImageType]] = []
    for node in nodes:
        if node_modality(node) != "image":
            continue
        path, data = node_image(node)
        if data is not None:
            pictures.append((node, BytesIO(data)))
        elif path:
            pictures.append((node, path))
    if pictures:
        vectors = image_embed_model.get_image_embedding_batch([picture for _, picture in pictures])
        for (node, _), vector in zip(pictures, vectors):
            node.metadata[IMAGE_VECTOR_KEY] = vector
    return len(pictures)
