"""Weighted reciprocal-rank fusion over chunk ids, with dedup and optional per-modality quotas.

Example:
    >>> from llama_index.core.schema import NodeWithScore, TextNode
    >>> a = [NodeWithScore(node=TextNode(id_="x", text="x"), score=0.9)]
    >>> b = [NodeWithScore(node=TextNode(id_="x", text="x"), score=0.1)]
    >>> [n.node.node_id for n in weighted_rrf([a, b], weights=[1.0, 0.5])]
    ['x']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from llama_index.core.schema import NodeWithScore


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


def aggregate_pages(nodes: Sequence[NodeWithScore], top_k: int | None = None, support: float = 0.0) -> list[NodeWithScore]:
    """Collapse ranked nodes to one per ``(doc, page)``: the page's best node, scored by the page's evidence.

    ``page_score = best + support * (sum of the page's other node scores)``. The default ``support=0`` ranks
    a page by its best chunk alone (MaxP): reciprocal-rank scores are flat (1/61 at rank 1, 1/90 at rank 30),
    so summing them ranks pages by how many chunks they have rather than by how well one of them answers.

    Args:
        nodes: Fused nodes, best first.
        top_k: How many pages to return (all when ``None``).
        support: Weight of a page's other chunks.
    """
    best: dict[tuple[str, ...], NodeWithScore] = {}
    totals: dict[tuple[str, ...], float] = {}
    for nws in nodes:
        meta = nws.node.metadata
        page = meta.get("page")
        key = (str(meta.get("doc")), str(page)) if page is not None else ("node", nws.node.node_id)
        score = float(nws.score or 0.0)
        if key not in best:
            best[key] = nws
            totals[key] = score
        else:
            totals[key] += support * score
    order = sorted(best, key=lambda key: totals[key], reverse=True)
    pages = [NodeWithScore(node=best[key].node, score=totals[key]) for key in order]
    return pages[:top_k] if top_k is not None else pages
