"""Strings made safe for the graph's files: GraphML (XML 1.0) and LightRAG's JSON key-value stores.

XML 1.0 has no way to write the C0 control characters other than tab, newline and carriage return, lone
surrogates, U+FFFE or U+FFFF (even as character references), and JSON files must be valid UTF-8, which a lone
surrogate (a ``surrogateescape``-decoded file name, say) is not. Any of them in an entity name, a description or
a document name makes LightRAG's GraphML save fail. Every string the package hands to LightRAG passes through
:func:`graph_safe` (:func:`graph_safe_kg` for a whole custom kg) first.

The mapping is visible and keeps distinct strings distinct: a C0 control character becomes its Unicode
control picture (ESC, U+001B, becomes U+241B), a lone surrogate or non-character becomes a ``\\uXXXX`` escape,
and LightRAG's list separator ``<SEP>`` inside a value becomes ``‹SEP›`` (it would split one document name or
description into two). A carriage return is a control picture too (U+240D): an XML reader turns one in text into
a newline, so it would not read back as written.

Example:
    >>> graph_safe("report\\x1b[1m.pdf")
    'report␛[1m.pdf'
    >>> graph_safe("bad\\udcff.txt")
    'bad\\\\udcff.txt'
    >>> graph_safe("plain text") == "plain text"
    True
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

GRAPH_FIELD_SEP = "<SEP>"  # lightrag.constants.GRAPH_FIELD_SEP (not imported: this module stays import-light)
SEP_STANDIN = "\u2039SEP\u203a"

_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\ud800-\udfff\ufffe\uffff]|<SEP>")
"""What XML 1.0 or UTF-8 cannot hold, carriage returns (not read back by an XML reader) and LightRAG's separator."""
_XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]|\r")
"""What a GraphML file cannot hold as written (the separator is legitimate there: it joins lists)."""

T = TypeVar("T")


def _replacement(match: re.Match[str]) -> str:
    text = match.group()
    if text == GRAPH_FIELD_SEP:
        return SEP_STANDIN
    code = ord(text)
    if code < 0x20:
        return chr(0x2400 + code)  # the control picture: ␀ .. ␟
    return f"\\u{code:04x}"


def _xml_replacement(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(0x2400 + code) if code < 0x20 else f"\\u{code:04x}"


def graph_safe(text: str) -> str:
    """``text`` with every character a graph file cannot hold replaced by a visible stand-in.

    Args:
        text: Any string bound for LightRAG: an entity name, a description, a document name, a keyword.

    Returns:
        The same string object when nothing needed replacing.

    Example:
        >>> graph_safe("a\\x00b"), graph_safe("x<SEP>y"), graph_safe("line\\r\\nnext")
        ('a␀b', 'x‹SEP›y', 'line␍\\nnext')
    """
    if not _UNSAFE.search(text):
        return text
    return _UNSAFE.sub(_replacement, text)


def xml_safe(text: str) -> str:
    """``text`` as a GraphML file can hold it (the last guard when the graph is saved; keeps ``<SEP>``).

    Args:
        text: A node id or an attribute value of the graph.

    Example:
        >>> xml_safe("a\\x1bb<SEP>c")
        'a␛b<SEP>c'
    """
    if not _XML_UNSAFE.search(text):
        return text
    return _XML_UNSAFE.sub(_xml_replacement, text)


def is_xml_safe(text: str) -> bool:
    """Whether a GraphML file can hold ``text`` as it is.

    Args:
        text: A node id or an attribute value.
    """
    return _XML_UNSAFE.search(text) is None


def graph_safe_kg(value: T) -> T:
    """A copy of a custom kg (or any nest of dicts, lists and tuples) with :func:`graph_safe` applied to every
    string in it, keys included; other values are kept as they are.

    This is the one place the package's graph data is made safe before LightRAG stores it.

    Args:
        value: A dict from :func:`llama_index_mmrag.graph.extract.build_custom_kg`, or part of one.

    Example:
        >>> graph_safe_kg({"entities": [{"entity_name": "a\\x1b", "weight": 1.0}]})
        {'entities': [{'entity_name': 'a␛', 'weight': 1.0}]}
    """
    return _safe(value)


def _safe(value: Any) -> Any:
    if isinstance(value, str):
        return graph_safe(value)
    if isinstance(value, dict):
        return {_safe(k): _safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_safe(v) for v in value)
    return value
