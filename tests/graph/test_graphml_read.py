"""The store's graph is read from its GraphML file into exactly the graph networkx reads (nodes, edges, attributes,
graph data and the order of each node's neighbours, which LightRAG's queries iterate), for every shape of file,
without holding a tree of the whole file in memory."""

from __future__ import annotations

import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from llama_index_mmrag.graph.file_counts import GraphFiles
from llama_index_mmrag.graph.file_storage import MMRAGNetworkXStorage, write_graphml_atomic
from llama_index_mmrag.graph.graphml_read import read_graphml_lean
from llama_index_mmrag.graph.safe_text import graph_safe


def _same(lean: nx.Graph, reference: nx.Graph) -> None:
    assert type(lean) is type(reference)
    assert lean.graph == reference.graph
    assert list(lean.nodes(data=True)) == list(reference.nodes(data=True))
    assert list(lean.edges(data=True)) == list(reference.edges(data=True))
    assert {n: list(lean.adj[n]) for n in lean} == {n: list(reference.adj[n]) for n in reference}
    if lean.is_multigraph():
        assert list(lean.edges(keys=True)) == list(reference.edges(keys=True))


def _typed(path: Path) -> None:
    graph = nx.Graph(name="typed")
    graph.add_node("isolated")
    graph.add_node("b", count=3, score=0.25, kept=True, label="", text="line one\nline two <&>")
    graph.add_node("a", kept=False, text="\u4e2d\u6587 and \u00e9")
    graph.add_node("c")
    # edges in an order other than the nodes': networkx re-orders each node's neighbours when it reads them
    graph.add_edge("c", "a", weight=2.0, keywords="x")
    graph.add_edge("b", "c", weight=1.0)
    graph.add_edge("a", "b", weight=0.5, description="")
    graph.add_edge("b", "b", weight=1.0)  # a self-loop
    nx.write_graphml(graph, path)


def _directed(path: Path) -> None:
    graph = nx.DiGraph()
    graph.add_edges_from([("c", "a", {"w": 1}), ("a", "c", {"w": 2}), ("b", "a", {"w": 3})])
    nx.write_graphml(graph, path)


def _parallel_edges(path: Path) -> None:
    graph = nx.MultiGraph()
    graph.add_edges_from([("a", "b", {"w": 1}), ("a", "b", {"w": 2}), ("b", "c", {"w": 3})])
    nx.write_graphml(graph, path)


def _hostile_strings(path: Path) -> None:
    graph = nx.Graph()
    names = [graph_safe(f"orion{chr(c)}telescope") for c in range(0x20)]
    for name in names:
        graph.add_node(name, description=f"{name} is described", file_path=graph_safe("doc\x1b\udcff.pdf"))
    for first, second in zip(names, names[3:]):
        graph.add_edge(first, second, description=graph_safe("a\x00b<SEP>c"), weight=1.0)
    write_graphml_atomic(graph, path)


def _written(text: str) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    return write


_HEAD = '<?xml version="1.0" encoding="utf-8"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns" xmlns:y="http://www.yworks.com/xml/graphml">'
FILES: dict[str, Callable[[Path], None]] = {
    "typed attributes, self-loop, edges out of node order": _typed,
    "directed": _directed,
    "parallel edges (a multigraph)": _parallel_edges,
    "strings made XML-safe": _hostile_strings,
    "key defaults and graph data": _written(
        _HEAD + '<key id="n" for="node" attr.name="kind" attr.type="string"><default>thing</default></key>'
        '<key id="e" for="edge" attr.name="w" attr.type="double"><default>1.5</default></key>'
        '<key id="g" for="graph" attr.name="title" attr.type="string"/>'
        '<graph edgedefault="undirected"><data key="g">a title</data><node id="a"><data key="n">x</data></node>'
        '<node id="b"/><edge source="a" target="b"/><data key="g">the last title</data></graph></graphml>'
    ),
    "edge ids": _written(
        _HEAD + '<key id="w" for="edge" attr.name="w" attr.type="int"/><graph edgedefault="undirected">'
        '<node id="a"/><node id="b"/><edge id="7" source="a" target="b"><data key="w">4</data></edge></graph></graphml>'
    ),
    "an edge to an undeclared node, a node declared twice": _written(
        _HEAD + '<key id="k" for="node" attr.name="k" attr.type="long"/><graph edgedefault="undirected">'
        '<node id="a"><data key="k">1</data></node><edge source="a" target="z"/><node id="b"/>'
        '<node id="a"><data key="k">2</data></node></graph></graphml>'
    ),
    "yFiles data": _written(
        _HEAD + '<key id="d0" for="node" yfiles.type="nodegraphics"/><graph edgedefault="directed"><node id="a">'
        '<data key="d0"><y:ShapeNode><y:NodeLabel>Alpha</y:NodeLabel></y:ShapeNode></data></node></graph></graphml>'
    ),
    "a key defined after the graph": _written(
        _HEAD + '<graph edgedefault="undirected"><node id="a"><data key="late">v</data></node></graph>'
        '<key id="late" for="node" attr.name="late" attr.type="string"/></graphml>'
    ),
}


@pytest.mark.parametrize("name", list(FILES))
def test_the_lean_reader_reads_what_networkx_reads(tmp_path: Path, name: str) -> None:
    path = tmp_path / "g.graphml"
    FILES[name](path)
    _same(read_graphml_lean(path), nx.read_graphml(path))


def test_a_stores_own_graph_reads_as_networkx_reads_it(demo_rag: Any) -> None:
    path = GraphFiles.of(demo_rag.settings).graphml
    lean, reference = read_graphml_lean(path), nx.read_graphml(path)
    _same(lean, reference)
    assert lean.number_of_edges() > 0


@pytest.mark.parametrize("cut", [0.0, 0.5, 0.97])
def test_a_graph_file_cut_short_is_refused_as_networkx_refuses_it(tmp_path: Path, cut: float) -> None:
    path = tmp_path / "g.graphml"
    _typed(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ET.ParseError):
        nx.read_graphml(path)
    with pytest.raises(ET.ParseError):
        read_graphml_lean(path)


def _peak(read: Callable[[], Any]) -> tuple[int, int]:
    """(bytes held by what ``read`` returns, peak bytes while it ran), as tracemalloc counts them."""
    tracemalloc.start()
    try:
        value = read()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del value
    return held, peak


def test_opening_a_stores_graph_holds_no_tree_of_the_whole_file(tmp_path: Path) -> None:
    """networkx's reader peaks at several times the graph it returns; the store's storage reads it in about
    the graph's own size."""
    graph = nx.Graph()
    for i in range(1500):
        graph.add_node(f"entity {i}", entity_type="CONCEPT", description=f"entity {i} is described " * 12,
                       source_id=f"chunk-{i % 97}", file_path="report.pdf")
    for i in range(3000):
        graph.add_edge(f"entity {i % 1500}", f"entity {(i * 7 + 1) % 1500}", weight=1.0, keywords="k",
                       description=f"relation {i} " * 8, source_id=f"chunk-{i % 97}")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    write_graphml_atomic(graph, workspace / "graph_chunk_entity_relation.graphml")

    def open_storage() -> nx.Graph:
        storage = MMRAGNetworkXStorage(namespace="chunk_entity_relation", workspace="ws",
                                       global_config={"working_dir": str(tmp_path)}, embedding_func=None)
        return storage._graph

    _, networkx_peak = _peak(lambda: nx.read_graphml(workspace / "graph_chunk_entity_relation.graphml"))
    held, peak = _peak(open_storage)
    assert peak < 1.5 * held  # the graph, and one element of the file at a time
    assert networkx_peak > 2.5 * held  # what it was: a tree of the whole file, and a multigraph copied
    _same(open_storage(), nx.read_graphml(workspace / "graph_chunk_entity_relation.graphml"))
