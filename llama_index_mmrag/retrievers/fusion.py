"""Weighted reciprocal-rank fusion over chunk ids, with dedup and optional per-modality quotas; page collapse.

Example:
    >>> from llama_index.core.schema import NodeWithScore, TextNode
    >>> a = [NodeWithScore(node=TextNode(id_="x", text="x"), score=0.9)]
    >>> b = [NodeWithScore(node=TextNode(id_="x", text="x"), score=0.1)]
    >>> [n.node.node_id for n in weighted_rrf([a, b], weights=[1.0, 0.5])]
    ['x']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore


def weighted_rrf(
    ranked_lists: Sequence[Sequence[NodeWithScore]],
    weights: Sequence[float],
    k: int = 60,
    top_k: int | None = None,
    quotas: Mapping[str, int] | None = None,
) -> list[NodeWithScore]:
    """Fuse ranked lists: ``score(id) = sum(weight_i / (k + rank_i(id)))``, ranks starting at 1.

    A node id appearing in several lists is returned once (the first list's node object wins, so the
    richest provenance is kept when the vector list comes first). Ties keep first-seen order.

    Args:
        ranked_lists: Lists of nodes, each best first.
        weights: One weight per list.
        k: The RRF constant (higher flattens the rank curve).
        top_k: How many nodes to return (all when ``None``).
        quotas: Per-modality maximum counts, e.g. ``{"image": 2}``; unlisted modalities are unbounded.

    Raises:
        ValueError: If weights and lists differ in number, or a weight is negative.
    """
    if len(weights) != len(ranked_lists):
        raise ValueError(f"got {len(ranked_lists)} ranked lists but {len(weights)} weights")
    if any(w < 0 for w in weights):
        raise ValueError(f"fusion weights must be >= 0, got {list(weights)}")
    if k < 1:
        raise ValueError(f"the RRF constant k must be >= 1, got {k}")
    scores: dict[str, float] = {}
    first_node: dict[str, NodeWithScore] = {}
    for ranked, weight in zip(ranked_lists, weights):
        seen_here: set[str] = set()
        for rank, nws in enumerate(ranked, start=1):
            node_id = nws.node.node_id
            if node_id in seen_here:
                continue
            seen_here.add(node_id)
            first_node.setdefault(node_id, nws)
            scores[node_id] = scores.get(node_id, 0.0) + weight / (k + rank)
    order = sorted(scores, key=lambda i: scores[i], reverse=True)
    fused: list[NodeWithScore] = []
    taken: dict[str, int] = {}
    for node_id in order:
        node = first_node[node_id].node
        modality = str(node.metadata.get("modality", "text"))
        if quotas is not None and modality in quotas and taken.get(modality, 0) >= quotas[modality]:
            continue
        taken[modality] = taken.get(modality, 0) + 1
        fused.append(NodeWithScore(node=node, score=scores[node_id]))
        if top_k is not None and len(fused) >= top_k:
            break
    return fused


PAGE_EVIDENCE_KEYS = ("chunk_ids", "modalities", "chunk_spans")
"""Metadata a page node adds: its chunks' ids, their modalities and where each chunk's text lies in the node's."""
_PAGE_JOINER = "\n\n"


def page_node(chunks: Sequence[NodeWithScore]) -> BaseNode:
    """One node holding the evidence of a page's matching chunks, best first.

    The node is a copy of the best chunk (same id, class, ``doc``, ``page``, ``modality``, image path), whose
    text is the texts of all the chunks, each whole, separated by blank lines; a table described in prose
    also brings its markdown body. ``chunk_ids``, ``modalities`` and ``chunk_spans`` (``[start, end]`` of
    each chunk in the text) say what it carries; they are hidden from embeddings and LLM prompts. A page image
    (``image_kind: page``) holds a summary of the page's own text: next to other chunks of its page it adds its
    id, not its text again.

    Args:
        chunks: Nodes of one ``(doc, page)``, best first (at least one).

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> a = NodeWithScore(node=TextNode(id_="a", text="Revenue grew.", metadata={"page": 0}), score=0.5)
        >>> b = NodeWithScore(node=TextNode(id_="b", text="| Q1 | 5 |", metadata={"page": 0, "modality": "table"}), score=0.4)
        >>> node = page_node([a, b])
        >>> node.node_id, node.metadata["modalities"], node.get_content()
        ('a', ['text', 'table'], 'Revenue grew.\\n\\n| Q1 | 5 |')
    """
    if not chunks:
        raise ValueError("a page node needs at least one chunk")
    best = chunks[0].node
    texts: list[str] = []
    spans: list[list[int]] = []
    offset = 0
    alone = len(chunks) == 1
    for nws in chunks:
        if not alone and nws.node.metadata.get("image_kind") == "page":
            spans.append([offset, offset])  # its text is the page's own: the other chunks say it
            continue
        text = nws.node.get_content(metadata_mode=MetadataMode.NONE)
        body = nws.node.metadata.get("table_body")
        if isinstance(body, str) and body.strip() and body.strip() not in text:
            text = f"{text}\n{body.strip()}" if text.strip() else body.strip()
        if texts:
            offset += len(_PAGE_JOINER)
        texts.append(text)
        spans.append([offset, offset + len(text)])
        offset += len(text)
    metadata = dict(best.metadata)
    metadata["chunk_ids"] = [nws.node.node_id for nws in chunks]
    metadata["modalities"] = [str(nws.node.metadata.get("modality", "text")) for nws in chunks]
    metadata["chunk_spans"] = spans
    node = best.model_copy()
    node.set_content(_PAGE_JOINER.join(texts))
    node.metadata = metadata
    node.excluded_embed_metadata_keys = _with(best.excluded_embed_metadata_keys, PAGE_EVIDENCE_KEYS)
    node.excluded_llm_metadata_keys = _with(best.excluded_llm_metadata_keys, PAGE_EVIDENCE_KEYS)
    return node



def _with(keys: Sequence[str], more: Sequence[str]) -> list[str]:
    return [*keys, *(k for k in more if k not in keys)]


def result_key(nws: NodeWithScore, by_page: bool) -> tuple[str, ...]:
    """What makes two results the same one: their ``(doc, page)`` when ranking pages, else their node id.

    A node without a page is always itself.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> hit = NodeWithScore(node=TextNode(id_="c1", text="", metadata={"doc": "a.pdf", "page": 3}))
        >>> result_key(hit, by_page=True), result_key(hit, by_page=False)
        (('a.pdf', '3'), ('node', 'c1'))
    """
    page = nws.node.metadata.get("page")
    if by_page and page is not None:
        return str(nws.node.metadata.get("doc")), str(page)
    return "node", nws.node.node_id


def lead_first(fused: Sequence[NodeWithScore], lead: NodeWithScore | None, by_page: bool) -> list[NodeWithScore]:
    """Put ``lead`` first in ``fused``, the rest in their order; the list keeps its length.

    Where ``fused`` holds the same result (see :func:`result_key`), that entry moves up (it carries the
    evidence of every branch); otherwise ``lead`` takes the first place and the last entry drops out. The
    lead's score is raised to the best score, so the scores stay in order.

    Args:
        fused: The fused results, best first.
        lead: The result that must come first (``None``: ``fused`` unchanged).
        by_page: Whether results are pages (compared by ``(doc, page)``) or chunks (by node id).

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> def hit(i, score):
        ...     return NodeWithScore(node=TextNode(id_=i, text=""), score=score)
        >>> [(n.node.node_id, n.score) for n in lead_first([hit("b", 0.3), hit("a", 0.2), hit("c", 0.1)], hit("a", 0.9), by_page=False)]
        [('a', 0.3), ('b', 0.3), ('c', 0.1)]
    """
    if lead is None or not fused:
        return list(fused)
    key = result_key(lead, by_page)
    same = next((nws for nws in fused if result_key(nws, by_page) == key), None)
    rest = [nws for nws in fused if nws is not same]
    if same is None:
        same, rest = lead, rest[:-1]
    best = max(float(nws.score or 0.0) for nws in fused)
    return [NodeWithScore(node=same.node, score=max(best, float(same.score or 0.0))), *rest]


def aggregate_pages(nodes: Sequence[NodeWithScore], top_k: int | None = None, support: float = 0.0) -> list[NodeWithScore]:
    """Collapse ranked nodes to one per ``(doc, page)``, scored by the page's evidence, carrying all of it.

    ``page_score = best + support * (sum of the page's other node scores)``. The default ``support=0`` ranks
    a page by its best chunk alone (MaxP): reciprocal-rank scores are flat (1/61 at rank 1, 1/90 at rank 30),
    so summing them ranks pages by how many chunks they have rather than by how well one of them answers.
    Each page comes back as :func:`page_node`: the best chunk's id and provenance, with the text of every
    chunk of that page among ``nodes`` (a table that matched reaches the answer even when a paragraph of
    its page ranked higher). Nodes without a page stay one node each.

    Args:
        nodes: Fused nodes, best first.
        top_k: How many pages to return (all when ``None``).
        support: Weight of a page's other chunks.
    """
    groups: dict[tuple[str, ...], list[NodeWithScore]] = {}
    totals: dict[tuple[str, ...], float] = {}
    for nws in nodes:
        key = result_key(nws, by_page=True)
        score = float(nws.score or 0.0)
        if key not in groups:
            groups[key] = [nws]
            totals[key] = score
        else:
            groups[key].append(nws)
            totals[key] += support * score
    order = sorted(groups, key=lambda key: totals[key], reverse=True)
    if top_k is not None:
        order = order[:top_k]
    return [NodeWithScore(node=page_node(groups[key]), score=totals[key]) for key in order]
