"""Answers without an LLM: an extractive answer built from the top evidence, with citations.

Example:
    >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
    >>> engine = RetrieverQueryEngine(retriever, response_synthesizer=ExtractiveSynthesizer())  # doctest: +SKIP
    >>> print(engine.query("Does Milvus support simultaneous insertion and search?"))           # doctest: +SKIP
    Yes, Milvus supports ... [milvus_faq.txt, p.0, text]
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle
from llama_index.core.settings import Settings

_MODAL_UNIT_CHARS = 400
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-']*|[^\W\d_A-Za-z]", re.UNICODE)
STOP_WORDS = frozenset(
    """a an and are as at be by can could do does did for from has have how i in is it its of on or
    that the their there these this to was were what when where which who why will with would you your
    me my we our they them than then so if not no yes about into over under all any each more most other
    some such only own same too very s t just should now also per via""".split()
)


def content_terms(text: str) -> list[str]:
    """Lower-cased words of a text without stop words (the terms an answer should share with a question).

    Args:
        text: Any text.
    """
    return [w for w in (t.lower() for t in _WORD.findall(text)) if w not in STOP_WORDS and len(w) > 1]


def citation(node_with_score: NodeWithScore) -> str:
    """Return ``[doc, p.N, modality]`` for a node (``p.?`` where the page is unknown).

    Args:
        node_with_score: A retrieved node.
    """
    meta = node_with_score.node.metadata
    page = meta.get("page")
    return f"[{meta.get('doc', '?')}, p.{page if page is not None else '?'}, {meta.get('modality', 'text')}]"


def _sentences(text: str) -> list[str]:
    """Statements of a text; questions are evidence of nothing, a short lead-in ("Yes.") joins its sentence."""
    parts = [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
    merged: list[str] = []
    for part in parts:
        if merged and len(merged[-1].split()) <= 2 and not merged[-1].endswith("?"):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    return [s for s in merged if not s.endswith("?") and len(s) > 2]


def _evidence_units(nws: NodeWithScore) -> list[str]:
    """Sentences of a text node; an image, table or equation node is one unit (its description, one line)."""
    text = nws.node.get_content(metadata_mode=MetadataMode.NONE)
    if nws.node.metadata.get("modality", "text") == "text":
        return _sentences(text)
    compact = "; ".join(line.strip() for line in text.splitlines() if line.strip())
    return [compact[:_MODAL_UNIT_CHARS]] if compact else []


def extractive_answer(query: str, nodes: Sequence[NodeWithScore], max_sentences: int = 3, max_nodes: int = 5) -> str | None:
    """Pick the sentences of the top nodes that best match the question, each with its citation.

    Sentences are scored by the IDF-weighted question terms they contain, with a small prior for the
    rank of their node, and returned in score order.

    Args:
        query: The question.
        nodes: Retrieved nodes, best first.
        max_sentences: How many sentences the answer holds at most.
        max_nodes: How many of the top nodes are read.

    Returns:
        The answer, or ``None`` when there is no evidence at all.
    """
    candidates: list[tuple[str, int, NodeWithScore]] = []
    for rank, nws in enumerate(nodes[:max_nodes]):
        for sentence in _evidence_units(nws):
            candidates.append((sentence, rank, nws))
    if not candidates:
        return None
    query_terms = set(content_terms(query))
    doc_freq = Counter(term for sentence, _, _ in candidates for term in set(content_terms(sentence)))
    total = len(candidates)

    def score(item: tuple[str, int, NodeWithScore]) -> float:
        sentence, rank, _ = item
        terms = set(content_terms(sentence))
        overlap = sum(math.log(1 + total / doc_freq[t]) for t in terms & query_terms)
        return overlap + 0.5 / (1 + rank)

    ranked = sorted(candidates, key=score, reverse=True)
    chosen = [item for item in ranked if set(content_terms(item[0])) & query_terms][:max_sentences] or ranked[:1]
    return " ".join(f"{sentence} {citation(nws)}" for sentence, _, nws in chosen)


class ExtractiveSynthesizer(BaseSynthesizer):
    """A response synthesizer that needs no LLM: it quotes the best-matching evidence, with citations.

    It never touches ``Settings.llm`` (whose default asks for an OpenAI key), so a query engine built on
    it works with no API key and no network.

    Args:
        max_sentences: How many sentences the answer holds at most.
        max_nodes: How many of the top nodes are read.
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> from llama_index.core.query_engine import RetrieverQueryEngine
        >>> engine = RetrieverQueryEngine(retriever, response_synthesizer=ExtractiveSynthesizer())  # doctest: +SKIP
    """

    def __init__(self, max_sentences: int = 3, max_nodes: int = 5, callback_manager: CallbackManager | None = None) -> None:
        # BaseSynthesizer.__init__ resolves Settings.llm, which defaults to OpenAI: set its state directly.
        self._llm = None  # type: ignore[assignment]
        self._callback_manager = callback_manager or Settings.callback_manager
        self._streaming = False
        self._output_cls = None
        self._empty_response = "No evidence was found for this question."
        self._multimodal = False
        self.max_sentences = max_sentences
        self.max_nodes = max_nodes

    def _get_prompts(self) -> dict[str, Any]:
        return {}

    def _update_prompts(self, prompts_dict: dict[str, Any]) -> None:
        return None

    def get_response(self, query_str: str, text_chunks: Sequence[str], **_: Any) -> str:
        """Answer from bare text chunks (no provenance, so no citations)."""
        from llama_index.core.schema import TextNode

        nodes = [NodeWithScore(node=TextNode(text=t), score=None) for t in text_chunks]
        return extractive_answer(query_str, nodes, self.max_sentences, self.max_nodes) or self._empty_response

    async def aget_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        """Async twin of :meth:`get_response` (pure CPU work, no I/O)."""
        return self.get_response(query_str, text_chunks, **kwargs)

    def synthesize(
        self,
        query: QueryBundle | str,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
        **_: Any,
    ) -> Response:
        """Build the extractive answer from retrieved nodes; the nodes become the response's sources."""
        query_str = query.query_str if isinstance(query, QueryBundle) else query
        answer = extractive_answer(query_str, nodes, self.max_sentences, self.max_nodes)
        sources = list(nodes) + list(additional_source_nodes or [])
        return Response(response=answer or self._empty_response, source_nodes=sources, metadata={"extractive": True})

    async def asynthesize(
        self,
        query: QueryBundle | str,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
        **kwargs: Any,
    ) -> Response:
        """Async twin of :meth:`synthesize` (pure CPU work, no I/O)."""
        return self.synthesize(query, nodes, additional_source_nodes, **kwargs)
