"""A relevance floor: a query engine says "no evidence" when nothing it retrieved is about the question.

A retriever always returns its nearest nodes, even for "hello" or a question about football asked of
annual reports. Ranking scores cannot tell (reciprocal-rank fusion gives the best node of any list the same
score), so the floor measures relevance itself, on the chunks handed to the answer: the best cosine
similarity between the question's embedding and one chunk (the vectors stored at ingestion when a lookup
is given, else the chunks' texts embedded now), plus a weighted share of the question's content words that
the chunks contain. Below the floor no node passes, and the synthesizer answers with its empty response
("No evidence was found for this question.").

In a store with an image field, a picture is also measured by the image model: the cosine similarity of the
question's embedding by that model to the picture's stored pixel vector, against the image model's own floor
(:attr:`~llama_index_mmrag.stores.image_field.ImageField.floor`). A picture found by its pixels alone (no word of
the question in its OCR text or caption) is evidence when it reaches that floor.

The floor gates answers, not retrieval: retrievers keep their ranking (evaluation, agents and custom
pipelines see it unchanged), and above the floor every node passes in its order.

Example:
    >>> from llama_index.core.query_engine import RetrieverQueryEngine
    >>> from llama_index_mmrag.synthesis import ExtractiveSynthesizer
    >>> floor = RelevanceFloor(embed_model=rag.embed_model, floor=0.3)
    >>> engine = RetrieverQueryEngine(
    ...     rag.as_retriever(), node_postprocessors=[floor], response_synthesizer=ExtractiveSynthesizer())
    >>> str(engine.query("hello"))
    'No evidence was found for this question.'
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, QueryBundle

from llama_index_mmrag.retrievers.references import find_references, item_pattern  # one reading of "Table 2"
from llama_index_mmrag.synthesis import content_terms

if TYPE_CHECKING:
    from llama_index_mmrag.stores.image_field import ImageField

logger = logging.getLogger(__name__)

DEFAULT_COVERAGE_WEIGHT = 0.3
"""Weight of the question's words found in the evidence, next to the best cosine similarity."""

VectorLookup = Callable[[Sequence[str]], Mapping[str, Sequence[float]]]
"""Stored vectors by chunk id (ids it does not hold are left out)."""


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def chunk_ids(nws: NodeWithScore) -> list[str]:
    """The chunk ids a retrieved node stands for: a page node's ``chunk_ids``, else its own id.

    Args:
        nws: A retrieved node.
    """
    ids = nws.node.metadata.get("chunk_ids")
    if isinstance(ids, list) and ids and all(isinstance(i, str) for i in ids):
        return list(ids)
    return [nws.node.node_id]


def image_chunk_ids(nws: NodeWithScore) -> list[str]:
    """The chunk ids of the pictures a retrieved node stands for: a page node's image chunks, else its own id when
    it is an image node.

    Args:
        nws: A retrieved node.

    Example:
        >>> from llama_index.core.schema import TextNode
        >>> page = TextNode(id_="a", text="", metadata={"chunk_ids": ["a", "b"], "modalities": ["text", "image"]})
        >>> image_chunk_ids(NodeWithScore(node=page)), image_chunk_ids(NodeWithScore(node=TextNode(id_="c", text="")))
        (['b'], [])
    """
    ids = chunk_ids(nws)
    modalities = nws.node.metadata.get("modalities")
    if not (isinstance(modalities, list) and len(modalities) == len(ids)):
        modalities = [nws.node.metadata.get("modality")] * len(ids)
    return [chunk_id for chunk_id, modality in zip(ids, modalities) if modality == "image"]


def _stored_rows(vector_store: Any, ids: Sequence[str], fields: list[str]) -> list[dict[str, Any]]:
    if not ids:
        return []
    return vector_store.client.get(collection_name=vector_store.collection_name, ids=list(ids), output_fields=fields)


def milvus_vector_lookup(vector_store: Any) -> VectorLookup:
    """A :data:`VectorLookup` reading the dense vectors a ``MilvusVectorStore`` holds.

    Args:
        vector_store: A llama-index ``MilvusVectorStore`` (its ``client``, ``collection_name`` and
            ``embedding_field`` are used).

    Example:
        >>> lookup = milvus_vector_lookup(rag.vector_store)
        >>> node_id = rag.as_retriever().retrieve("hybrid search")[0].node.node_id
        >>> len(lookup([node_id])[node_id])
        384
    """

    def lookup(ids: Sequence[str]) -> Mapping[str, Sequence[float]]:
        rows = _stored_rows(vector_store, ids, [vector_store.embedding_field])
        return {str(row["id"]): row[vector_store.embedding_field] for row in rows}

    return lookup


def milvus_image_vector_lookup(vector_store: Any) -> VectorLookup:
    """A :data:`VectorLookup` reading the pixel vectors a store with an image field holds (only rows that hold one).

    Args:
        vector_store: The store's ``MilvusNodeStore`` (its ``image_field`` names the field).

    Raises:
        ValueError: If the store has no image field.
    """
    from llama_index_mmrag.stores.image_field import IMAGE_VECTOR_FLAG

    field = getattr(vector_store, "image_field", None)
    if field is None:
        raise ValueError("the store has no image field: it holds no pixel vectors to read")

    def lookup(ids: Sequence[str]) -> Mapping[str, Sequence[float]]:
        rows = _stored_rows(vector_store, ids, [field.name, IMAGE_VECTOR_FLAG])
        return {str(row["id"]): row[field.name] for row in rows if row.get(IMAGE_VECTOR_FLAG)}

    return lookup


_SUFFIXES = ("ing", "ed", "es", "s")


def _stem(term: str) -> str:
    """A crude stem, enough to match "containers" with "container" and "handled" with "handle"."""
    term = term.removesuffix("'s")
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 3:
            term = term[: -len(suffix)]
            break
    return term.removesuffix("e") if len(term) > 3 else term


def term_coverage(query_str: str, texts: Sequence[str]) -> float:
    """The share of the question's content words (stop words left out) that the texts contain.

    Args:
        query_str: The question.
        texts: The evidence.

    Example:
        >>> term_coverage("Which terminal handled the most containers in 2024?", ["The West terminal handles 8,150 containers."])
        0.75
    """
    wanted = {_stem(t) for t in content_terms(query_str)}
    if not wanted:
        return 0.0
    found = {_stem(t) for text in texts for t in content_terms(text)}
    return len(wanted & found) / len(wanted)


def finds_named_item(query_str: str, nodes: Sequence[NodeWithScore]) -> bool:
    """Whether the question names a page, figure or table ("page 6", "the second page", "Table 2") and a node
    is that page (the physical page 6, or the page printed 6) or names that item: such a question is about the
    document's layout, which embeds poorly, and the evidence it points at was found.

    Args:
        query_str: The question.
        nodes: Retrieved nodes.
    """
    refs = find_references(query_str)
    if refs.empty:
        return False
    patterns = [item_pattern(kind, number) for kind, number in refs.items]
    for nws in nodes:
        if nws.node.metadata.get("page") in refs.pages or nws.node.metadata.get("page_label") in refs.labels:
            return True
        if patterns and any(p.search(nws.node.get_content(metadata_mode=MetadataMode.NONE)) for p in patterns):
            return True
    return False


@dataclass(frozen=True)
class Evidence:
    """How much each retrieved chunk is about a question.

    Args:
        chunks: One ``(similarity, coverage)`` pair per chunk: the cosine similarity of the question to the
            chunk, and the share of the question's content words the chunk contains.
        pictures: In a store with an image field, one cosine similarity per picture among the chunks: the question
            embedded by the image model against the picture's pixel vector.

    Example:
        >>> evidence = Evidence(((0.62, 0.25), (0.31, 1.0)), pictures=(0.91,))   # (similarity, coverage) per chunk
        >>> evidence.similarity, evidence.coverage, round(evidence.relevance(0.3), 3), evidence.picture_similarity
        (0.62, 1.0, 0.695, 0.91)
    """

    chunks: tuple[tuple[float, float], ...]
    pictures: tuple[float, ...] = ()

    @property
    def similarity(self) -> float:
        """The best cosine similarity of the question to one chunk."""
        return max((sim for sim, _ in self.chunks), default=0.0)

    @property
    def coverage(self) -> float:
        """The largest share of the question's content words found in one chunk."""
        return max((cov for _, cov in self.chunks), default=0.0)

    @property
    def picture_similarity(self) -> float | None:
        """The best similarity of the question to one picture, by the image model (``None``: no picture measured)."""
        return max(self.pictures, default=None)

    def relevance(self, coverage_weight: float) -> float:
        """The best chunk's ``similarity + coverage_weight * coverage``: the value compared with the floor."""
        return max((sim + coverage_weight * cov for sim, cov in self.chunks), default=0.0)

    def passes(self, floor: float, coverage_weight: float, picture_floor: float | None) -> bool:
        """Whether the chunks reach ``floor``, or a picture reaches the image model's ``picture_floor``.

        Args:
            floor: The text floor.
            coverage_weight: Weight of the question's words found.
            picture_floor: The image model's floor (``None``: pictures are measured by their text only).
        """
        best_picture = self.picture_similarity
        if picture_floor is not None and best_picture is not None and best_picture >= picture_floor:
            return True
        return self.relevance(coverage_weight) >= floor


class RelevanceFloor(BaseNodePostprocessor):
    """Pass the retrieved nodes only when they are about the question; otherwise pass none.

    The evidence's relevance is the best cosine similarity of the question's embedding to one chunk of the
    first ``top_n`` nodes (every chunk a page node carries), plus ``coverage_weight`` times the share of the
    question's content words found in their text: meaning, and the words a question names (a component,
    a product, a person) where a short or technical question embeds poorly. A question naming a page, figure
    or table passes when a node is that page or names that item (:func:`finds_named_item`): it asks about
    the document's layout, which embeds poorly, and what it points at was found. With ``image_field`` (a store
    searching pictures by their pixels), a picture among those nodes whose pixel vector reaches the image model's
    floor (:attr:`~llama_index_mmrag.stores.image_field.ImageField.floor`) is evidence too: a chart found by its
    colours holds none of the question's words. Below the floors the list comes
    back empty, so a query engine answers "no evidence" instead of quoting an unrelated document; at or
    above it the nodes pass unchanged. The floor belongs to the embedding model: the default suits the
    packaged all-MiniLM-L6-v2; re-measure it (``benchmarks/offtopic.py``) for another model.

    Args:
        embed_model: The embedding the store was indexed with.
        floor: The least relevance that is answered (0 lets everything pass).
        coverage_weight: Weight of the question's words found in the evidence.
        top_n: How many of the first nodes are read.
        vector_lookup: Stored vectors by chunk id (e.g. :func:`milvus_vector_lookup`); chunks it does not
            hold, or all chunks without it, are embedded from their text.
        image_field: The store's image field (its model embeds the question, its floor judges a picture); ``None``,
            or a field whose floor is not known: pictures are measured by their text only.
        image_vector_lookup: The pictures' stored pixel vectors by chunk id (:func:`milvus_image_vector_lookup`);
            needed with ``image_field``.

    Example:
        >>> floor = RelevanceFloor(embed_model=rag.embed_model, floor=0.3,
        ...                        vector_lookup=milvus_vector_lookup(rag.vector_store))
        >>> floor.postprocess_nodes(rag.as_retriever().retrieve("hello"), query_str="hello")
        []
        >>> nodes = rag.as_retriever().retrieve("hybrid search")
        >>> [n.node.metadata["doc"] for n in floor.postprocess_nodes(nodes, query_str="hybrid search")][:1]
        ['milvus_faq.txt']
    """

    floor: float = Field(default=0.0, ge=0.0, description="The least relevance answered; 0 lets all pass.")
    coverage_weight: float = Field(default=DEFAULT_COVERAGE_WEIGHT, ge=0.0, description="Weight of word coverage.")
    top_n: int = Field(default=10, ge=1, description="How many of the first nodes are read.")
    _embed_model: BaseEmbedding = PrivateAttr()
    _vector_lookup: VectorLookup | None = PrivateAttr(default=None)
    _image_field: ImageField | None = PrivateAttr(default=None)
    _image_vector_lookup: VectorLookup | None = PrivateAttr(default=None)

    def __init__(
        self,
        embed_model: BaseEmbedding,
        floor: float = 0.0,
        coverage_weight: float = DEFAULT_COVERAGE_WEIGHT,
        top_n: int = 10,
        vector_lookup: VectorLookup | None = None,
        image_field: ImageField | None = None,
        image_vector_lookup: VectorLookup | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(floor=floor, coverage_weight=coverage_weight, top_n=top_n, **kwargs)
        if image_field is not None and image_field.floor is not None and image_vector_lookup is None:
            raise ValueError("image_field needs image_vector_lookup: the pictures' stored pixel vectors by chunk id")
        self._embed_model = embed_model
        self._vector_lookup = vector_lookup
        self._image_field = image_field
        self._image_vector_lookup = image_vector_lookup

    @property
    def picture_floor(self) -> float | None:
        """The image model's floor a picture's similarity is compared with (``None``: no image field, or its floor
        is not known)."""
        return self._image_field.floor if self._image_field is not None else None

    @classmethod
    def class_name(cls) -> str:
        return "RelevanceFloor"

    def _chunk_texts(self, nodes: Sequence[NodeWithScore]) -> dict[str, str]:
        """The text of every chunk the first ``top_n`` nodes carry, by chunk id."""
        texts: dict[str, str] = {}
        for nws in nodes[: self.top_n]:
            text = nws.node.get_content(metadata_mode=MetadataMode.NONE)
            ids = chunk_ids(nws)
            spans = nws.node.metadata.get("chunk_spans")
            whole = not (isinstance(spans, list) and len(spans) == len(ids))
            for index, chunk_id in enumerate(ids):
                if chunk_id not in texts:
                    texts[chunk_id] = text if whole else text[spans[index][0] : spans[index][1]]
        return texts

    def _lookup(self, ids: Sequence[str]) -> Mapping[str, Sequence[float]]:
        if self._vector_lookup is None or not ids:
            return {}
        try:
            return self._vector_lookup(ids)
        except Exception as exc:  # the texts are embedded instead: slower, same answer
            logger.warning("stored vectors of %d chunks could not be read (%s); embedding their texts", len(ids), exc)
            return {}

    def _picture_ids(self, nodes: Sequence[NodeWithScore]) -> list[str]:
        """The pictures among the first ``top_n`` nodes, when the image model has a floor to judge them by."""
        if self.picture_floor is None:
            return []
        return list(dict.fromkeys(i for nws in nodes[: self.top_n] for i in image_chunk_ids(nws)))

    def _picture_vectors(self, ids: Sequence[str]) -> list[Sequence[float]]:
        if self._image_vector_lookup is None or not ids:
            return []
        try:
            return list(self._image_vector_lookup(ids).values())
        except Exception as exc:  # the pictures are then measured by their text, as in a store without the field
            logger.warning("pixel vectors of %d pictures could not be read (%s); judging them by text", len(ids), exc)
            return []

    @staticmethod
    def _measure(
        query: Sequence[float],
        vectors: Sequence[Sequence[float]],
        query_str: str,
        texts: Sequence[str],
        pictures: tuple[float, ...] = (),
    ) -> Evidence:
        chunks = tuple((_cosine(query, v), term_coverage(query_str, [t])) for v, t in zip(vectors, texts))
        return Evidence(chunks=chunks, pictures=pictures)

    def evidence(self, query_str: str, nodes: Sequence[NodeWithScore]) -> Evidence:
        """Measure how much the first ``top_n`` nodes are about the question.

        Args:
            query_str: The question.
            nodes: Retrieved nodes, best first.
        """
        texts = self._chunk_texts(nodes)
        stored = dict(self._lookup(list(texts)))
        missing = [i for i in texts if i not in stored]
        if missing:
            stored.update(zip(missing, self._embed_model.get_text_embedding_batch([texts[i] for i in missing])))
        query = self._embed_model.get_query_embedding(query_str)
        pictures: tuple[float, ...] = ()
        vectors = self._picture_vectors(self._picture_ids(nodes))
        if vectors and self._image_field is not None:
            question = self._image_field.question_embedding(query_str)
            pictures = tuple(_cosine(question, v) for v in vectors)
        return self._measure(query, [stored[i] for i in texts], query_str, list(texts.values()), pictures)

    async def aevidence(self, query_str: str, nodes: Sequence[NodeWithScore]) -> Evidence:
        """Native async twin of :meth:`evidence`.

        Args:
            query_str: The question.
            nodes: Retrieved nodes, best first.
        """
        texts = self._chunk_texts(nodes)
        stored = dict(await asyncio.to_thread(self._lookup, list(texts)))
        missing = [i for i in texts if i not in stored]
        if missing:
            stored.update(zip(missing, await self._embed_model.aget_text_embedding_batch([texts[i] for i in missing])))
        query = await self._embed_model.aget_query_embedding(query_str)
        pictures: tuple[float, ...] = ()
        vectors = await asyncio.to_thread(self._picture_vectors, self._picture_ids(nodes))
        if vectors and self._image_field is not None:
            question = await self._image_field.aquestion_embedding(query_str)
            pictures = tuple(_cosine(question, v) for v in vectors)
        return self._measure(query, [stored[i] for i in texts], query_str, list(texts.values()), pictures)

    def passes(self, evidence: Evidence, query_str: str, nodes: Sequence[NodeWithScore]) -> bool:
        """Whether the measured evidence is answered: a chunk reaches the floor, a picture reaches the image model's,
        or the question names a page, figure or table that was found.

        Args:
            evidence: What :meth:`evidence` measured.
            query_str: The question.
            nodes: The retrieved nodes, best first.
        """
        return evidence.passes(self.floor, self.coverage_weight, self.picture_floor) or finds_named_item(
            query_str, nodes[: self.top_n]
        )

    def _decide(self, nodes: list[NodeWithScore], evidence: Evidence, query_str: str) -> list[NodeWithScore]:
        if self.passes(evidence, query_str, nodes):
            return nodes
        relevance = evidence.relevance(self.coverage_weight)
        logger.info("no evidence above the relevance floor (%s: %.3f < %.3f)", evidence, relevance, self.floor)
        return []

    def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
        if not nodes or query_bundle is None or self.floor <= 0:
            return nodes
        return self._decide(nodes, self.evidence(query_bundle.query_str, nodes), query_bundle.query_str)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        if not nodes or query_bundle is None or self.floor <= 0:
            return nodes
        return self._decide(nodes, await self.aevidence(query_bundle.query_str, nodes), query_bundle.query_str)
