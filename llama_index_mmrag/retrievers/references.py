"""ReferenceRetriever: the pages, figures and tables a question names, searched within what it names.

Questions about documents often say where to look: "on page 17", "pages 3 to 10", "p. 4", "slide 12", "the
second page", "Figure 3", "Table 2". Semantic search alone ranks such a page by its words, which rarely repeat "page 17".
This retriever reads those references from the question (no model involved) and searches only there: the
named pages through a page filter, the named figures and tables through a filter on the captions that name them
(found however far the caption's words are from the question's) and among the nearest nodes whose text names
them. Without a reference it returns nothing, so fused with the other retrievers it changes nothing.

"Page 3" is read both ways, in one search: as the page printed 3 (the nodes whose ``page_label`` is ``"3"``, see
:mod:`llama_index_mmrag.parsing.pdf.page_labels`) and as the physical page 3 (index 2). Within a document that
prints a 3, that page comes first (:func:`printed_first`); a document without labels gets its physical page, as
before; across documents each keeps the place the search gave it. Ordinals ("the second page") count physical
pages only.

Example:
    >>> find_references("What is the word in the orange box on page 17?").pages
    (16,)
    >>> find_references("What is on pages 3 to 5 and the first page?").labels
    ('3', '4', '5')
    >>> find_references("How many subfigures are in Figure 3 and Table 2?").items
    (('figure', '3'), ('table', '2'))
    >>> find_references("What does the map show?").empty
    True
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from llama_index.core.schema import NodeWithScore, QueryBundle
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)

from llama_index_mmrag.stores.filters import compile_filters
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.retrievers.question import checked_query
from llama_index_mmrag.retrievers.scope import both

MAX_PAGES = 30
"""Most pages one question may name (a wider range is not a place to look)."""

ITEM_POOL_FACTOR = 5
"""Candidates searched per returned node when looking for named figures and tables among them."""

CAPTION_FIGURE_SPELLINGS = ("Figure", "Fig.", "Fig", "FIGURE", "FIG.", "figure", "fig.")
"""How captions write "figure" before its number (Milvus's ``like`` is case-sensitive)."""

CAPTION_TABLE_SPELLINGS = ("Table", "Tab.", "TABLE", "table")
"""How captions write "table" before its number."""

MAX_PINNED_LABELS = 2
"""Most printed page numbers a question may name for their pages to be pinned first ("page 15 and page 16"); a
longer list or a range names a region to search, not pages to put first."""

_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
    "sixth": 6, "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10,
}
_NUMBER = r"(\d{1,4})"
_PAGE_WORD = r"(?:pages?|pp?\.|pgs?\b\.?|slides?)\s*(?:no\.|number|#)?"
"""How a question says page: "page", "pages", "p.", "pp.", "pg", "pg.", and "slide" in a deck (one page per slide),
optionally followed by "no.", "number" or "#"."""
_PAGE_RANGE = re.compile(
    rf"\b{_PAGE_WORD}\s*{_NUMBER}\s*(?:-|–|—|to|through|until)\s*(?:{_PAGE_WORD}\s*)?{_NUMBER}\b", re.I
)
_PAGE_LIST = re.compile(
    rf"\b{_PAGE_WORD}\s*{_NUMBER}((?:\s*(?:,|and|&|or)\s*(?:{_PAGE_WORD}\s*)?\d{{1,4}}\b)*)", re.I
)
_ORDINAL_PAGE = re.compile(rf"\b({'|'.join(_ORDINALS)})\s+(?:[a-z]+\s+)?(?:page|slide)\b", re.I)
_ITEM = re.compile(r"\b(fig(?:ure)?s?\.?|tables?|tab\.)\s*(\d{1,3}(?:\.\d{1,2})?)((?:\s*(?:,|and|&)\s*\d{1,3}\b)*)", re.I)


@dataclass(frozen=True)
class QuestionReferences:
    """What a question points at.

    Args:
        pages: 0-based page indexes ("page 17" is index 16).
        items: ``(kind, number)`` pairs, ``kind`` being ``figure`` or ``table``.
        labels: The printed page labels the question names ("page 17" is the page labelled ``"17"``); ordinals
            ("the second page") name none.

    Example:
        >>> find_references("What does Table 2 on page 17 show?")
        QuestionReferences(pages=(16,), items=(('table', '2'),), labels=('17',))
        >>> find_references("What is Milvus?").empty
        True
    """

    pages: tuple[int, ...] = ()
    items: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """Whether the question names no page, figure or table."""
        return not self.pages and not self.items


def _numbers(first: str, rest: str) -> list[int]:
    return [int(first), *(int(n) for n in re.findall(r"\d{1,4}", rest or ""))]


def find_references(question: str) -> QuestionReferences:
    """Read the pages, figures and tables a question names.

    Page numbers are read as 1-based (the way people count pages) and returned 0-based, as stored; the numbers
    as written are also returned as printed page labels (``labels``).

    Args:
        question: The question.
    """
    pages: list[int] = []
    for match in _PAGE_RANGE.finditer(question):
        first, last = sorted((int(match.group(1)), int(match.group(2))))
        if last - first < MAX_PAGES:
            pages.extend(range(first, last + 1))
    spans = [m.span() for m in _PAGE_RANGE.finditer(question)]
    for match in _PAGE_LIST.finditer(question):
        if not any(start <= match.start() < end for start, end in spans):
            pages.extend(_numbers(match.group(1), match.group(2)))
    labels = sorted({p for p in pages if p >= 1})[:MAX_PAGES]
    pages.extend(_ORDINALS[m.group(1).lower()] for m in _ORDINAL_PAGE.finditer(question))
    items: list[tuple[str, str]] = []
    for match in _ITEM.finditer(question):
        kind = "table" if match.group(1).lower().startswith("tab") else "figure"
        for number in [match.group(2), *re.findall(r"\d{1,3}", match.group(3) or "")]:
            if (kind, number) not in items:
                items.append((kind, number))
    unique_pages = tuple(sorted({p - 1 for p in pages if p >= 1}))[:MAX_PAGES]
    return QuestionReferences(pages=unique_pages, items=tuple(items), labels=tuple(str(p) for p in labels))


def item_pattern(kind: str, number: str) -> re.Pattern[str]:
    """How a text names one figure or table ("Figure 3", "Fig. 3", "Table 2"; not "Figure 31" or "Table 2.1").

    Args:
        kind: ``"figure"`` or ``"table"``.
        number: The item's number as the question wrote it.
    """
    label = r"fig(?:ure)?\.?" if kind == "figure" else r"tab(?:le)?\.?"
    return re.compile(rf"\b{label}\s*{re.escape(number)}(?!\d|\.\d)", re.I)


def pinned_items(question: str, nodes: Sequence[NodeWithScore]) -> list[NodeWithScore]:
    """The results a question's named figures and tables pin first: for each item it names, the node whose caption
    names it, where every caption among ``nodes`` that names it is on one page and every node that names it, by
    caption or text, is in one document.

    A caption is where an item is, and text only mentions it; but reciprocal-rank fusion scores a caption that
    one branch found (1/61) below a paragraph that mentions the item and that two branches found, so the
    composite puts these nodes first. "Figure 3" names one item only inside one document: an item named on
    several pages' captions, or in several documents (each paper's "Figure 3", searched across documents),
    pins nothing.

    Args:
        question: The question.
        nodes: Ranked results, best first (the reference search's own).

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> def hit(i, page, caption=""):
        ...     return NodeWithScore(node=TextNode(id_=i, text="", metadata={"doc": "a.pdf", "page": page, "caption": caption}))
        >>> found = [hit("text", 6), hit("fig", 7, "Figure 3: Accuracy by model size")]
        >>> [n.node.node_id for n in pinned_items("How many subfigures are in Figure 3?", found)]
        ['fig']
        >>> pinned_items("What does Figure 3 show?", [*found, hit("other", 9, "Figure 3: Loss")])  # two pages
        []
    """
    pinned: list[NodeWithScore] = []
    for kind, number in find_references(question).items:
        pattern = item_pattern(kind, number)
        naming = [(nws, _names_item(nws, pattern)) for nws in nodes]
        captioned = [nws for nws, strength in naming if strength == 2]
        pages = {(nws.node.metadata.get("doc"), nws.node.metadata.get("page")) for nws in captioned}
        docs = {nws.node.metadata.get("doc") for nws, strength in naming if strength is not None}
        if len(pages) == 1 and len(docs) == 1:
            pinned.append(captioned[0])
    return pinned


def pinned_labels(question: str, nodes: Sequence[NodeWithScore]) -> list[NodeWithScore]:
    """The results a question's printed page numbers pin first: for each number it names (at most
    :data:`MAX_PINNED_LABELS`), the best-ranked node whose ``page_label`` is that number, where every such node
    among ``nodes`` is on one page of one document and that page is not the physical page of the number (where
    the two readings agree, there is nothing to settle, and the ranking is as without labels).

    Reciprocal-rank fusion scores the page printed 3 (first in the reference search) and the physical page 3
    (next) almost alike (1/61 against 1/62), so the other branches would decide between them; the page the
    document itself calls 3 comes first, and the physical page keeps its place among the rest. "Page 3" across
    several labelled documents names no one page, and pins nothing.

    Args:
        question: The question.
        nodes: Ranked results, best first (the reference search's own).

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> def hit(i, page, label=None):
        ...     meta = {"doc": "a.pdf", "page": page} | ({"page_label": label} if label else {})
        ...     return NodeWithScore(node=TextNode(id_=i, text="", metadata=meta))
        >>> [n.node.node_id for n in pinned_labels("What is on page 3?", [hit("p2", 2, "i"), hit("p5", 5, "3")])]
        ['p5']
        >>> pinned_labels("What is on pages 3 to 5?", [hit("p5", 5, "3")])  # a range: nothing pinned
        []
        >>> pinned_labels("What is on page 3?", [hit("p2", 2, "3")])  # printed 3 is the physical page 3
        []
    """
    labels = find_references(question).labels
    if len(labels) > MAX_PINNED_LABELS:
        return []
    pinned: list[NodeWithScore] = []
    for label in labels:
        matching = [nws for nws in nodes if nws.node.metadata.get("page_label") == label]
        pages = {(nws.node.metadata.get("doc"), nws.node.metadata.get("page")) for nws in matching}
        if len(pages) == 1 and matching[0].node.metadata.get("page") != int(label) - 1:
            pinned.append(matching[0])
    return pinned


def printed_first(nodes: Sequence[NodeWithScore], labels: Sequence[str]) -> list[NodeWithScore]:
    """Order one search over the named pages (physical pages and printed labels together): in a document with a
    page printed with a named number, that page's nodes take the document's best places and its other nodes
    follow; the documents keep the places the search gave them, so across documents a printed number in one
    report does not push another document's physical page down ("page 42" of a slide deck).

    Args:
        nodes: The nodes on the named physical pages or with a named ``page_label``, best first.
        labels: The printed page numbers the question names.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> def hit(i, doc, page, label=None):
        ...     meta = {"doc": doc, "page": page} | ({"page_label": label} if label else {})
        ...     return NodeWithScore(node=TextNode(id_=i, text="", metadata=meta))
        >>> found = [hit("a2", "a.pdf", 2, "i"), hit("b2", "b.pdf", 2), hit("a5", "a.pdf", 5, "3")]
        >>> [n.node.node_id for n in printed_first(found, ["3"])]
        ['a5', 'b2', 'a2']
        >>> [n.node.node_id for n in printed_first(found, [])]  # no printed number named: as searched
        ['a2', 'b2', 'a5']
    """
    wanted = set(labels)
    labelled_docs = {nws.node.metadata.get("doc") for nws in nodes if nws.node.metadata.get("page_label") in wanted}
    if not labelled_docs:
        return list(nodes)
    ordered: dict[object, list[NodeWithScore]] = {}
    for nws in nodes:
        doc = nws.node.metadata.get("doc")
        if doc in labelled_docs:
            ordered.setdefault(doc, []).append(nws)
    for doc, own in ordered.items():
        own.sort(key=lambda nws: nws.node.metadata.get("page_label") not in wanted)  # stable: printed ones first
    places = {doc: iter(own) for doc, own in ordered.items()}
    result: list[NodeWithScore] = []
    for nws in nodes:
        doc = nws.node.metadata.get("doc")
        result.append(next(places[doc]) if doc in places else nws)
    return result


def _names_item(nws: NodeWithScore, pattern: re.Pattern[str]) -> int | None:
    """2 if the node's caption names the item, 1 if its text does, ``None`` if neither."""
    meta = nws.node.metadata
    if pattern.search(str(meta.get("caption") or "")):
        return 2
    if pattern.search(nws.node.get_content()):
        return 1
    return None


class ReferenceRetriever(MilvusModalRetriever):
    """Searches the pages, figures and tables a question names, inside its scope.

    It takes :class:`MilvusModalRetriever`'s arguments and scope (modalities, doc, page range, filters,
    compiled the same way); the named pages narrow that scope further, so it never widens a result set. The
    pages printed with the named numbers (``page_label``) come first, then the pages at those physical indexes.

    Example:
        >>> r = ReferenceRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10, doc="milvus_faq.txt")
        >>> {(n.metadata["doc"], n.metadata["page"]) for n in r.retrieve("What is on the first page?")}
        {('milvus_faq.txt', 0)}
        >>> r.retrieve("What does the map show?")  # names no page, figure or table: nothing to add
        []
    """

    def pinned(self, question: str, nodes: Sequence[NodeWithScore]) -> list[NodeWithScore]:
        """The results of ``nodes`` (this retriever's answer to ``question``) that a composite puts first: the
        captions of the figures and tables it names (:func:`pinned_items`), then the pages printed with the
        numbers it names (:func:`pinned_labels`).

        Args:
            question: The question.
            nodes: What :meth:`retrieve` returned for it.
        """
        pins = pinned_items(question, nodes)
        ids = {nws.node.node_id for nws in pins}
        return pins + [nws for nws in pinned_labels(question, nodes) if nws.node.node_id not in ids]

    def _page_expr(self, refs: QuestionReferences) -> str:
        """The scope narrowed to the named pages: the physical pages, or the pages printed with the named numbers."""
        named: list[MetadataFilter] = [MetadataFilter(key="page", value=list(refs.pages), operator=FilterOperator.IN)]
        if refs.labels:
            named.append(MetadataFilter(key="page_label", value=list(refs.labels), operator=FilterOperator.IN))
        return both(self.filter_expression, compile_filters(MetadataFilters(filters=named, condition=FilterCondition.OR)))

    def _caption_expr(self, items: Sequence[tuple[str, str]]) -> str:
        """The scope narrowed to the nodes whose caption names one of ``items`` as it is usually written ("Figure 9",
        "Fig. 9", "FIGURE 9", "Table 2", ...): found by the caption itself, not by how close the question's other
        words are, which across many documents leaves a named figure out of any pool of nearest nodes. Milvus's
        ``like`` is case-sensitive and matches "Figure 91" too: :meth:`_rank` keeps the exact ones."""
        spellings = {"figure": CAPTION_FIGURE_SPELLINGS, "table": CAPTION_TABLE_SPELLINGS}
        named = [
            MetadataFilter(key="caption", value=f"{spelling} {number}", operator=FilterOperator.TEXT_MATCH)
            for kind, number in items
            for spelling in spellings[kind]
        ]
        captions = compile_filters(MetadataFilters(filters=named, condition=FilterCondition.OR), allowed={"caption": str})
        return both(self.filter_expression, captions)

    def _searches(self, refs: QuestionReferences, query: Callable[[int], VectorStoreQuery]) -> list[tuple[VectorStoreQuery, str | None]]:
        """The searches a question needs: its named pages (physical or printed, one search), then the captions that
        name its figures and tables, and a wider pool of nearest nodes to find the text that names them in
        (:meth:`_rank` reads them in this order)."""
        searches: list[tuple[VectorStoreQuery, str | None]] = []
        if refs.pages:
            searches.append((query(self.similarity_top_k), self._page_expr(refs)))
        if refs.items:
            searches.append((query(self.similarity_top_k), self._caption_expr(refs.items)))
            searches.append((query(self.similarity_top_k * ITEM_POOL_FACTOR), None))
        return searches

    def _rank(self, refs: QuestionReferences, found: list[list[NodeWithScore]]) -> list[NodeWithScore]:
        ranked = printed_first(found[0], refs.labels) if refs.pages else []
        if refs.items:
            patterns = [item_pattern(kind, number) for kind, number in refs.items]
            named: list[tuple[int, int, NodeWithScore]] = []
            for position, nws in enumerate([*found[-2], *found[-1]]):  # the captions that name them, then the pool
                strength = max((s for s in (_names_item(nws, p) for p in patterns) if s is not None), default=None)
                if strength is not None:
                    named.append((-strength, position, nws))
            ranked.extend(nws for _, _, nws in sorted(named, key=lambda t: (t[0], t[1])))
        seen: set[str] = set()
        unique = [n for n in ranked if not (n.node.node_id in seen or seen.add(n.node.node_id))]
        return unique[: self.similarity_top_k]

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)
        refs = find_references(query_bundle.query_str)
        if refs.empty:
            return []
        embedding = query_bundle.embedding or self._embed_model.get_query_embedding(query_bundle.query_str)
        searches = self._searches(refs, lambda k: self._query(query_bundle, embedding, k))
        return self._rank(refs, [self._search(query, expr) for query, expr in searches])

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query_bundle = checked_query(query_bundle)
        refs = find_references(query_bundle.query_str)
        if refs.empty:
            return []
        embedding = query_bundle.embedding or await self._embed_model.aget_query_embedding(query_bundle.query_str)
        searches = self._searches(refs, lambda k: self._query(query_bundle, embedding, k))
        found = await asyncio.gather(*(asyncio.to_thread(self._search, query, expr) for query, expr in searches))
        return self._rank(refs, list(found))
