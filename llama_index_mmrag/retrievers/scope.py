"""The scope of a retrieval (modalities, documents, pages, metadata filters), compiled once, honoured by every branch.

A scope is compiled into one Milvus boolean expression by the safe filter compiler. A retriever that can keep
its results inside such an expression derives from :class:`ScopedRetriever`; the composite retriever hands
its scope to every branch through :meth:`ScopedRetriever.narrowed`, so a scope never widens a result set,
whichever branches are fused.

Example:
    >>> scope_expression(modalities=["table"], page_range=(0, 1))
    '(modality is not null and modality in ["table"]) and (page is not null and page >= 0) and (page is not null and page <= 1)'
    >>> both('doc == "a.pdf"', "")
    'doc == "a.pdf"'
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TypeVar

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.vector_stores.types import FilterCondition, FilterOperator, MetadataFilter, MetadataFilters

from llama_index_mmrag.retrievers.arguments import check_docs, check_filters, check_modalities, check_page_range
from llama_index_mmrag.stores.filters import compile_filters

_Self = TypeVar("_Self", bound="ScopedRetriever")


def scope_filters(
    modalities: Sequence[str] | None = None,
    doc: str | Sequence[str] | None = None,
    page_range: tuple[int, int] | None = None,
    filters: MetadataFilters | None = None,
) -> MetadataFilters | None:
    """Combine the common scopes and user filters into one ``MetadataFilters`` (AND).

    Args:
        modalities: Keep only these modalities (``text``, ``image``, ``table``, ``equation``).
        doc: Keep only this document (file name), or these documents.
        page_range: Keep pages ``first..last`` (0-based, inclusive).
        filters: Any further LlamaIndex metadata filters.

    Raises:
        ScopeArgumentError: If a scope argument has the wrong type, is empty (an empty scope selects nothing: it
            is refused, never read as "no filter"), names an unknown modality, or the page range is inverted.
    """
    modalities = check_modalities(modalities)
    doc = check_docs(doc)
    page_range = check_page_range(page_range)
    filters = check_filters(filters)
    parts: list[MetadataFilter | MetadataFilters] = []
    if modalities is not None:
        parts.append(MetadataFilter(key="modality", value=modalities, operator=FilterOperator.IN))
    if doc is not None:
        docs = [doc] if isinstance(doc, str) else doc
        parts.append(MetadataFilter(key="doc", value=docs, operator=FilterOperator.IN))
    if page_range is not None:
        first, last = page_range
        parts.append(MetadataFilter(key="page", value=first, operator=FilterOperator.GTE))
        parts.append(MetadataFilter(key="page", value=last, operator=FilterOperator.LTE))
    if filters is not None:
        parts.append(filters)
    if not parts:
        return None
    return MetadataFilters(filters=parts, condition=FilterCondition.AND)


def scope_expression(
    modalities: Sequence[str] | None = None,
    doc: str | Sequence[str] | None = None,
    page_range: tuple[int, int] | None = None,
    filters: MetadataFilters | None = None,
) -> str:
    """The scope compiled to a Milvus boolean expression (``""`` when nothing is restricted).

    Args:
        modalities: Keep only these modalities.
        doc: Keep only this document, or these documents.
        page_range: Keep pages ``first..last`` (0-based, inclusive).
        filters: Further LlamaIndex metadata filters.

    Raises:
        ScopeArgumentError: For a scope argument of the wrong type or an empty one (see :func:`scope_filters`).
        FilterError: For a filter the compiler refuses (unknown key, wrong value type).
    """
    return compile_filters(scope_filters(modalities, doc, page_range, filters))


def both(outer: str, inner: str) -> str:
    """The AND of two compiled expressions; an empty one restricts nothing.

    Args:
        outer: A compiled expression (``""`` for none).
        inner: Another one.
    """
    return compile_filters(None, extra=[outer, inner])


class ScopedRetriever(BaseRetriever):
    """A retriever whose results stay inside a compiled scope, which a composite can narrow further.

    Subclasses keep their results inside :attr:`filter_expression`; :meth:`narrowed` gives a copy restricted
    further, which is how :class:`~llama_index_mmrag.retrievers.composite.MultimodalCompositeRetriever`
    applies its scope to every branch.

    Args:
        filter_expression: The compiled scope (``""`` for none).
        callback_manager: LlamaIndex callback manager.

    Example:
        >>> from llama_index.core.schema import NodeWithScore, QueryBundle
        >>> class Nothing(ScopedRetriever):
        ...     def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        ...         return []
        >>> Nothing().narrowed(scope_expression(doc="a.pdf")).filter_expression
        'doc is not null and doc in ["a.pdf"]'
    """

    def __init__(self, filter_expression: str = "", callback_manager: CallbackManager | None = None) -> None:
        self._expr = filter_expression
        super().__init__(callback_manager=callback_manager)

    @property
    def filter_expression(self) -> str:
        """The compiled Milvus boolean expression its results stay inside (empty when unrestricted)."""
        return self._expr

    def narrowed(self: _Self, expression: str) -> _Self:
        """A copy of this retriever whose results also stay inside ``expression``.

        Args:
            expression: A compiled scope (see :func:`scope_expression`); ``""`` changes nothing.
        """
        other = copy.copy(self)
        other._expr = both(self._expr, expression)
        return other
