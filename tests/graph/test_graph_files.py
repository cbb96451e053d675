"""Strings that reach the graph's files, and how those files are saved: every C0 control character, lone
surrogates, non-characters and LightRAG's separator are stored visibly and distinctly; a save that fails leaves
the previous file whole."""

from __future__ import annotations

import json
import os
from pathlib import Path

import networkx as nx
import pytest

from llama_index_mmrag.graph.file_storage import write_graphml_atomic
from llama_index_mmrag.manifest import write_atomic
from llama_index_mmrag.graph.safe_text import graph_safe, graph_safe_kg

HOSTILE = [chr(c) for c in range(0x20)] + ["\ud800", "\udcff", "\udfff", "\ufffe", "\uffff", "\r\n", "<SEP>", "\x7f"]


def _names() -> list[str]:
    return [f"orion{ch}telescope" for ch in HOSTILE]


def test_every_hostile_character_is_stored_in_graphml_and_json_and_read_back_unchanged(tmp_path: Path) -> None:
    graph = nx.Graph()
    names = [graph_safe(name) for name in _names()]
    for name in names:
        graph.add_node(name, description=f"{name} is described", file_path=graph_safe("doc\x1b\udcff.pdf"))
    graph.add_edge(names[0], names[-1], description=graph_safe("a\x00b\x0bc"), weight=1.0)
    path = tmp_path / "g.graphml"
    write_graphml_atomic(graph, path)
    read = nx.read_graphml(path)
    assert sorted(read.nodes) == sorted(names)
    assert read.nodes[names[27]]["description"] == f"{names[27]} is described"
    assert read.edges[names[0], names[-1]]["description"] == graph_safe("a\x00b\x0bc")
    text = json.dumps({n: n for n in names}, ensure_ascii=False).encode("utf-8")  # valid UTF-8 throughout
    assert json.loads(text) == {n: n for n in names}


def test_distinct_names_stay_distinct_and_the_stand_ins_are_visible() -> None:
    names = _names()
    safe = [graph_safe(name) for name in names]
    assert len(set(safe)) == len(set(names))
    assert graph_safe("a\x1bb") == "a\u241bb" and graph_safe("a\x00b") == "a\u2400b"
    assert graph_safe("bad\udcff.txt") == "bad\\udcff.txt"
    assert graph_safe("x<SEP>y") == "x\u2039SEP\u203ay"  # one value, not a list of two
    assert graph_safe("line\r\nnext") == "line\u240d\nnext"  # an XML reader would read a raw \r as \n
    assert graph_safe("tab\tand\nnewline") == "tab\tand\nnewline"


def test_a_kg_is_made_safe_in_every_string_keys_included() -> None:
    kg = {
        "entities": [{"entity_name": "vega\x1b", "source_ids": ["c1"], "file_path": "d\udcff.pdf"}],
        "relationships": [{"chunk_weights": {"c\x01": 1.0}, "weight": 2.0, "keywords": "a<SEP>b"}],
    }
    safe = graph_safe_kg(kg)
    assert safe["entities"][0]["entity_name"] == "vega\u241b"
    assert safe["entities"][0]["file_path"] == "d\\udcff.pdf"
    assert safe["relationships"][0]["chunk_weights"] == {"c\u2401": 1.0}
    assert "<SEP>" not in safe["relationships"][0]["keywords"]
    assert kg["entities"][0]["entity_name"] == "vega\x1b"  # the input is not changed


def test_a_graph_holding_raw_control_characters_is_still_saved_readably(tmp_path: Path) -> None:
    graph = nx.Graph()
    graph.add_edge("a\x1b", "b\udcff", description="c\x00d")
    path = tmp_path / "g.graphml"
    write_graphml_atomic(graph, path)  # the last guard: upstream's writer raises on these, leaving a torn file
    read = nx.read_graphml(path)
    assert sorted(read.nodes) == ["a\u241b", "b\\udcff"]


def test_a_save_failing_half_way_leaves_the_previous_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "g.graphml"
    before = nx.Graph()
    before.add_edge("milvus", "minio", description="stored in")
    write_graphml_atomic(before, path)
    saved = path.read_bytes()

    def failing_writer(graph: nx.Graph, handle: object) -> None:
        handle.write(b"<?xml version='1.0'?><graphml><graph")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nx, "write_graphml", failing_writer)
    after = nx.Graph()
    after.add_edge("milvus", "etcd")
    with pytest.raises(OSError, match="No space left"):
        write_graphml_atomic(after, path)
    assert path.read_bytes() == saved
    assert sorted(os.listdir(tmp_path)) == ["g.graphml"]


def test_an_atomic_write_keeps_the_file_permissions(tmp_path: Path) -> None:
    path = tmp_path / "kv.json"
    path.write_text("{}")
    path.chmod(0o640)
    write_atomic(path, lambda handle: handle.write(b'{"a": 1}'))
    assert json.loads(path.read_text()) == {"a": 1}
    assert path.stat().st_mode & 0o777 == 0o640
