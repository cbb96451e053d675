"""Read a GraphML file into the graph ``networkx.read_graphml`` returns, without holding the whole XML tree.

``networkx.read_graphml`` parses the file into one ElementTree, builds a ``MultiGraph`` from it and copies that
into a ``Graph``: opening a store's graph took about four times the memory the graph itself holds (on the
development set, 22 MB of GraphML: a 233 MiB peak for a 50 MiB graph), and the freed parse stayed in the
process's resident memory. :func:`read_graphml_lean` reads the file as a stream of elements, each dropped once
read, and builds the same graph directly: same nodes, edges, attributes and graph data, in the same order (so
whatever iterates the graph, LightRAG's queries included, sees it as before). Files this reader does not
stream (several graphs, nested graphs, parallel edges, yFiles data, hyperedges, ports, edge ids) are read by
``networkx.read_graphml`` itself.

Example:
    >>> import networkx as nx
    >>> graph = nx.Graph()
    >>> graph.add_node("Milvus", entity_type="PRODUCT", degree=2)
    >>> graph.add_edge("Milvus", "Lite", weight=1.5, keywords="embedded")
    >>> nx.write_graphml(graph, "g.graphml")
    >>> lean = read_graphml_lean("g.graphml")
    >>> list(lean.nodes(data=True)) == list(nx.read_graphml("g.graphml").nodes(data=True))
    True
    >>> lean.edges["Milvus", "Lite"]
    {'weight': 1.5, 'keywords': 'embedded'}
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from typing import Any

import networkx as nx
from networkx.readwrite.graphml import GraphMLReader

from llama_index_mmrag.errors import StoreError

_NS = "{" + GraphMLReader.NS_GRAPHML + "}"
_KEY, _GRAPH, _NODE, _EDGE, _DATA = (_NS + tag for tag in ("key", "graph", "node", "edge", "data"))
_DEFAULT = _NS + "default"


class _NotStreamable(StoreError):
    """The file uses a GraphML feature the streaming reader leaves to networkx (caught here, never raised out)."""


def read_graphml_lean(path: str | os.PathLike[str]) -> nx.Graph:
    """Read a GraphML file as ``networkx.read_graphml(path)`` does, holding one element of the XML at a time.

    Args:
        path: The GraphML file.

    Returns:
        The graph (a ``Graph`` or ``DiGraph``; what networkx returns for the files it reads otherwise).

    Raises:
        xml.etree.ElementTree.ParseError: If the file is not well-formed XML (a file cut short, say).
        networkx.NetworkXError: If the GraphML is invalid (as networkx raises it).
    """
    try:
        return _stream(os.fspath(path))
    except _NotStreamable:
        return nx.read_graphml(path)


def _decode(element: ET.Element, keys: dict[str, tuple[str, Any]], convert_bool: dict[str, bool]) -> tuple[str, Any]:
    """The attribute a ``<data>`` element holds, decoded as networkx decodes it."""
    key = element.get("key")
    if key not in keys or len(element):  # a key defined further on (networkx names a missing one), yFiles data
        raise _NotStreamable
    name, python_type = keys[key]
    text = element.text
    if text is None:
        return name, ""
    return name, convert_bool[text.lower()] if python_type is bool else python_type(text)


def _stream(path: str) -> nx.Graph:
    types = GraphMLReader()  # networkx's own type table and boolean spellings
    keys: dict[str, tuple[str, Any]] = {}
    key_for: dict[str, str] = {}
    defaults: dict[str, str] = {}
    nodes: dict[str, dict[str, Any]] = {}
    neighbours: dict[str, dict[str, dict[str, Any]]] = {}  # file order of each node's edges, as networkx's MultiGraph
    graph_data: dict[str, Any] = {}
    directed: bool | None = None
    depth = 0
    graph_element: ET.Element | None = None
    for event, element in ET.iterparse(path, events=("start", "end")):
        if event == "start":
            depth += 1
            if depth == 2 and element.tag == _GRAPH:
                if directed is not None:
                    raise _NotStreamable  # a second graph
                directed = element.get("edgedefault") == "directed"
                graph_element = element
            elif depth > 3 and element.tag == _GRAPH:
                raise _NotStreamable  # a nested graph
            continue
        depth -= 1
        tag = element.tag
        if depth == 1 and tag == _KEY:
            if element.get("yfiles.type") is not None:
                raise _NotStreamable
            attr_type, name = element.get("attr.type"), element.get("attr.name")
            if attr_type is None:
                raise _NotStreamable  # networkx warns and reads it as a string
            if name is None:
                raise nx.NetworkXError(f"Unknown key for id {element.get('id')}.")
            keys[element.get("id")] = (name, types.python_type[attr_type])  # type: ignore[index]
            key_for[element.get("id")] = element.get("for")  # type: ignore[index,assignment]
            default = element.find(_DEFAULT)
            if default is not None:
                defaults[element.get("id")] = default.text  # type: ignore[index,assignment]
        elif depth == 2 and graph_element is not None:
            if tag == _NODE:
                if element.find(_NS + "port") is not None or element.find(_GRAPH) is not None:
                    raise _NotStreamable
                attributes = dict(_decode(d, keys, types.convert_bool) for d in element.iterfind(_DATA))
                node = element.get("id")
                if node is None:
                    raise _NotStreamable
                if node in nodes:
                    nodes[node].update(attributes)  # type: ignore[index]
                else:
                    nodes[node] = attributes  # type: ignore[index]
                    neighbours[node] = {}  # type: ignore[index]
            elif tag == _EDGE:
                if element.get("id") or element.find(_NS + "port") is not None:
                    raise _NotStreamable
                if element.get("directed") not in (None, "true" if directed else "false"):
                    raise _NotStreamable  # networkx names the mix-up
                source, target = element.get("source"), element.get("target")
                attributes = dict(_decode(d, keys, types.convert_bool) for d in element.iterfind(_DATA))
                if source not in nodes or target not in nodes:
                    raise _NotStreamable  # networkx adds undeclared ends after every declared node
                if target in neighbours[source] or (not directed and source in neighbours[target]):  # type: ignore[index]
                    raise _NotStreamable  # parallel edges: networkx returns a multigraph
                neighbours[source][target] = attributes  # type: ignore[index]
                if not directed:
                    neighbours[target][source] = attributes  # type: ignore[index]
            elif tag == _DATA:
                name, value = _decode(element, keys, types.convert_bool)
                graph_data[name] = value
            elif tag == _NS + "hyperedge":
                raise _NotStreamable
            del graph_element[:]  # read: the graph element lets go of it (and of what the parser read ahead)
    if directed is None:
        raise _NotStreamable  # no graph at all: networkx says so
    return _build(nodes, neighbours, directed, keys, key_for, defaults, graph_data, types)


def _build(
    nodes: dict[str, dict[str, Any]],
    neighbours: dict[str, dict[str, dict[str, Any]]],
    directed: bool,
    keys: dict[str, tuple[str, Any]],
    key_for: dict[str, str],
    defaults: dict[str, str],
    graph_data: dict[str, Any],
    types: GraphMLReader,
) -> nx.Graph:
    """The graph networkx builds: its multigraph's nodes, then its edges in the order of its adjacency."""
    graph = nx.DiGraph() if directed else nx.Graph()
    graph.graph["node_default"] = {}
    graph.graph["edge_default"] = {}
    for key, value in defaults.items():
        name, python_type = keys[key]
        if key_for[key] in ("node", "edge"):
            graph.graph[f"{key_for[key]}_default"][name] = python_type(value)
    graph.graph.update(graph_data)
    graph.add_nodes_from(nodes.items())
    nodes.clear()
    if directed:
        graph.add_edges_from((u, v, data) for u, targets in neighbours.items() for v, data in targets.items())
        return graph
    for u in list(neighbours):
        for v, data in neighbours.pop(u).items():
            if not graph.has_edge(u, v):
                graph.add_edge(u, v, **data)
    return graph
