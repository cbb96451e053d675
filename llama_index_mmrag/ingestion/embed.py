"""The embed stage: every node gets its vector, batch by batch, with the pages embedded reported to the open bar.

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
from typing import TYPE_CHECKING

from llama_index_mmrag.progress import report_progress

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.schema import BaseNode


def embed_nodes(embed_model: BaseEmbedding, nodes: Sequence[BaseNode]) -> None:
    """Embed nodes in place (their text as an embedding sees it), batch by batch.

    After each batch the open progress bar (:mod:`llama_index_mmrag.progress`) learns how many pages have all
    their nodes embedded.

    Args:
        embed_model: Any LlamaIndex embedding; its ``embed_batch_size`` sets the batch (64 without one).
        nodes: The nodes, in document order.
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
