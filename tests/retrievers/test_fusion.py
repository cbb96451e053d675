"""Weighted reciprocal-rank fusion and page aggregation."""

from __future__ import annotations

import pytest
from llama_index.core.schema import NodeWithScore, TextNode

from llama_index_mmrag.retrievers.fusion import aggregate_pages, weighted_rrf


def _n(node_id: str, page: int | None = 0, doc: str = "a.pdf", modality: str = "text", score: float = 1.0) -> NodeWithScore:
    return NodeWithScore(node=TextNode(id_=node_id, text=node_id, metadata={"doc": doc, "page": page, "modality": modality}), score=score)


def test_rrf_weights_ranks_and_dedupes() -> None:
    vector = [_n("a"), _n("b"), _n("c")]
    graph = [_n("c"), _n("d")]
    fused = weighted_rrf([vector, graph], [1.0, 1.0], k=60)
    assert [n.node.node_id for n in fused] == ["c", "a", "b", "d"]
    assert fused[0].score == pytest.approx(1 / 63 + 1 / 61)
    only_vector = weighted_rrf([vector, graph], [1.0, 0.0], k=60)
    assert [n.node.node_id for n in only_vector][:3] == ["a", "b", "c"]


def test_rrf_quotas_cap_a_modality() -> None:
    ranked = [_n("i1", modality="image"), _n("i2", modality="image"), _n("t1"), _n("i3", modality="image")]
    fused = weighted_rrf([ranked], [1.0], quotas={"image": 1})
    assert [n.node.node_id for n in fused] == ["i1", "t1"]


def test_rrf_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="weights"):
        weighted_rrf([[_n("a")]], [1.0, 2.0])
    with pytest.raises(ValueError, match=">= 0"):
        weighted_rrf([[_n("a")]], [-1.0])


def test_pages_collect_the_evidence_of_their_chunks() -> None:
    ranked = [_n("p3-a", page=3, score=0.30), _n("p1-a", page=1, score=0.25), _n("p1-b", page=1, score=0.20),
              _n("p1-c", page=1, score=0.10), _n("b-p3", page=3, doc="b.pdf", score=0.05), _n("x", page=None, score=0.01)]
    pages = aggregate_pages(ranked, support=0.5)
    assert [n.node.node_id for n in pages] == ["p1-a", "p3-a", "b-p3", "x"]
    assert pages[0].score == pytest.approx(0.25 + 0.5 * (0.20 + 0.10))
    assert [n.node.node_id for n in aggregate_pages(ranked, top_k=2, support=0.5)] == ["p1-a", "p3-a"]


def test_by_default_a_page_ranks_by_its_best_chunk_not_by_its_chunk_count() -> None:
    ranked = [_n("p3-a", page=3, score=0.30), _n("p1-a", page=1, score=0.25), _n("p1-b", page=1, score=0.20),
              _n("p1-c", page=1, score=0.10)]
    pages = aggregate_pages(ranked)
    assert [n.node.node_id for n in pages] == ["p3-a", "p1-a"]
    assert [n.score for n in pages] == [0.30, 0.25]
