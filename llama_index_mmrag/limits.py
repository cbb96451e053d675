"""Fitting nodes into Milvus's limits: a VARCHAR holds 65,535 bytes, and a row's metadata is capped at 64 KB.

Text is already chunked small by ``blocks_to_nodes``; what can outgrow a Milvus row is one modal item: a table
of thousands of rows, a very long equation, an image description or OCR text of a dense page, or a huge
``table_body`` in metadata (the LlamaIndex store keeps metadata twice: as dynamic fields and inside the
serialised node). :func:`fit_nodes` makes every node fit, losing nothing:

- a markdown table too big for one row is split into parts of whole rows, each a table node of its own with
  the header repeated, its caption, ``table_part`` / ``table_parts`` metadata and its own chunk id;
- any other node too big keeps a prefix of its text (cut on a character boundary), and the full text goes to a
  file under ``<storage_dir>/overflow`` whose path is in ``full_text_path``;
- a metadata string too big keeps a prefix; the full value goes to a file named in ``<key>_path``.

Node ids stay the package's chunk ids of the (new) text (:func:`~llama_index_mmrag.schema.resync_chunk_id`),
so Milvus and the graph still share them. Nothing binary ever goes into metadata.

Example:
    >>> from llama_index.core.schema import TextNode
    >>> node = TextNode(text="short", metadata={"doc": "a.txt", "modality": "text"})
    >>> [n.text for n in fit_nodes([node], Path("/tmp/mmrag-doctest-overflow"))]
    ['short']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from llama_index.core.schema import BaseNode

from llama_index_mmrag.schema import owns_chunk_id, resync_chunk_id
from llama_index_mmrag.schema.tables import split_markdown_table

MAX_TEXT_BYTES = 60_000
"""Node text budget (Milvus VARCHAR: 65,535 bytes; the margin absorbs sanitising and escaping)."""
MAX_METADATA_BYTES = 24_000
"""Metadata budget (stored twice under Milvus's 64 KB dynamic-field cap, next to the serialised node)."""
MAX_METADATA_VALUE_BYTES = 8_000
"""A single metadata string longer than this moves to a file when the metadata is over budget."""
TABLE_PART_BYTES = 16_000
"""Target size of one part of a split table (whole rows; the header is repeated in every part)."""

MAX_IMAGE_PIXELS = 50_000_000
"""Largest image (width x height, after a JPEG's cheap reduced decode) that is decoded for OCR: about 150 MB of
RGB pixels. Bigger images are refused with an error naming the file and this limit (downscale them first)."""

MAX_HTML_BYTES = 4_000_000
"""Largest web page (file size) that is parsed: Docling's HTML reader takes 15-20 s per MB on a busy 2-core
machine (a 20 MB page ran past 15 minutes), and every MB of text is thousands of chunks to embed and index. A bigger page is refused,
before any parsing, with an error naming the file and this limit (split it, or save it as PDF)."""
MAX_MARKDOWN_BYTES = 4_000_000
"""Largest Markdown file (file size) that is parsed, for the same reasons as :data:`MAX_HTML_BYTES`."""
MAX_MARKUP_TABLE_CELLS = 100_000
"""Most table cells a web page or Markdown file may hold (counted before parsing): Docling keeps every cell as
an object of its own, about 10 KB each while converting (a 10,000 x 5 Markdown table: 50,000 cells, about
0.5 GB).
Bigger tables are refused with an error naming the file and this limit (split the table, or save it as CSV)."""

def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _metadata_size(node: BaseNode) -> int:
    return _size(json.dumps(node.metadata, ensure_ascii=False, default=str))


def fits(node: BaseNode) -> bool:
    """Whether a node's text and metadata fit one Milvus row.

    Args:
        node: Any node.
    """
    return _size(node.get_content()) <= MAX_TEXT_BYTES and _metadata_size(node) <= MAX_METADATA_BYTES


def clip_utf8(text: str, limit: int, marker: str = " [...]") -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes (on a character boundary), with ``marker`` if cut.

    Args:
        text: Any text.
        limit: Byte budget, marker included.
        marker: Appended when the text was cut.

    Example:
        >>> clip_utf8("h\u00e9llo world", 9)
        'h\u00e9 [...]'
    """
    if _size(text) <= limit:
        return text
    room = max(limit - _size(marker), 0)
    return text.encode("utf-8")[:room].decode("utf-8", errors="ignore") + marker


def _overflow_file(node: BaseNode, folder: Path, what: str) -> Path:
    meta = node.metadata
    doc_id = str(meta.get("doc_id") or "nodoc")[:16]
    name = f"{meta.get('block_index', 'x')}-{meta.get('modality', 'text')}-{what}.txt"
    path = folder / doc_id / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _table_parts(node: BaseNode, folder: Path) -> list[BaseNode] | None:
    meta = node.metadata
    split = split_markdown_table(str(meta.get("table_body") or ""))
    if split is None:
        return None
    header, rows = split
    head = "\n".join(header)
    budget = max(TABLE_PART_BYTES - _size(head), 1_000)
    groups: list[list[str]] = [[]]
    used = 0
    for row in rows:
        row = clip_utf8(row, budget)
        if groups[-1] and used + _size(row) + 1 > budget:
            groups.append([])
            used = 0
        groups[-1].append(row)
        used += _size(row) + 1
    caption = str(meta.get("caption") or "").strip()
    lead = clip_utf8(node.get_content(), 2_000) if caption == "" else caption
    parts: list[BaseNode] = []
    first_row = 1
    for index, group in enumerate(groups):
        body = "\n".join([head, *group])
        last_row = first_row + len(group) - 1
        where = f"(rows {first_row}-{last_row} of {len(rows)}, part {index + 1} of {len(groups)})"
        part = node.model_copy(deep=True)
        part.metadata.update(table_body=body, table_part=index, table_parts=len(groups))
        part.set_content("\n".join(p for p in (lead, where, body) if p))
        _fit_metadata(part, folder)
        if owns_chunk_id(part):
            resync_chunk_id(part)
        parts.append(part)
        first_row = last_row + 1
    return parts


def _fit_metadata(node: BaseNode, folder: Path) -> None:
    meta = node.metadata
    for key in sorted(meta, key=lambda k: -_size(str(meta[k]))):
        if _metadata_size(node) <= MAX_METADATA_BYTES:
            return
        value = meta[key]
        if not isinstance(value, str) or _size(value) <= MAX_METADATA_VALUE_BYTES:
            continue
        path = _overflow_file(node, folder, key)
        path.write_text(value, encoding="utf-8")
        meta[key] = clip_utf8(value, MAX_METADATA_VALUE_BYTES)
        meta[f"{key}_path"] = str(path)
        for hidden in (node.excluded_embed_metadata_keys, node.excluded_llm_metadata_keys):
            if f"{key}_path" not in hidden:
                hidden.append(f"{key}_path")


def _clip_node(node: BaseNode, folder: Path) -> BaseNode:
    _fit_metadata(node, folder)
    text = node.get_content()
    if _size(text) > MAX_TEXT_BYTES:
        path = _overflow_file(node, folder, "text")
        path.write_text(text, encoding="utf-8")
        node.set_content(clip_utf8(text, MAX_TEXT_BYTES))
        node.metadata["full_text_path"] = str(path)
        for hidden in (node.excluded_embed_metadata_keys, node.excluded_llm_metadata_keys):
            if "full_text_path" not in hidden:
                hidden.append("full_text_path")
        if owns_chunk_id(node):
            resync_chunk_id(node)
    return node


def fit_nodes(nodes: Sequence[BaseNode], overflow_dir: Path) -> list[BaseNode]:
    """Return the nodes, each made to fit a Milvus row (see the module docstring); order is kept.

    Args:
        nodes: Nodes from ``blocks_to_nodes`` (descriptions applied).
        overflow_dir: Where full texts and values that did not fit are written.

    Example:
        >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
        >>> body = "| Index | Recall |\\n|---|---|\\n" + "| HNSW | 0.98 |\\n" * 20_000  # 320 kB of table
        >>> table = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2, table_body=body)
        >>> fitted = fit_nodes(blocks_to_nodes([table]), Path("overflow"))  # e.g. <storage_dir>/overflow
        >>> len(fitted), fitted[0].metadata["table_part"], fitted[0].metadata["table_parts"]  # split by rows, header kept
        (21, 0, 21)
        >>> all(len(n.metadata["table_body"]) < 65_535 and n.metadata["table_body"].startswith("| Index |") for n in fitted)
        True
    """
    out: list[BaseNode] = []
    for node in nodes:
        if fits(node):
            out.append(node)
            continue
        parts = _table_parts(node, overflow_dir) if node.metadata.get("modality") == "table" else None
        out.extend(parts if parts is not None else [_clip_node(node, overflow_dir)])
    return list({node.node_id: node for node in out}.values())
