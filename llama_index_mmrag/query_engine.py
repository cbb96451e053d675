"""MultimodalQueryEngine: a ``RetrieverQueryEngine`` that checks the question once, before anything reads it.

A query engine hands the question to its retriever, then to every postprocessor (which may embed it) and to the
synthesizer (which may send it to an LLM service). The retrievers check the question they search with
(:func:`~llama_index_mmrag.retrievers.question.checked_query`), but the postprocessors and the synthesizer are
given the engine's own bundle: a lone surrogate or a NUL in it fails in an embedding tokenizer or an HTTP client.
This engine checks it at its entry, so every stage reads the same clean question, and an empty one is refused
before any work with :class:`~llama_index_mmrag.retrievers.question.EmptyQuestionError`.

Example:
    >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
    >>> engine = MultimodalQueryEngine(rag.as_retriever(), response_synthesizer=ExtractiveSynthesizer())
    >>> print(engine.query("What does the architecture diagram show?"))
    Image; Text in the image: Milvus Architecture; ... [milvus_architecture.png, p.1, image]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llama_index.core.base.response.schema import RESPONSE_TYPE
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.synthesis import answer_synthesizer

if TYPE_CHECKING:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.llms import LLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor

__all__ = ["MultimodalQueryEngine", "build_query_engine"]


class MultimodalQueryEngine(RetrieverQueryEngine):
    """``RetrieverQueryEngine`` whose retriever, postprocessors and synthesizer all get the checked question.

    It takes ``RetrieverQueryEngine``'s arguments (``retriever``, ``response_synthesizer``,
    ``node_postprocessors``, ``callback_manager``).

    Example:
        >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
        >>> floor = rag.relevance_floor()
        >>> engine = MultimodalQueryEngine(
        ...     rag.as_retriever(), node_postprocessors=[floor], response_synthesizer=ExtractiveSynthesizer())
        >>> engine.query("   ")
        Traceback (most recent call last):
        llama_index_mmrag.retrievers.question.EmptyQuestionError: the question is empty (it has no visible characters); ...
    """

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return super().retrieve(checked_query(query_bundle))

    async def aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await super().aretrieve(checked_query(query_bundle))

    def _query(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return super()._query(checked_query(query_bundle))

    async def _aquery(self, query_bundle: QueryBundle) -> RESPONSE_TYPE:
        return await super()._aquery(checked_query(query_bundle))


def build_query_engine(
    retriever: BaseRetriever,
    node_postprocessors: Sequence[BaseNodePostprocessor],
    *,
    llm: LLM | None = None,
    vlm: LLM | None = None,
    multimodal: bool = False,
    relevance_floor: BaseNodePostprocessor | None = None,
) -> MultimodalQueryEngine:
    """The facade's engine: the relevance floor first, then ``node_postprocessors``, then the answer synthesizer
    (:func:`~llama_index_mmrag.synthesis.answer_synthesizer`: the VLM, the LLM, or extractive answers).

    Args:
        retriever: What retrieves the nodes.
        node_postprocessors: Applied after the relevance floor, in order.
        llm: The answering LLM (``None``: extractive answers with citations).
        vlm: The multimodal LLM retrieved images are sent to when ``multimodal``.
        multimodal: Send retrieved images to the ``vlm``.
        relevance_floor: The postprocessor that passes no node when none is about the question (``None``: off).

    Example:
        >>> engine = build_query_engine(rag.as_retriever(), [], relevance_floor=rag.relevance_floor())
        >>> print(engine.query("What is the capital of Mongolia?"))
        No evidence ...
    """
    postprocessors = [relevance_floor] if relevance_floor is not None else []
    return MultimodalQueryEngine(
        retriever=retriever,
        response_synthesizer=answer_synthesizer(llm, vlm, multimodal),
        node_postprocessors=[*postprocessors, *node_postprocessors],
    )
