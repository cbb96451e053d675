"""Image, table and equation modal processors as LlamaIndex node postprocessors and ingestion transforms.

Each class is both:

- a ``BaseNodePostprocessor`` (query time): the retrieved nodes of its modality come back as enriched
  copies (``description``, ``entity_name`` / ``entity_type`` / ``entity_summary``, the table's markdown,
  the equation's LaTeX; for images an ``ImageNode`` with the picture's path, and its bytes when
  ``multimodal=True``: then the image postprocessor also hands over the page image of every other retrieved
  page that has one, at most ``max_images`` pictures in all), and when the question targets its modality ("which figure", "in the table",
  "the formula" ...) those nodes are lifted by a bounded boost (:mod:`~llama_index_mmrag.processors.intent`).
  Nothing is written back: stored nodes, the vector store and the graph are left alone.
- a ``TransformComponent`` (ingestion time, e.g. in an ``IngestionPipeline``): each node of its modality is
  described once (RAG-Anything's processor with a model, the offline description without) and the
  description becomes the node's text, so it is what gets embedded.

Both hooks have native async twins (``_apostprocess_nodes``, ``acall``); the sync hooks run the same
coroutines on the package's engine loop. Descriptions are cached by content hash (``cache_dir``, or in
memory) and made at most ``concurrency`` at a time.

Example:
    >>> from llama_index.core import VectorStoreIndex
    >>> from llama_index.core.ingestion import IngestionPipeline
    >>> from llama_index_mmrag import RAGAnythingReader
    >>> from llama_index_mmrag.models.embeddings import local_embedding
    >>> image = ImageModalPostprocessor()  # offline; with a model: ImageModalPostprocessor(vlm=qwen_vl, cache_dir="./cache")
    >>> embed_model = local_embedding()
    >>> docs = RAGAnythingReader().load_data(["milvus_architecture.png"])
    >>> nodes = IngestionPipeline(transformations=[image, embed_model]).run(documents=docs)
    >>> nodes[0].metadata["entity_name"], len(nodes[0].embedding)
    ('image showing Milvus Architecture in milvus_architecture.png (image)', 384)
    >>> retriever = VectorStoreIndex(nodes, embed_model=embed_model).as_retriever()
    >>> found = image.postprocess_nodes(retriever.retrieve("Which figure shows the Query Node?"),
    ...                                 query_str="Which figure shows the Query Node?")
    >>> found[0].node.metadata["image_path"].endswith(".png")
    True
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.llms import LLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import (
    BaseNode,
    ImageNode,
    MediaResource,
    Node,
    NodeWithScore,
    QueryBundle,
    TransformComponent,
)
from pydantic import computed_field

from llama_index_mmrag.processors.annotate import adescribe_nodes
from llama_index_mmrag.processors.describer import OFFLINE, ModalDescriber, ModalDescription
from llama_index_mmrag.processors.intent import DEFAULT_BOOST, lift_modality, node_is, targeted_modalities
from llama_index_mmrag.processors.offline import offline_entity_info
from llama_index_mmrag.schema import HIDDEN_FROM_LLM, block_from_node, node_image, node_modality

logger = logging.getLogger(__name__)

DEFAULT_MAX_IMAGE_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_IMAGES = 6
"""Pictures handed to a multimodal answering LLM per answer, at most (``ImageModalPostprocessor.max_images``)."""


def _run_sync(coro: Any) -> Any:
    from llama_index_mmrag.runtime import engine_loop

    return engine_loop().run(coro)


class ModalPostprocessor(BaseNodePostprocessor, TransformComponent):
    """Shared behaviour of the three modal postprocessors (use a subclass).

    Args:
        llm: A LlamaIndex LLM for tables and equations (``None``: the ``vlm``, else offline).
        vlm: A multimodal LlamaIndex LLM for images (``None``: images are described offline).
        cache_dir: Folder of the persistent description cache (``None``: in memory).
        concurrency: Descriptions made at once, at most.
        boost: Share of the candidate list's score range added to this modality's nodes when the question
            targets it (0 turns re-scoring off).
        describe_missing: At query time, describe retrieved nodes that were never described (no
            ``description_model`` metadata, e.g. nodes built by hand) the way ingestion does: with the model,
            or offline (an image's text read by OCR from its ``image_path``, its base64 ``image`` or its
            resource; a table's caption, header and shape). Results are cached.
        ocr: Offline, read the text in images no parser has read (``ocr_text`` metadata absent).
        on_error: ``"raise"`` or ``"offline"`` (fall back to the offline description) when a model fails.
        context_window: Surrounding text in the model prompt, in pages (or items) on each side.
        max_context_tokens: Token budget of that surrounding text.
        describer: A :class:`ModalDescriber` to share (its models, cache and concurrency then apply).

    Example:
        >>> table = TableModalPostprocessor(cache_dir="descriptions", boost=0.2)   # offline: no model
        >>> isinstance(table, ModalPostprocessor), table.modality, table.describer_model
        (True, 'table', 'offline')
    """

    modality: ClassVar[str] = ""
    body_key: ClassVar[str] = ""  # the block field shown to the answering LLM at query time, if any

    llm: LLM | None = Field(default=None, exclude=True, description="LLM for tables and equations.")
    vlm: LLM | None = Field(default=None, exclude=True, description="Multimodal LLM for images.")
    cache_dir: str | None = Field(default=None, description="Folder of the persistent description cache.")
    concurrency: int = Field(default=8, ge=1, le=256, description="Descriptions made at once, at most.")
    boost: float = Field(
        default=DEFAULT_BOOST, ge=0.0, le=1.0, description="Bounded lift when the question targets the modality."
    )
    describe_missing: bool = Field(
        default=True, description="Describe never-described nodes at query time (with the model, or offline)."
    )
    ocr: bool = Field(default=True, description="Offline: OCR images no parser has read.")
    on_error: Literal["raise", "offline"] = Field(default="raise", description="What a failed model call does.")
    context_window: int = Field(default=1, ge=0, description="Pages of surrounding text in the prompt, each side.")
    max_context_tokens: int = Field(default=1000, ge=0, description="Token budget of the surrounding text.")

    _describer: ModalDescriber = PrivateAttr()

    def __init__(
        self, llm: LLM | None = None, vlm: LLM | None = None, *, describer: ModalDescriber | None = None, **kwargs: Any
    ) -> None:
        if describer is not None:
            if llm is not None or vlm is not None:
                raise ValueError(
                    "Pass either llm/vlm or a shared describer, not both: the describer brings its models."
                )
            captioner = describer.captioner
            llm = captioner.llm if captioner is not None else None
            vlm = captioner.vlm if captioner is not None else None
            kwargs.setdefault("concurrency", describer.concurrency)
            kwargs.setdefault("ocr", describer.ocr)
            kwargs.setdefault("on_error", describer.on_error)
            if describer.cache.path is not None:
                kwargs.setdefault("cache_dir", str(describer.cache.path.parent))
        super().__init__(llm=llm, vlm=vlm, **kwargs)
        if not self.modality:
            raise TypeError(
                "ModalPostprocessor is abstract: use ImageModalPostprocessor, TableModalPostprocessor or "
                "EquationModalPostprocessor"
            )
        self._describer = describer or ModalDescriber(
            llm,
            vlm,
            cache_dir=self.cache_dir,
            concurrency=self.concurrency,
            ocr=self.ocr,
            on_error=self.on_error,
            context_window=self.context_window,
            max_context_tokens=self.max_context_tokens,
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def describer_model(self) -> str:
        """Who describes this modality: a model id or ``"offline"`` (part of the ingestion-cache hash)."""
        private = getattr(self, "__pydantic_private__", None) or {}
        describer: ModalDescriber | None = private.get("_describer")  # unset while pydantic is still validating
        return describer.model_for(self.modality) if describer is not None else OFFLINE

    @property
    def describer(self) -> ModalDescriber:
        """The describer (models, cache, statistics)."""
        return self._describer

    # ------------------------------------------------------------------------------------------ ingestion

    def _needs_ingestion(self, node: BaseNode) -> bool:
        done = node.metadata.get("description_model")
        if done is None:
            return True
        return self.describer_model != OFFLINE and done != self.describer_model

    async def _adescribe_for_ingestion(self, nodes: Sequence[BaseNode]) -> list[BaseNode]:
        await adescribe_nodes(self._describer, nodes, [self.modality], needed=self._needs_ingestion)
        return list(nodes)

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        """Describe this modality's nodes once; the description becomes their text (ingestion transform).

        Args:
            nodes: Nodes in document order (text nodes of the same document give context).
            **kwargs: Ignored (an ``IngestionPipeline`` passes its own).

        Returns:
            The same nodes, changed in place.
        """
        if not any(node_modality(n) == self.modality for n in nodes):
            return list(nodes)
        return _run_sync(self._adescribe_for_ingestion(nodes))

    async def acall(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[BaseNode]:
        """Async twin of :meth:`__call__` (native: model calls run concurrently on the caller's loop)."""
        return await self._adescribe_for_ingestion(nodes)

    # ------------------------------------------------------------------------------------------ query time

    def _pending(self, nodes: Sequence[NodeWithScore]) -> list[BaseNode]:
        """This modality's nodes that were never described (nodes described at ingestion are left alone)."""
        if not self.describe_missing:
            return []
        return [n.node for n in nodes if node_is(n, self.modality) and "description_model" not in n.node.metadata]

    async def _adescribe_pending(self, pending: Sequence[BaseNode]) -> dict[str, ModalDescription]:
        if not pending:
            return {}
        results = await self._describer.adescribe_nodes(pending, [self.modality])
        return {r.node_id: r for r in results if r.node_id is not None}

    def _finish(
        self, nodes: Sequence[NodeWithScore], described: dict[str, ModalDescription], query_bundle: QueryBundle | None
    ) -> list[NodeWithScore]:
        enriched = [
            NodeWithScore(node=self._enrich_or_keep(n.node, described.get(n.node.node_id)), score=n.score)
            if node_is(n, self.modality)
            else n
            for n in nodes
        ]
        if query_bundle is not None and self.modality in targeted_modalities(query_bundle.query_str):
            return lift_modality(enriched, self.modality, self.boost)
        return enriched

    def _postprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        pending = self._pending(nodes)
        described = _run_sync(self._adescribe_pending(pending)) if pending else {}
        return self._finish(nodes, described, query_bundle)

    async def _apostprocess_nodes(
        self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None
    ) -> list[NodeWithScore]:
        described = await self._adescribe_pending(self._pending(nodes))
        return self._finish(nodes, described, query_bundle)

    def _enrich_or_keep(self, node: BaseNode, described: ModalDescription | None) -> BaseNode:
        """:meth:`_enrich`, or the node unchanged with a warning naming it when its metadata cannot be read."""
        try:
            return self._enrich(node, described)
        except (ValueError, TypeError, KeyError, OSError) as exc:
            logger.warning(
                "%s: node %s (%s) could not be enriched: %s; it is passed on unchanged",
                self.class_name(),
                node.node_id,
                node.metadata.get("doc") or "no doc",
                exc,
            )
            return node

    def _enrich(self, node: BaseNode, described: ModalDescription | None) -> BaseNode:
        """A copy of ``node`` with its description and entity in metadata (the stored node is not touched).

        A node with no text (an ``ImageNode`` built by hand) gets its description as its text, as ingestion
        would have given it, so the answering step has something to read.
        """
        copy = node.model_copy()
        copy.metadata = dict(node.metadata)
        meta = copy.metadata  # read back: assignment may validate (copy) the dict
        hidden = list(node.excluded_llm_metadata_keys)
        copy.excluded_embed_metadata_keys = list(node.excluded_embed_metadata_keys)
        text = node.get_content()
        if described is not None:
            meta.update(described.node_metadata())
            description = described.description
            if not text.strip() and description.strip():
                text = description
                copy.set_content(text)
        else:
            description = text
            if not meta.get("entity_name"):
                info = offline_entity_info(block_from_node(node)[0])
                meta.update(
                    entity_name=info["entity_name"], entity_type=info["entity_type"], entity_summary=info["summary"]
                )
        meta["description"] = description
        hidden += [k for k in HIDDEN_FROM_LLM if k not in hidden]  # a modality shows its body below
        if description.strip() == text.strip() and "description" not in hidden:
            hidden.append("description")  # already the node's text: do not say it twice
        copy.excluded_llm_metadata_keys = hidden
        return self._attach(copy, node, text)

    def _attach(self, copy: BaseNode, node: BaseNode, text: str) -> BaseNode:
        """Modality-specific additions to the query-time copy: by default the block's ``body_key`` field
        (a table's markdown, an equation's LaTeX) is shown unless the node's text already contains it."""
        if not self.body_key:
            return copy
        body = str(copy.metadata.get(self.body_key) or "")
        if not body:
            body = getattr(block_from_node(node)[0], self.body_key) or ""
            copy.metadata[self.body_key] = body
        if body.strip() and body.strip() not in text:
            self._show(copy, self.body_key)
        else:
            self._hide(copy, self.body_key)
        return copy

    @staticmethod
    def _show(copy: BaseNode, key: str) -> None:
        copy.excluded_llm_metadata_keys = [k for k in copy.excluded_llm_metadata_keys if k != key]

    @staticmethod
    def _hide(copy: BaseNode, key: str) -> None:
        if key not in copy.excluded_llm_metadata_keys:
            copy.excluded_llm_metadata_keys = [*copy.excluded_llm_metadata_keys, key]


class ImageModalPostprocessor(ModalPostprocessor):
    """Images: RAG-Anything's ``ImageModalProcessor`` with a vlm (OCR + caption + context without one).

    At query time the copy is an ``ImageNode`` with the picture's ``image_path``; with ``multimodal=True``
    it also carries the picture's bytes (base64, only on the returned copy, never stored) and shows its
    description as metadata, because an ``ImageNode``'s content blocks carry no text. With ``multimodal=True``
    the pages are handed over as well: a retrieved node of any other modality whose page has a page image
    (``page_image_path``, a slide or a scanned or chart-heavy page rendered at ingestion) comes back as a
    LlamaIndex ``Node`` carrying its text and that picture. Pictures go best node first, a page image once (a
    page retrieved twice, or as its page image, brings its picture once), at most ``max_images`` in all; the
    nodes past that keep their path only. Hand the nodes to a multimodal synthesizer: the facade's
    (``rag.as_query_engine(multimodal=True)``) sends them all to the VLM in one call per answer.

    Args:
        multimodal: Attach the pictures (the images retrieved, the page images of the pages retrieved) for a
            multimodal answering LLM.
        max_images: Most pictures attached per call (per answer), best node first; 0 attaches none.
        max_image_bytes: Larger pictures keep only their path.
        **kwargs: See :class:`ModalPostprocessor`.

    Example:
        >>> retrieved = rag.as_retriever(modalities=["image"]).retrieve("architecture diagram")
        >>> image = ImageModalPostprocessor()  # offline; with a model: ImageModalPostprocessor(vlm=qwen_vl)
        >>> nodes = image.postprocess_nodes(retrieved, query_str="Which figure shows the Query Node?")
        >>> nodes[0].node.metadata["entity_name"]
        'image showing Milvus Architecture in milvus_architecture.png (image)'
    """

    modality: ClassVar[str] = "image"
    multimodal: bool = Field(default=False, description="Attach the picture's bytes for a multimodal LLM.")
    max_images: int = Field(default=DEFAULT_MAX_IMAGES, ge=0, description="Most pictures attached per answer.")
    max_image_bytes: int = Field(default=DEFAULT_MAX_IMAGE_BYTES, gt=0, description="Largest picture attached.")

    @classmethod
    def class_name(cls) -> str:
        return "ImageModalPostprocessor"

    def _finish(
        self, nodes: Sequence[NodeWithScore], described: dict[str, ModalDescription], query_bundle: QueryBundle | None
    ) -> list[NodeWithScore]:
        finished = super()._finish(nodes, described, query_bundle)
        return self._hand_pictures(finished) if self.multimodal else finished

    def _hand_pictures(self, nodes: list[NodeWithScore]) -> list[NodeWithScore]:
        """Attach each node's picture, best node first, at most :attr:`max_images` in all: an image its own
        picture, any other node the page image of its page unless that picture was attached already."""
        handed: set[str] = set()
        count = 0
        out: list[NodeWithScore] = []
        for nws in nodes:
            node = nws.node
            own = node_is(nws, self.modality)
            path, data = node_image(node) if own else (_page_image(node), None)
            fresh = own or (path is not None and path not in handed)
            wanted = (path is not None or data is not None) and fresh and count < self.max_images
            if wanted and data is None and path:
                data = _read_small(Path(path), self.max_image_bytes)
            if not wanted or data is None or len(data) > self.max_image_bytes:
                if own and isinstance(node, ImageNode) and node.image:  # past the budget, or handed: the path only
                    nws = NodeWithScore(node=node.model_copy(update={"image": None}), score=nws.score)
                out.append(nws)
                continue
            count += 1
            if path:
                handed.add(path)
            out.append(NodeWithScore(node=_with_picture(node, data, own), score=nws.score))
        return out

    def _attach(self, copy: BaseNode, node: BaseNode, text: str) -> BaseNode:
        path, data = node_image(node)
        if not isinstance(copy, ImageNode):
            copy = ImageNode(
                id_=node.node_id,
                text=text,
                metadata=copy.metadata,
                excluded_embed_metadata_keys=copy.excluded_embed_metadata_keys,
                excluded_llm_metadata_keys=copy.excluded_llm_metadata_keys,
                relationships=dict(node.relationships),
                image_path=path,
            )
        elif path and not copy.image_path:
            copy.image_path = path
        if self.multimodal:
            self._show(copy, "description")  # the picture itself is attached by _hand_pictures
        return copy


def _page_image(node: BaseNode) -> str | None:
    """The page image of a node's page (``page_image_path`` metadata), if it has one."""
    path = node.metadata.get("page_image_path")
    return str(path) if path else None


def _with_picture(node: BaseNode, data: bytes, own: bool) -> BaseNode:
    """A copy of ``node`` carrying picture bytes for a multimodal LLM: an image node's own ``image``; any other node
    becomes a ``Node`` with its text and the picture (its id, metadata and relationships kept)."""
    from raganything.image_signature import SIGNATURE_BYTES, image_mime_type

    mimetype = image_mime_type(data[:SIGNATURE_BYTES])
    if own and isinstance(node, ImageNode):
        copy = node.model_copy()
        copy.image = base64.b64encode(data).decode("ascii")
        copy.image_mimetype = mimetype or copy.image_mimetype
        return copy
    return Node(
        id_=node.node_id,
        text_resource=MediaResource(text=node.get_content()),
        image_resource=MediaResource(data=data, mimetype=mimetype, path=Path(str(_page_image(node)))),
        metadata=dict(node.metadata),
        excluded_embed_metadata_keys=list(node.excluded_embed_metadata_keys),
        excluded_llm_metadata_keys=list(node.excluded_llm_metadata_keys),
        relationships=dict(node.relationships),
    )


def _read_small(path: Path, limit: int) -> bytes | None:
    try:
        if path.stat().st_size > limit:
            return None
        return path.read_bytes()
    except OSError:
        return None


class TableModalPostprocessor(ModalPostprocessor):
    """Tables: RAG-Anything's ``TableModalProcessor`` with an llm (caption + header + shape + body without).

    At query time the copy shows the table's markdown (``table_body``) to the answering LLM unless the
    node's text already contains it.

    Args:
        **kwargs: See :class:`ModalPostprocessor`.

    Example:
        >>> from llama_index.core.schema import NodeWithScore
        >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
        >>> recall = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
        ...                       table_body="| Index | Recall |\\n|---|---|\\n| HNSW | 0.98 |", captions=["Table 2: Recall"])
        >>> retrieved = [NodeWithScore(node=node, score=0.8) for node in blocks_to_nodes([recall])]
        >>> table = TableModalPostprocessor()  # offline; with a model: TableModalPostprocessor(llm=qwen_max)
        >>> nodes = table.postprocess_nodes(retrieved, query_str="In the table, what is HNSW's recall?")
        >>> nodes[0].node.metadata["entity_name"]
        'Table 2: Recall in bench.pdf (table)'
    """

    modality: ClassVar[str] = "table"
    body_key: ClassVar[str] = "table_body"

    @classmethod
    def class_name(cls) -> str:
        return "TableModalPostprocessor"


class EquationModalPostprocessor(ModalPostprocessor):
    """Equations: RAG-Anything's ``EquationModalProcessor`` with an llm (LaTeX + caption + context without).

    At query time the copy shows the equation's LaTeX (``latex``) to the answering LLM unless the node's
    text already contains it.

    Args:
        **kwargs: See :class:`ModalPostprocessor`.

    Example:
        >>> from llama_index.core.schema import NodeWithScore
        >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
        >>> cosine = ContentBlock(modality="equation", doc="paper.pdf", doc_id="h", parser="mmrag", page=4,
        ...                       latex="cos(u, v) = u^T v / (|u| |v|)", captions=["Cosine similarity"])
        >>> retrieved = [NodeWithScore(node=node, score=0.7) for node in blocks_to_nodes([cosine])]
        >>> eq = EquationModalPostprocessor()  # offline; with a model: EquationModalPostprocessor(llm=qwen_max)
        >>> nodes = eq.postprocess_nodes(retrieved, query_str="Which formula defines cosine similarity?")
        >>> nodes[0].node.metadata["entity_name"], nodes[0].node.metadata["latex"]
        ('Cosine similarity in paper.pdf (equation)', 'cos(u, v) = u^T v / (|u| |v|)')
    """

    modality: ClassVar[str] = "equation"
    body_key: ClassVar[str] = "latex"

    @classmethod
    def class_name(cls) -> str:
        return "EquationModalPostprocessor"


def default_postprocessors(
    llm: LLM | None = None,
    vlm: LLM | None = None,
    *,
    cache_dir: str | Path | None = None,
    concurrency: int = 8,
    multimodal: bool = False,
    boost: float = DEFAULT_BOOST,
    describe_missing: bool = True,
    on_error: Literal["raise", "offline"] = "raise",
    describer: ModalDescriber | None = None,
) -> list[BaseNodePostprocessor]:
    """The three modal postprocessors sharing one describer (one cache, one concurrency budget).

    The same objects work as ingestion transforms.

    Args:
        llm: LLM for tables and equations (``None``: the ``vlm``, else offline).
        vlm: Multimodal LLM for images (``None``: offline).
        cache_dir: Folder of the persistent description cache (``None``: in memory).
        concurrency: Descriptions made at once, over all three.
        multimodal: Attach pictures (retrieved images, page images of retrieved pages) for a multimodal
            answering LLM.
        boost: Bounded lift for nodes of a modality the question targets.
        describe_missing: Describe never-described nodes at query time (with a model; cached).
        on_error: ``"raise"`` or ``"offline"`` when a model call fails.
        describer: Share an existing describer instead (its models, cache and concurrency apply).

    Returns:
        ``[ImageModalPostprocessor, TableModalPostprocessor, EquationModalPostprocessor]``.

    Example:
        >>> from llama_index_mmrag.processors import default_postprocessors
        >>> [type(p).__name__ for p in default_postprocessors()]
        ['ImageModalPostprocessor', 'TableModalPostprocessor', 'EquationModalPostprocessor']
    """
    shared = describer or ModalDescriber(llm, vlm, cache_dir=cache_dir, concurrency=concurrency, on_error=on_error)
    common: dict[str, Any] = {
        "describer": shared,
        "boost": boost,
        "describe_missing": describe_missing,
        "on_error": on_error,
    }
    return [
        ImageModalPostprocessor(multimodal=multimodal, **common),
        TableModalPostprocessor(**common),
        EquationModalPostprocessor(**common),
    ]
