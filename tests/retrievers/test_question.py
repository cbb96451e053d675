"""The one question check every retriever applies: what the search engines get, and the usage error."""

from __future__ import annotations

import pytest
from llama_index.core.schema import QueryBundle

from llama_index_mmrag.graph.keywords import query_keywords
from llama_index_mmrag.retrievers.question import MAX_QUESTION_CHARS, EmptyQuestionError, checked_query, search_text
from tests.support.questions import make_questions

CORPUS = make_questions()


@pytest.mark.parametrize("question", [q for q in CORPUS if q.empty], ids=lambda q: q.label)
def test_a_question_with_nothing_visible_is_a_usage_error_that_says_what_to_do(question) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(EmptyQuestionError) as caught:
        search_text(question.text)
    assert isinstance(caught.value, ValueError)  # the CLI maps ValueError to a usage error (exit 2)
    assert "empty" in str(caught.value) and "ask a question" in str(caught.value)


def test_every_other_question_becomes_text_the_engines_accept() -> None:
    for question in (q for q in CORPUS if not q.empty):
        text = search_text(question.text)
        assert text.strip(), question.label
        text.encode("utf-8")  # no lone surrogate: gRPC and the tokenizers need valid UTF-8
        assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text), question.label  # no NUL or control
        assert len(text) <= MAX_QUESTION_CHARS, question.label


def test_surrogate_pairs_are_joined_and_lone_surrogates_replaced() -> None:
    assert search_text("rocket \ud83d\ude80") == "rocket \U0001f680"
    assert search_text("bad \udcff byte") == "bad \ufffd byte"


def test_checked_query_keeps_a_clean_bundle_and_its_embedding() -> None:
    clean = QueryBundle("What is Milvus?", embedding=[0.1, 0.2])
    assert checked_query(clean) is clean
    cleaned = checked_query(QueryBundle("What\x00is Milvus?", embedding=[0.1, 0.2]))
    assert cleaned.query_str == "What is Milvus?" and cleaned.embedding == [0.1, 0.2]


def test_query_keywords_are_both_present_or_both_absent_for_every_question() -> None:
    """LightRAG asks its LLM for keywords when it is given none: the offline graph branch must know which."""
    for question in (q for q in CORPUS if not q.empty):
        high, low = query_keywords(search_text(question.text))
        assert bool(high) == bool(low), question.label
        assert all(isinstance(k, str) and k.strip() for k in high + low), question.label
