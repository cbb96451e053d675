"""The offline tokenizer LightRAG counts tokens with: same ids as tiktoken, cached without shared state."""

from __future__ import annotations

import tiktoken

from llama_index_mmrag.models.tokenizer import ENCODE_CACHE_MAX_CHARS, OFFLINE_ENCODING, CachedEncoding, offline_tokenizer


def test_cached_ids_equal_tiktokens_and_callers_cannot_corrupt_the_cache() -> None:
    plain = tiktoken.get_encoding(OFFLINE_ENCODING)
    cached = CachedEncoding(plain, cache_size=4)
    text = "Milvus keeps sealed segments in object storage."
    first = cached.encode(text)
    assert first == plain.encode(text)
    first.append(-1)  # LightRAG slices and extends token lists; the next caller must not see it
    assert cached.encode(text) == plain.encode(text)
    assert cached.decode(cached.encode(text)) == text


def test_repeated_texts_are_encoded_once_and_long_texts_are_not_kept() -> None:
    calls: list[str] = []

    class CountingEncoding:
        def encode(self, text: str) -> list[int]:
            calls.append(text)
            return [len(text)]

        def decode(self, tokens: list[int]) -> str:
            return ""

    cached = CachedEncoding(CountingEncoding(), cache_size=8)
    for _ in range(3):
        cached.encode("entity description")
    assert calls == ["entity description"]
    long_text = "x" * (ENCODE_CACHE_MAX_CHARS + 1)
    cached.encode(long_text)
    cached.encode(long_text)
    assert calls.count(long_text) == 2  # a whole query context is unique: caching it would only hold memory


def test_lightrag_tokenizer_uses_the_cached_offline_encoding() -> None:
    tok = offline_tokenizer()
    assert isinstance(tok.tokenizer, CachedEncoding)
    assert tok.encode("graph retrieval") == tiktoken.get_encoding(OFFLINE_ENCODING).encode("graph retrieval")
