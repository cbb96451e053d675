"""Answers without an LLM: an extractive answer built from the top evidence, with citations.

Example:
    >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
    >>> from llama_index.core.query_engine import RetrieverQueryEngine
    >>> engine = RetrieverQueryEngine(rag.as_retriever(), response_synthesizer=ExtractiveSynthesizer())
    >>> print(engine.query("Does Milvus support simultaneous insertion and search?"))
    Yes. Milvus supports simultaneous insertion and search: ... [milvus_faq.txt, p.1, text] ...
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import zip_longest
from typing import Any

from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.response_synthesizers.base import BaseSynthesizer
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.settings import Settings

from llama_index_mmrag.schema.identity import shown_location
from llama_index_mmrag.schema.tables import table_rows

NO_EVIDENCE = "No evidence was found for this question."
"""What a query engine answers when no retrieved evidence is about the question."""
_MODAL_UNIT_CHARS = 400
_SHAPE_LINE = re.compile(r"^\d+ rows x \d+ columns$")
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
    """Return ``[doc, p.N, modality]`` for a node, with the page counted from 1 as people count pages (stored
    ``page`` 35 is ``p.36``, the 36th page); ``p.?`` where the page is unknown. A node of an audio or video file
    names its time instead: ``[talk.mp4, 12:31, image]``.

    Args:
        node_with_score: A retrieved node.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> citation(NodeWithScore(node=TextNode(text="x", metadata={"doc": "r.pdf", "page": 35, "modality": "table"})))
        '[r.pdf, p.36, table]'
        >>> citation(NodeWithScore(node=TextNode(text="x", metadata={"doc": "talk.mp4", "page": None, "start_s": 751.4,
        ...                                                           "end_s": 790.0, "modality": "text"})))
        '[talk.mp4, 12:31, text]'
    """
    meta = node_with_score.node.metadata
    where = shown_location(meta.get("page"), meta.get("start_s"))
    return f"[{meta.get('doc', '?')}, {where}, {meta.get('modality', 'text')}]"


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


def _pieces(nws: NodeWithScore) -> list[tuple[str, str]]:
    """``(modality, text)`` of each chunk a node carries: one for a chunk, one per chunk for a page node."""
    node = nws.node
    text = node.get_content(metadata_mode=MetadataMode.NONE)
    meta = node.metadata
    spans, modalities = meta.get("chunk_spans"), meta.get("modalities")
    if isinstance(spans, list) and isinstance(modalities, list) and spans and len(spans) == len(modalities):
        if all(
            isinstance(span, (list, tuple)) and len(span) == 2 and all(isinstance(i, int) for i in span)
            and 0 <= span[0] <= span[1] <= len(text)
            for span in spans
        ):
            return [(str(m), text[a:b]) for (a, b), m in zip(spans, modalities)]
    modality = str(meta.get("modality", "text"))
    body = meta.get("table_body")
    if modality == "table" and isinstance(body, str) and body.strip() and body.strip() not in text:
        text = f"{text}\n{body.strip()}"
    return [(modality, text)]


def _table_caption(text: str) -> str:
    """The first line of a table's text that is neither a row nor the offline description's shape lines."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("|") or line.lower().startswith(("<table", "<tr", "columns:")) or _SHAPE_LINE.match(line):
            continue
        caption = re.sub(r"^table:\s*", "", line, flags=re.IGNORECASE)
        return caption if caption.lower() != "table" else ""
    return ""


def table_units(text: str) -> list[str]:
    """One quotable unit per data row of a table, each with its header: ``caption — Col: cell; Col: cell``.

    A question is answered by a cell, and a cell means nothing without its row and column; a table that
    cannot be read as rows is one unit (its text on one line).

    Args:
        text: A table node's text (caption, markdown or HTML body, footnotes).

    Example:
        >>> table_units("Table 1: Volume\\n| Region | Q1 |\\n|---|---|\\n| North | 120 |")
        ['Table 1: Volume — Region: North; Q1: 120']
    """
    rows = table_rows(text)
    if len(rows) < 2:
        compact = "; ".join(line.strip() for line in text.splitlines() if line.strip())
        return [compact[:_MODAL_UNIT_CHARS]] if compact else []
    header, caption = rows[0], _table_caption(text)
    units: list[str] = []
    for row in rows[1:]:
        cells = [f"{name}: {cell}" if name else cell for name, cell in zip_longest(header, row, fillvalue="") if cell]
        if cells:
            line = "; ".join(cells)
            units.append(f"{caption} — {line}" if caption else line)
    return units


def _evidence_units(nws: NodeWithScore) -> list[tuple[str, str]]:
    """``(unit, modality)`` pairs: sentences of text, one row of a table (with its header) per unit, an image
    or equation as one unit (its description, one line); a page node gives the units of each chunk it carries."""
    units: list[tuple[str, str]] = []
    for modality, text in _pieces(nws):
        if modality == "text":
            units.extend((sentence, modality) for sentence in _sentences(text))
        elif modality == "table":
            units.extend((unit, modality) for unit in table_units(text))
        else:
            compact = "; ".join(line.strip() for line in text.splitlines() if line.strip())
            if compact:
                units.append((compact[:_MODAL_UNIT_CHARS], modality))
    return units


def _cite(nws: NodeWithScore, modality: str) -> str:
    """The citation of a unit: its node's, with the modality of the chunk the unit came from."""
    if str(nws.node.metadata.get("modality", "text")) == modality:
        return citation(nws)
    return citation(NodeWithScore(node=TextNode(text="", metadata={**nws.node.metadata, "modality": modality}), score=nws.score))


def extractive_answer(query: str, nodes: Sequence[NodeWithScore], max_sentences: int = 3, max_nodes: int = 5) -> str | None:
    """Pick the sentences (or table rows) of the top nodes that best match the question, each with its citation.

    Units (see :func:`_evidence_units`: sentences, table rows with their header, modal descriptions; every
    chunk a page node carries) are scored by the IDF-weighted question terms they contain, with a small
    prior for the rank of their node, and returned in score order.

    Args:
        query: The question.
        nodes: Retrieved nodes, best first.
        max_sentences: How many sentences the answer holds at most.
        max_nodes: How many of the top nodes are read.

    Returns:
        The answer, or ``None`` when there is no evidence at all.
    """
    candidates: list[tuple[str, int, NodeWithScore, str]] = []
    for rank, nws in enumerate(nodes[:max_nodes]):
        for unit, modality in _evidence_units(nws):
            candidates.append((unit, rank, nws, modality))
    if not candidates:
        return None
    query_terms = set(content_terms(query))
    doc_freq = Counter(term for unit, _, _, _ in candidates for term in set(content_terms(unit)))
    total = len(candidates)

    def score(item: tuple[str, int, NodeWithScore, str]) -> float:
        unit, rank, _, _ = item
        terms = set(content_terms(unit))
        overlap = sum(math.log(1 + total / doc_freq[t]) for t in terms & query_terms)
        return overlap + 0.5 / (1 + rank)

    ranked = sorted(candidates, key=score, reverse=True)
    chosen = [item for item in ranked if set(content_terms(item[0])) & query_terms][:max_sentences] or ranked[:1]
    return " ".join(f"{unit} {_cite(nws, modality)}" for unit, _, nws, modality in chosen)


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
        >>> engine = RetrieverQueryEngine(rag.as_retriever(), response_synthesizer=ExtractiveSynthesizer())
        >>> engine.query("What is a hybrid search?").response  # the stored sentences that answer, cited
        '...A hybrid search runs a dense search and a BM25 search at the same time... [milvus_faq.txt, p.1, text]...'
    """

    def __init__(self, max_sentences: int = 3, max_nodes: int = 5, callback_manager: CallbackManager | None = None) -> None:
        # BaseSynthesizer.__init__ resolves Settings.llm, which defaults to OpenAI: set its state directly.
        self._llm = None  # type: ignore[assignment]
        self._callback_manager = callback_manager or Settings.callback_manager
        self._streaming = False
        self._output_cls = None
        self._empty_response = NO_EVIDENCE
        self._multimodal = False
        self.max_sentences = max_sentences
        self.max_nodes = max_nodes

    def _get_prompts(self) -> dict[str, Any]:
        return {}

    def _update_prompts(self, prompts_dict: dict[str, Any]) -> None:
        return None

    def get_response(self, query_str: str, text_chunks: Sequence[str], **_: Any) -> str:
        """Answer from bare text chunks (no provenance, so no citations)."""
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


def answer_synthesizer(llm: Any = None, vlm: Any = None, multimodal: bool = False) -> BaseSynthesizer:
    """The synthesizer that writes answers: the ``vlm`` over retrieved images (``multimodal``), else the ``llm``,
    else :class:`ExtractiveSynthesizer` (never LlamaIndex's default OpenAI LLM). With no node left (none above
    the relevance floor) each says :data:`NO_EVIDENCE`.

    Args:
        llm: A LlamaIndex LLM, or ``None``.
        vlm: A multimodal LlamaIndex LLM, or ``None``.
        multimodal: Hand retrieved images to the ``vlm`` when there is one, in one call per answer (the pictures
            the image postprocessor attached, at most its ``max_images``; the text cut to the model's window).

    Example:
        >>> type(answer_synthesizer()).__name__, answer_synthesizer()._empty_response == NO_EVIDENCE
        ('ExtractiveSynthesizer', True)
    """
    from llama_index.core.response_synthesizers import ResponseMode, get_response_synthesizer

    if multimodal and vlm is not None:  # one call per answer: every node's text and pictures in one message list
        synthesizer: Any = get_response_synthesizer(llm=vlm, multimodal=True, response_mode=ResponseMode.SIMPLE_SUMMARIZE)
    elif llm is not None:
        synthesizer = get_response_synthesizer(llm=llm)
    else:
        synthesizer = ExtractiveSynthesizer()
    # LlamaIndex's factory has no argument for the empty response, and its default says "Empty Response"
    synthesizer._empty_response = NO_EVIDENCE
    return synthesizer  # type: ignore[no-any-return]
