"""The knowledge-graph fragment of a described modal item, without an LLM.

RAG-Anything's convention (``BaseModalProcessor._process_chunk_for_extraction`` and
``_batch_add_belongs_to_relations_type_aware``): the item becomes an entity of its own (named and summarised
by ``entity_info``, sourced from the item's chunk), and every entity extracted from the item's description
gets a ``belongs_to`` edge **to** the item entity::

    src_id=<extracted entity>, tgt_id=<item entity>,
    description="Entity <src> belongs to <item>", keywords="belongs_to,part_of,contained_in", weight=10.0,
    source_id=<the item's chunk id>

Upstream extracts those entities with LightRAG's LLM extraction over the description (two more calls per item,
extraction and gleaning: the calls we save); on the LLM path an item costs its one description call, which names
and summarises its entity, and LightRAG's extraction reads only the text chunks. The entities come from the
package's LLM-free analyser (:func:`~llama_index_mmrag.graph.extract.analyze_text`), with the same name
normalisation as the rest of the offline graph, so a name found in a description and in a text chunk is one
node. The fragment is in LightRAG's ``ainsert_custom_kg`` format; its chunk's ``source_id`` is the node id
and its content the node's graph content, so LightRAG's chunk id is the node id (see
:func:`llama_index_mmrag.schema.make_chunk_id`). It also carries the extra keys
:func:`~llama_index_mmrag.graph.kg_loader.ainsert_kg` reads (``full_doc_id``, ``page``, ``modality``,
``source_ids``, ``chunk_weights``). Fragments and :func:`~llama_index_mmrag.graph.extract.build_custom_kg`
results can be concatenated with :func:`merge_kg_fragments` and inserted in one call.

Example:
    >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
    >>> table = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
    ...                      table_body="| Index | Recall |\\n|---|---|\\n| HNSW | 0.98 |")
    >>> table_node = blocks_to_nodes([table])[0]
    >>> kg = modal_kg_fragment(table_node, "Recall of HNSW", {"entity_name": "Recall table", "entity_type": "table",
    ...                                                       "summary": "Recall by index"})
    >>> sorted(kg), kg["entities"][0]["entity_name"]
    (['chunks', 'entities', 'relationships'], 'recall table')
    >>> merged = merge_kg_fragments([kg, kg])                  # fragments and kgs, merged for one insert
    >>> len(merged["entities"]) == len(kg["entities"]), len(merged["chunks"])
    (True, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from llama_index.core.schema import BaseNode

from llama_index_mmrag.graph.extract import GraphChunk, _item_name, analyze_text, normalize_entity_name
from llama_index_mmrag.graph.stored_chunks import graph_chunk
from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.processors.offline import offline_entity_info
from llama_index_mmrag.schema import block_from_node, node_modality, strip_provenance

BELONGS_TO_KEYWORDS = "belongs_to,part_of,contained_in"
"""RAG-Anything's keywords of the edge from an extracted entity to its modal item."""
BELONGS_TO_WEIGHT = 10.0
"""RAG-Anything's weight of that edge."""
MAX_EVIDENCE_CHARS = 200


def _snippet(text: str, limit: int = MAX_EVIDENCE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def _entity_info(node: BaseNode, entity_info: Mapping[str, Any] | None) -> dict[str, str]:
    meta = node.metadata
    if entity_info and entity_info.get("entity_name"):
        return {k: str(entity_info.get(k, "")) for k in ("entity_name", "entity_type", "summary")}
    if meta.get("entity_name"):
        return {
            "entity_name": str(meta["entity_name"]),
            "entity_type": str(meta.get("entity_type", "")),
            "summary": str(meta.get("entity_summary", "")),
        }
    block, _ = block_from_node(node)
    return offline_entity_info(block)


def modal_kg_fragment(
    node: BaseNode,
    description: str | None = None,
    entity_info: Mapping[str, Any] | None = None,
    *,
    item_name: str | None = None,
    max_entities: int = 12,
) -> dict[str, Any]:
    """The custom-kg fragment that puts a described modal item into the LightRAG graph.

    Args:
        node: The item's node (image, table or equation; ``doc`` / ``page`` / ``modality`` metadata as made by
            :func:`~llama_index_mmrag.schema.blocks_to_nodes`).
        description: The item's description; the node's text when ``None``.
        entity_info: ``{"entity_name", "entity_type", "summary"}``; else the node's ``entity_name`` /
            ``entity_type`` / ``entity_summary`` metadata; else derived offline from the node.
        item_name: The graph's name for the item entity when it already has one (e.g. the offline
            extractor's), instead of ``entity_info``'s name.
        max_entities: Entities taken from the description, best first.

    Returns:
        ``{"chunks": [1 chunk], "entities": [item entity, *extracted], "relationships": [belongs_to edges]}``.

    Raises:
        ValueError: For a text node, or a non-positive ``max_entities``.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> node = TextNode(id_="chunk-1", text="Recall of HNSW and IVF_FLAT on Milvus.",
        ...                 metadata={"doc": "r.pdf", "page": 0, "modality": "table", "caption": "Table 1: Recall"})
        >>> kg = modal_kg_fragment(node)
        >>> kg["entities"][0]["entity_name"], kg["entities"][0]["entity_type"]
        ('table 1: recall in r.pdf (table)', 'TABLE')
        >>> sorted({(r["tgt_id"], r["keywords"], r["source_id"]) for r in kg["relationships"]})
        [('table 1: recall in r.pdf (table)', 'belongs_to,part_of,contained_in', 'chunk-1')]
    """
    modality = node_modality(node)
    if not MODALITIES.get(modality).is_modal:
        modal = ", ".join(MODALITIES.modal_names())
        raise ValueError(f"node {node.node_id} is a {modality} node; only modal items ({modal}) have a fragment")
    meta = node.metadata
    doc = str(meta.get("doc") or node.ref_doc_id or "custom_kg")
    info = _entity_info(node, entity_info)
    chunk = replace(
        graph_chunk(node.node_id, node.get_content(), {**meta, "doc": doc, "modality": modality}),
        entity_name=info["entity_name"],
        entity_summary=info["summary"],
    )
    return chunk_kg_fragment(
        chunk, description, item_name=item_name, max_entities=max_entities, order=int(meta.get("block_index") or 0)
    )


def chunk_kg_fragment(
    chunk: GraphChunk,
    description: str | None = None,
    *,
    item_name: str | None = None,
    max_entities: int = 12,
    order: int = 0,
) -> dict[str, Any]:
    """The custom-kg fragment of a modal item's graph chunk: what :func:`modal_kg_fragment` makes of its node.

    The item entity is named and summarised by the chunk's ``entity_name`` / ``entity_summary`` (what its
    describer returned; without a name, the LLM-free graph's item name); the entities of its text get
    ``belongs_to`` edges to it. The same chunk always gives the same fragment, so a document's fragments can be
    rebuilt from its chunks as stored, to remove them
    (:func:`~llama_index_mmrag.graph.kg_loader.adelete_kg`).

    Args:
        chunk: The item's graph chunk (:func:`~llama_index_mmrag.graph.stored_chunks.graph_chunk`).
        description: The text its entities are taken from; the chunk's text when ``None``.
        item_name: The item entity's name, instead of the chunk's.
        max_entities: Entities taken from the text, best first.
        order: The chunk's position in its document (LightRAG's ``chunk_order_index``).

    Returns:
        ``{"chunks": [1 chunk], "entities": [item entity, *extracted], "relationships": [belongs_to edges]}``.

    Raises:
        ValueError: For a text chunk, or a non-positive ``max_entities``.

    Example:
        >>> chunk = GraphChunk("chunk-2", "[r.pdf, page 1, image]\\nA bar chart of Milvus and Zilliz downloads.",
        ...                    doc="r.pdf", page=1, modality="image", entity_name="Downloads chart (image)",
        ...                    entity_summary="Downloads per year.")
        >>> kg = chunk_kg_fragment(chunk)
        >>> item, *found = kg["entities"]
        >>> item["entity_name"], item["description"], [r["src_id"] for r in kg["relationships"]]
        ('downloads chart (image)', 'Downloads per year.', ['milvus', 'zilliz', 'bar chart', 'download'])
    """
    modality = chunk.modality
    if not MODALITIES.get(modality).is_modal:
        modal = ", ".join(MODALITIES.modal_names())
        raise ValueError(
            f"chunk {chunk.chunk_id} is a {modality} chunk; only modal items ({modal}) have a fragment"
        )
    if max_entities < 1:
        raise ValueError(f"max_entities must be at least 1, got {max_entities}")
    doc, page = chunk.doc, chunk.page
    text = strip_provenance(chunk.content, doc) if description is None else description
    # Case-folded like every name of the offline graph; outer brackets kept: "revenue table (table)".
    name = item_name or chunk.entity_name or _item_name(chunk)
    item = " ".join(name.casefold().split()) or f"{modality} {chunk.chunk_id}"
    chunk_id = chunk.chunk_id
    record = {
        "content": chunk.content,
        "source_id": chunk_id,
        "file_path": doc,
        "chunk_order_index": order,
        "full_doc_id": doc,
        "page": page,
        "modality": modality,
    }
    item_entity = {
        "entity_name": item,
        "entity_type": MODALITIES.get(modality).entity_type,  # the offline graph's types: they merge cleanly
        "description": chunk.entity_summary or _snippet(text) or f"A {modality} in {doc}.",
        "source_id": chunk_id,
        "file_path": doc,
        "source_ids": [chunk_id],
    }
    analysis = analyze_text(text)
    exclude = frozenset({item, normalize_entity_name(doc), normalize_entity_name(doc.rsplit(".", 1)[0])})
    entities: list[dict[str, Any]] = [item_entity]
    relationships: list[dict[str, Any]] = []
    for found_name in analysis.top(max_entities, exclude):
        found = analysis.found[found_name]
        evidence = _snippet(analysis.sentences[found.sentences[0]]) if found.sentences else found_name
        entities.append(
            {
                "entity_name": found_name,
                "entity_type": found.entity_type,
                "description": evidence,
                "source_id": chunk_id,
                "file_path": doc,
                "source_ids": [chunk_id],
            }
        )
        relationships.append(
            {
                "src_id": found_name,
                "tgt_id": item,
                "description": f"Entity {found_name} belongs to {item}",
                "keywords": BELONGS_TO_KEYWORDS,
                "weight": BELONGS_TO_WEIGHT,
                "source_id": chunk_id,
                "file_path": doc,
                "chunk_weights": {chunk_id: BELONGS_TO_WEIGHT},
            }
        )
    return {"chunks": [record], "entities": entities, "relationships": relationships}


def _union(first: list[str], second: list[str]) -> list[str]:
    return first + [value for value in second if value not in first]


def merge_kg_fragments(fragments: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Merge custom-kg dicts (fragments, ``build_custom_kg`` results) into one, for one insert call.

    Nothing declared earlier is overwritten: a chunk is kept once per ``source_id``; an entity once per name
    (the first declaration's type and description; ``source_ids`` unioned); a relationship once per
    unordered pair (the first description; keywords unioned, ``chunk_weights`` merged and the weight
    summed over distinct chunks). Put ``build_custom_kg``'s result first so the text graph's descriptions
    win and the fragments only add their item entities and ``belongs_to`` edges; LightRAG's
    ``ainsert_custom_kg`` would otherwise keep the *last* declaration of a name.

    Args:
        fragments: Custom-kg dicts.

    Returns:
        One custom-kg dict.

    Example:
        >>> def hnsw(description, chunk):
        ...     return {"entity_name": "hnsw", "entity_type": "ACRONYM", "description": description, "source_id": chunk}
        >>> a, b = {"entities": [hnsw("text", "c1")]}, {"entities": [hnsw("table", "c2")]}
        >>> merged = merge_kg_fragments([a, b])["entities"]
        >>> [(e["entity_name"], e["description"], e["source_ids"]) for e in merged]
        [('hnsw', 'text', ['c1', 'c2'])]
    """
    chunks: dict[str, dict[str, Any]] = {}
    entities: dict[str, dict[str, Any]] = {}
    relationships: dict[tuple[str, str], dict[str, Any]] = {}
    for fragment in fragments:
        for chunk in fragment.get("chunks", []):
            chunks.setdefault(chunk["source_id"], dict(chunk))
        for entity in fragment.get("entities", []):
            sources = list(entity.get("source_ids") or [entity["source_id"]])
            kept = entities.get(entity["entity_name"])
            if kept is None:
                entities[entity["entity_name"]] = dict(entity, source_ids=sources)
            else:
                kept["source_ids"] = _union(kept["source_ids"], sources)
        for relation in fragment.get("relationships", []):
            pair = (relation["src_id"], relation["tgt_id"])
            key = pair if pair[0] <= pair[1] else (pair[1], pair[0])
            weights = dict(relation.get("chunk_weights") or {relation["source_id"]: float(relation.get("weight", 1.0))})
            kept_relation = relationships.get(key)
            if kept_relation is None:
                relationships[key] = dict(relation, chunk_weights=weights)
                continue
            for chunk_id, weight in weights.items():
                if chunk_id not in kept_relation["chunk_weights"]:
                    kept_relation["chunk_weights"][chunk_id] = weight
            kept_relation["weight"] = float(sum(kept_relation["chunk_weights"].values()))
            keywords = [k.strip() for k in str(kept_relation["keywords"]).split(",") if k.strip()]
            more = [k.strip() for k in str(relation["keywords"]).split(",") if k.strip()]
            kept_relation["keywords"] = ",".join(_union(keywords, more))
    return {
        "chunks": list(chunks.values()),
        "entities": list(entities.values()),
        "relationships": list(relationships.values()),
    }
