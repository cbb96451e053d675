"""Which modality a question asks about, and a bounded lift for the nodes of that modality.

A question that names a modality ("which figure ...", "the chart", "in the table", "the equation",
"formula") gets the nodes of that modality lifted; any other question leaves order and scores alone.

The lift is bounded and scale-free: a node of the targeted modality gains ``boost x (max - min)`` of the
candidate list's scores (``boost`` in [0, 1]; 0.5 by default), so it can pass nodes scoring less than half
of the list's score range above it, never more. Nodes without scores are scored by rank first
(``1 - rank / n``). The other nodes keep their scores and their relative order, and so do the lifted ones
among themselves: the result is a merge of the two orders, a lifted node going first only when its new
score is strictly higher.

Example:
    >>> targeted_modalities("Which figure shows the query node?")
    {'image'}
    >>> targeted_modalities("What does Milvus use for metadata?")
    set()
"""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.schema import NodeWithScore

from llama_index_mmrag.modalities import MODALITIES

DEFAULT_BOOST = 0.5
"""Share of the candidate list's score range a node of the targeted modality gains."""

def targeted_modalities(question: str) -> set[str]:
    """The modalities a question names (``image``, ``table``, ``equation``, or any registered modality whose
    ``intent`` words it uses), or an empty set.

    Args:
        question: The user's question.

    Example:
        >>> sorted(targeted_modalities("Compare the table with the formula in section 2"))
        ['equation', 'table']
        >>> targeted_modalities("How does the hash table scale?")
        set()
    """
    return {name for name in MODALITIES if MODALITIES.get(name).named_in(question)}


def node_is(nws: NodeWithScore, modality: str) -> bool:
    """Whether a retrieved node is of ``modality`` (its ``modality`` metadata; image nodes count as images)."""
    from llama_index_mmrag.schema import node_modality

    return node_modality(nws.node) == modality


def lift_modality(nodes: Sequence[NodeWithScore], modality: str, boost: float = DEFAULT_BOOST) -> list[NodeWithScore]:
    """Lift the nodes of ``modality`` by ``boost`` x the score range; keep every other order (see module doc).

    Args:
        nodes: Retrieved nodes, best first.
        modality: The modality to lift.
        boost: Share of the score range added to a lifted node's score, in [0, 1].

    Returns:
        New ``NodeWithScore`` objects (the nodes themselves are shared), merged by score.

    Raises:
        ValueError: When ``boost`` is outside [0, 1].

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> def hit(text, modality, score):
        ...     return NodeWithScore(node=TextNode(text=text, metadata={"modality": modality}), score=score)
        >>> ranked = [hit("a", "text", 1.0), hit("b", "text", 0.9), hit("fig", "image", 0.8), hit("c", "text", 0.5)]
        >>> [(n.node.text, round(n.score, 2)) for n in lift_modality(ranked, "image", 0.5)]
        [('fig', 1.05), ('a', 1.0), ('b', 0.9), ('c', 0.5)]
        >>> [n.node.text for n in lift_modality(ranked, "image", 0.1)]    # 0.8 + 0.05 passes nobody
        ['a', 'b', 'fig', 'c']
    """
    if not 0.0 <= boost <= 1.0:
        raise ValueError(f"boost must be between 0 and 1, got {boost}")
    if not nodes or boost == 0.0:
        return list(nodes)
    count = len(nodes)
    effective = [n.score if n.score is not None else 1.0 - rank / count for rank, n in enumerate(nodes)]
    gain = boost * ((max(effective) - min(effective)) or 1.0)
    lifted: list[tuple[NodeWithScore, float]] = []
    others: list[tuple[NodeWithScore, float]] = []
    for nws, score in zip(nodes, effective):
        if node_is(nws, modality):
            lifted.append((NodeWithScore(node=nws.node, score=score + gain), score + gain))
        else:
            others.append((nws, score))
    if not lifted:
        return list(nodes)
    merged: list[NodeWithScore] = []
    i = j = 0
    while i < len(lifted) and j < len(others):
        if lifted[i][1] > others[j][1]:
            merged.append(lifted[i][0])
            i += 1
        else:
            merged.append(others[j][0])
            j += 1
    merged.extend(nws for nws, _ in lifted[i:])
    merged.extend(nws for nws, _ in others[j:])
    return merged
