"""Weighted reciprocal-rank fusion and page aggregation."""

from __future__ import annotations

import pytest
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from llama_index_mmrag.retrievers.fusion import aggregate_pages, lead_first, weighted_rrf


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


_TABLE = "Table 2: Containers handled per terminal\n| Terminal | Containers 2024 |\n|---|---|\n| North | 9,020 |\n| West | 8,150 |"


def test_a_page_node_carries_every_matching_chunk_of_its_page_whole() -> None:
    prose = _n("p0-text", page=0, score=0.30)
    other = _n("p1-text", page=1, score=0.25)
    table = NodeWithScore(
        node=TextNode(id_="p0-table", text=_TABLE, metadata={"doc": "a.pdf", "page": 0, "modality": "table"}), score=0.20
    )
    pages = aggregate_pages([prose, other, table])
    assert [n.node.node_id for n in pages] == ["p0-text", "p1-text"]  # ids and ranking as before
    assert [n.score for n in pages] == [0.30, 0.25]
    page = pages[0].node
    assert (page.metadata["doc"], page.metadata["page"], page.metadata["modality"]) == ("a.pdf", 0, "text")
    assert page.metadata["modalities"] == ["text", "table"]
    assert page.metadata["chunk_ids"] == ["p0-text", "p0-table"]
    assert _TABLE in page.get_content()  # the table whole, next to the prose
    assert "p0-text" in page.get_content()
    start, end = page.metadata["chunk_spans"][1]
    assert page.get_content()[start:end] == _TABLE
    for mode in (MetadataMode.LLM, MetadataMode.EMBED):
        assert "chunk_spans" not in page.get_content(metadata_mode=mode)
    assert prose.node.get_content() == "p0-text"  # the retrieved chunk itself is not changed


def test_a_table_described_in_prose_brings_its_markdown_body_to_the_page() -> None:
    described = TextNode(
        id_="t", text="A table of containers per terminal.",
        metadata={"doc": "a.pdf", "page": 0, "modality": "table", "table_body": "| Terminal | Containers |\n| West | 8,150 |"},
    )
    page = aggregate_pages([_n("p", page=0, score=0.3), NodeWithScore(node=described, score=0.2)])[0].node
    assert "| West | 8,150 |" in page.get_content()


def test_the_lead_moves_up_with_the_fused_evidence_of_its_page() -> None:
    fused = aggregate_pages([_n("p2-a", page=2, score=0.3), _n("p1-a", page=1, score=0.2), _n("p1-b", page=1, score=0.1)])
    lead = aggregate_pages([_n("p1-b", page=1, score=0.9)])[0]  # the anchors' best chunk of page 1 is another one
    ranked = lead_first(fused, lead, by_page=True)
    assert [(n.metadata["page"], n.node.metadata["chunk_ids"]) for n in ranked] == [(1, ["p1-a", "p1-b"]), (2, ["p2-a"])]
    assert [n.score for n in ranked] == [0.3, 0.3]  # raised to the best score, so scores stay in order


def test_a_lead_missing_from_the_fused_list_takes_the_first_place_and_the_last_drops() -> None:
    fused = [_n("a", score=0.3), _n("b", score=0.2)]
    ranked = lead_first(fused, _n("z", score=0.1), by_page=False)
    assert [(n.node.node_id, n.score) for n in ranked] == [("z", 0.3), ("a", 0.3)]
    assert lead_first(fused, None, by_page=False) == fused
    assert lead_first([], _n("z"), by_page=False) == []
