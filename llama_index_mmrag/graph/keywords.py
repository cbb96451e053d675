"""Query keywords for LightRAG without an LLM.

LightRAG asks its LLM for two keyword lists per question unless ``QueryParam(hl_keywords=..., ll_keywords=...)``
is given: *low-level* keywords (specific entities; matched against the entity vectors in ``local``/``hybrid``/
``mix`` modes) and *high-level* keywords (themes; matched against relationship vectors in ``global``/``hybrid``/
``mix`` modes). This module computes both with the same rules the LLM-free graph extractor
(:mod:`llama_index_mmrag.graph.extract`) names entities with, so a question's keywords look like the graph's
node names. They serve on every path, a graph built by an LLM included (keywords are matched to entity and
relation vectors by similarity), so retrieval calls no LLM; the ``graph_llm_keywords`` setting hands them to
LightRAG's LLM instead.
"""

from __future__ import annotations

from llama_index_mmrag.graph.extract import (
    GENERIC_NOUNS,
    QUESTION_WORDS,
    STOP_WORDS,
    VERB_WORDS,
    analyze_text,
    normalize_entity_name,
    split_sentences,
)

__all__ = ["query_keywords"]

_MAX_LOW_LEVEL = 10
_MAX_HIGH_LEVEL = 5
_SKIP = STOP_WORDS | QUESTION_WORDS


def _content_words(question: str) -> list[str]:
    """The question's words minus function and question words, in order, case-folded."""
    words: list[str] = []
    for sentence in split_sentences(question):
        for raw in sentence.split():
            word = normalize_entity_name(raw)
            if len(word) > 1 and word not in _SKIP and any(c.isalnum() for c in word):
                words.append(word)
    return words


def _add(values: list[str], value: str, limit: int) -> None:
    if value and value not in values and len(values) < limit:
        values.append(value)


def query_keywords(question: str) -> tuple[list[str], list[str]]:
    """Return ``(high_level, low_level)`` keywords for a question, without an LLM.

    - low level: the named things, acronyms, years, quantities and key phrases the question mentions, named
      like graph entities (case-folded, plural-normalised), in order of appearance;
    - high level: the question's theme (its content words, in order) followed by its multi-word phrases.

    Both lists are non-empty whenever the question has a content word, so every LightRAG mode has something
    to search with; both are empty for an empty question.

    Args:
        question: The user's question.

    Returns:
        ``(hl_keywords, ll_keywords)``, ready for ``QueryParam(hl_keywords=hl, ll_keywords=ll)``.

    Example:
        >>> hl, ll = query_keywords("How does Milvus store vectors in object storage?")
        >>> ll
        ['milvus', 'vector', 'object storage']
        >>> hl
        ['milvus store vectors object storage', 'object storage']
    """
    content = _content_words(question)
    if not content:
        return [], []
    analysis = analyze_text(question, question=True)
    ordered = sorted(analysis.found.items(), key=lambda item: item[1].first)
    low: list[str] = []
    phrases: list[str] = []
    for name, found in ordered:
        if name in QUESTION_WORDS or name in GENERIC_NOUNS and found.entity_type == "CONCEPT":
            continue
        _add(low, name, _MAX_LOW_LEVEL)
        if found.entity_type == "CONCEPT" and " " in name:
            phrases.append(name)
    if not low:
        for word in content:
            if word not in VERB_WORDS:
                _add(low, word, _MAX_LOW_LEVEL)
        if not low:
            low = content[:_MAX_LOW_LEVEL]
    high: list[str] = []
    _add(high, " ".join(content), _MAX_HIGH_LEVEL)
    for phrase in phrases:
        _add(high, phrase, _MAX_HIGH_LEVEL)
    return high, low
