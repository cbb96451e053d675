"""Node identity: a chunk's graph content and its id, the one id a chunk has in Milvus and in LightRAG.

A chunk's *graph content* is a provenance line (``[report.pdf, page 3, table]``) and then its text; its id is
LightRAG's own id of that content (``"chunk-" + md5``), so Milvus nodes and graph chunks share ids and fusion
dedupes exactly. Every place that makes, recomputes or parses an id or a provenance line uses these functions.

Example:
    >>> content = graph_content("| Year | Revenue |", "r.pdf", 2, "table")
    >>> content.splitlines()[0]
    '[r.pdf, page 2, table]'
    >>> strip_provenance(content, "r.pdf")
    '| Year | Revenue |'
    >>> chunk_id("| Year | Revenue |", "r.pdf", 2, "table") == make_chunk_id(content)
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # LlamaIndex is imported where nodes are built, so reading provenance does not import it
    from llama_index.core.schema import BaseNode


def format_timestamp(seconds: float) -> str:
    """A time in a recording as a person reads it: ``m:ss`` below an hour, ``h:mm:ss`` from an hour on.

    Args:
        seconds: Seconds from the start of the recording (fractions are dropped).

    Example:
        >>> format_timestamp(751.4), format_timestamp(5), format_timestamp(3725)
        ('12:31', '0:05', '1:02:05')
    """
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def shown_location(page: object, start_s: object = None) -> str:
    """Where a node is, as a person looks it up: ``p.N`` (pages counted from 1), a recording's ``m:ss`` /
    ``h:mm:ss``, or ``p.?`` when unknown.

    Args:
        page: The node's 0-based ``page`` metadata.
        start_s: Its ``start_s`` metadata (a recording's node), in seconds.

    Example:
        >>> shown_location(35), shown_location(None, 751.4), shown_location(None)
        ('p.36', '12:31', 'p.?')
    """
    if isinstance(start_s, (int, float)) and not isinstance(start_s, bool):
        return format_timestamp(start_s)
    if isinstance(page, int) and not isinstance(page, bool) and page >= 0:
        return f"p.{page + 1}"
    return "p.?"


def _seconds(stamp: str) -> int | None:
    """The seconds of a :func:`format_timestamp` string, ``None`` when it is not one."""
    parts = stamp.split(":")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts) or any(len(p) != 2 for p in parts[1:]):
        return None
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return total


def graph_content(
    text: str, doc: str, page: int | None, modality: str, *, start_s: float | None = None, end_s: float | None = None
) -> str:
    """The text a chunk has in the LightRAG graph: its provenance, then its text.

    The provenance line makes the chunk unique per document and page, or per time span in a recording
    (LightRAG ids chunks by content), and tells an LLM reading graph context where the evidence is.

    Args:
        text: The node's text.
        doc: The document's file name.
        page: 0-based page, ``None`` where unknown.
        modality: The node's modality.
        start_s: Where the chunk starts in an audio or video file, in seconds (then the line names the time
            span instead of a page).
        end_s: Where it ends, in seconds (``start_s`` when unknown).

    Example:
        >>> graph_content("Revenue grew.", "talk.mp4", None, "text", start_s=751.2, end_s=790).splitlines()[0]
        '[talk.mp4, 12:31-13:10, text]'
    """
    if start_s is not None:
        where = f"{format_timestamp(start_s)}-{format_timestamp(start_s if end_s is None else end_s)}"
    else:
        where = f"page {page}" if page is not None else "page ?"
    return f"[{doc}, {where}, {modality}]\n{text}"


class Provenance(NamedTuple):
    """What a graph content's provenance line says, and the text after it (see :func:`parse_provenance`).

    Example:
        >>> parse_provenance(graph_content("Milvus stores vectors.", "milvus_faq.txt", 0, "text"))
        Provenance(doc='milvus_faq.txt', page=0, modality='text', text='Milvus stores vectors.')
    """

    doc: str
    page: int | None
    modality: str
    text: str


def parse_provenance(content: str) -> Provenance | None:
    """Read back a graph content (:func:`graph_content`): its document, page, modality and text.

    Read from the right, so a document name holding commas, brackets or "page" reads back whole.

    Args:
        content: A chunk's graph content (LightRAG's chunk text).

    Returns:
        The provenance, or ``None`` when the content has no provenance line.

    Example:
        >>> parse_provenance(graph_content("| a |", "Q1, page 2 [draft].pdf", 4, "table"))
        Provenance(doc='Q1, page 2 [draft].pdf', page=4, modality='table', text='| a |')
        >>> parse_provenance("Plain text.") is None
        True
    """
    first, newline, rest = content.partition("\n")
    if not newline or not (first.startswith("[") and first.endswith("]")):
        return None
    parts = first[1:-1].rsplit(", ", 2)
    if len(parts) == 3 and _time_span(parts[1]) is not None:  # a recording's chunk: a time span, no page
        return Provenance(parts[0], None, parts[2], rest)
    if len(parts) != 3 or not parts[1].startswith("page "):
        return None
    doc, where, modality = parts
    number = where.removeprefix("page ")
    if number != "?" and not number.isdigit():
        return None
    return Provenance(doc, None if number == "?" else int(number), modality, rest)


def _time_span(where: str) -> tuple[int, int] | None:
    start, dash, end = where.partition("-")
    first, last = _seconds(start), _seconds(end)
    return (first, last) if dash and first is not None and last is not None else None


def parse_time_span(content: str) -> tuple[int, int] | None:
    """The time span, in whole seconds, that a recording's graph content names (see :func:`graph_content`).

    Args:
        content: A chunk's graph content.

    Returns:
        ``(start_s, end_s)``, or ``None`` for a chunk of a paged document or content with no provenance line.

    Example:
        >>> parse_time_span(graph_content("Hiring plan.", "standup.wav", None, "text", start_s=65, end_s=70.5))
        (65, 70)
        >>> parse_time_span(graph_content("| a |", "r.pdf", 2, "table")) is None
        True
    """
    first, newline, _ = content.partition("\n")
    if not newline or not (first.startswith("[") and first.endswith("]")):
        return None
    parts = first[1:-1].rsplit(", ", 2)
    return _time_span(parts[1]) if len(parts) == 3 else None


def strip_provenance(content: str, doc: str) -> str:
    """The text of a graph content without its leading provenance line (see :func:`graph_content`).

    Args:
        content: A chunk's graph content, or plain text (returned as it is).
        doc: The document's file name the provenance line names.
    """
    provenance = parse_provenance(content)
    return provenance.text if provenance is not None and provenance.doc == doc else content


def make_chunk_id(content: str) -> str:
    """Return the id a chunk has in Milvus and in LightRAG: LightRAG's own id of its graph content.

    LightRAG stores a chunk under ``compute_mdhash_id(sanitize_text_for_encoding(content), prefix="chunk-")``,
    i.e. ``"chunk-" + md5`` of the stripped, HTML-unescaped text.

    Args:
        content: The chunk's graph content (see :func:`graph_content`).

    Example:
        >>> make_chunk_id("  Milvus runs on Kubernetes. ")
        'chunk-5c6109a04d3f63acd6b9def312cfc2c1'
    """
    from lightrag.utils import compute_mdhash_id, sanitize_text_for_encoding

    return compute_mdhash_id(sanitize_text_for_encoding(content), prefix="chunk-")


def chunk_id(
    text: str, doc: str, page: int | None, modality: str, *, start_s: float | None = None, end_s: float | None = None
) -> str:
    """The id of a chunk with this text and provenance (:func:`make_chunk_id` of its :func:`graph_content`).

    Args:
        text: The chunk's text.
        doc: The document's file name.
        page: 0-based page, ``None`` where unknown.
        modality: The chunk's modality.
        start_s: Where the chunk starts in an audio or video file, in seconds.
        end_s: Where it ends, in seconds.
    """
    return make_chunk_id(graph_content(text, doc, page, modality, start_s=start_s, end_s=end_s))


def node_graph_content(node: BaseNode) -> str:
    """The graph content of a node built by :func:`~llama_index_mmrag.schema.blocks_to_nodes` (its metadata).

    Args:
        node: A node with ``doc`` (and ``page``, ``modality``, ``start_s``, ``end_s``) metadata.
    """
    meta = node.metadata
    return graph_content(
        node.get_content(), meta["doc"], meta.get("page"), meta.get("modality", "text"),
        start_s=meta.get("start_s"), end_s=meta.get("end_s"),
    )


def owns_chunk_id(node: BaseNode) -> bool:
    """Whether the node's id is this package's chunk id of its content (made by ``blocks_to_nodes``).

    Args:
        node: Any LlamaIndex node.
    """
    meta = node.metadata
    return meta.get("chunk_id") == node.node_id and "doc" in meta and "modality" in meta


def resync_chunk_id(node: BaseNode) -> str:
    """Give a ``blocks_to_nodes`` node the chunk id of its current text (and ``chunk_id`` metadata).

    Args:
        node: A node for which :func:`owns_chunk_id` is true.

    Returns:
        The node's (possibly new) id.
    """
    new_id = make_chunk_id(node_graph_content(node))
    node.id_ = new_id
    node.metadata["chunk_id"] = new_id
    return new_id
