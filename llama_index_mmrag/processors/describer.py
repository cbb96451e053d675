"""ModalDescriber: describe every image, table and equation once, with a model or without one.

- With a model, RAG-Anything's modal processors write the description (one call per item, see
  :mod:`llama_index_mmrag.processors.rag_anything`): images need a ``vlm``; tables and equations use the
  ``llm`` (or the ``vlm`` when there is no text LLM).
- Without one, the deterministic description of :mod:`llama_index_mmrag.processors.offline` is used; an
  image with no OCR text yet is read with the packaged OCR first.

Model descriptions are cached by content hash (image bytes / table body / LaTeX, plus the model) in a
:class:`~llama_index_mmrag.processors.cache.DescriptionCache`, and the same item met twice in one run is
described once. At most ``concurrency`` model calls (or OCR jobs) run at a time.

Example:
    >>> import asyncio
    >>> from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> table = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
    ...                      table_body="| Index | Recall |\\n|---|---|\\n| HNSW | 0.98 |")
    >>> describer = ModalDescriber(llm=DashScopeLLM(), vlm=DashScopeMultiModalLLM(), cache_dir="./mmrag_storage/cache")
    >>> results = asyncio.run(describer.adescribe([table]))  # sets table.description; or await in async code
    >>> results[0].model, table.description == results[0].description
    ('DashScopeLLM:qwen-max', True)
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from llama_index.core.llms import LLM
from llama_index.core.schema import BaseNode

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema import ContentBlock
from llama_index_mmrag.schema.tables import table_shape
from llama_index_mmrag.processors.cache import DescriptionCache, cache_key
from llama_index_mmrag.processors.items import (
    ModalItem,
    ModalItemError,
    items_from_blocks,
    items_from_nodes,
)
from llama_index_mmrag.processors.offline import describe_offline, offline_entity_info
from llama_index_mmrag.processors.rag_anything import ModalDescriptionError, RAGAnythingCaptioner

logger = logging.getLogger(__name__)

OFFLINE = "offline"
"""The ``model`` of a description made without an LLM."""
OCR_MODEL = "rapidocr"

OnError = Literal["raise", "offline"]


@dataclass
class ModalDescription:
    """The description of one image, table or equation.

    Args:
        modality: ``image``, ``table`` or ``equation``.
        description: The text that stands for the item (its node text begins with it, followed by whatever of the
            item's own content it does not hold: :func:`~llama_index_mmrag.schema.with_raw_content`).
        entity_info: ``{"entity_name", "entity_type", "summary"}`` (RAG-Anything's shape).
        model: Who described it: a model id (``DashScopeMultiModalLLM:qwen-vl-max``) or ``"offline"``.
        cached: Whether it came from the cache (no model call).
        doc: The document's file name.
        doc_id: The document's content hash.
        block_index: The item's position in its document's content list.
        node_id: The node's id, when the item came from a node.
        table_headers: A table's header cells (empty for other modalities).
        body: A table's markdown or an equation's LaTeX (``None`` for images).
        image_path: An image's file path (``None`` for other modalities or inline images).
        error: Why a model description fell back to the offline one (``on_error="offline"``), or why an
            image could not be read by OCR; ``None`` when all went well.

    Example:
        >>> from llama_index_mmrag.schema import ContentBlock
        >>> recall = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
        ...                       table_body="| index | recall |\\n| --- | --- |\\n| HNSW | 0.98 |", captions=["Table 1: Recall"])
        >>> [result] = ModalDescriber().describe([recall])                  # offline: no model
        >>> result.modality, result.model, result.table_headers, result.cached
        ('table', 'offline', ['index', 'recall'], False)
        >>> result.node_metadata()["description_model"]
        'offline'
    """

    modality: str
    description: str
    entity_info: dict[str, str]
    model: str
    cached: bool = False
    doc: str = ""
    doc_id: str = ""
    block_index: int = 0
    node_id: str | None = None
    table_headers: list[str] = field(default_factory=list)
    body: str | None = None
    image_path: str | None = None
    error: str | None = None

    def node_metadata(self) -> dict[str, Any]:
        """The metadata a node of this item gets: entity name, type and summary, who described it, headers."""
        meta: dict[str, Any] = {
            "entity_name": self.entity_info.get("entity_name", ""),
            "entity_type": self.entity_info.get("entity_type", self.modality),
            "entity_summary": self.entity_info.get("summary", ""),
            "description_model": self.model,
        }
        if self.modality == "table":
            meta["table_headers"] = list(self.table_headers)
        return meta


@dataclass
class DescriberStats:
    """What a describer did.

    Args:
        model_calls: Model calls per modality (one per described item; cache hits make none).
        cache_hits: Items answered from the cache.
        offline: Items described without a model.
        ocr_runs: Images read by OCR (cache misses).

    Example:
        >>> from llama_index_mmrag.schema import ContentBlock
        >>> recall = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
        ...                       table_body="| index | recall |\\n| --- | --- |\\n| HNSW | 0.98 |")
        >>> describer = ModalDescriber()
        >>> _ = describer.describe([recall])
        >>> describer.stats.offline, describer.stats.total_calls, describer.stats.cache_hits
        (1, 0, 0)
    """

    model_calls: dict[str, int] = field(default_factory=lambda: {m: 0 for m in MODALITIES.modal_names()})
    cache_hits: int = 0
    offline: int = 0
    ocr_runs: int = 0

    @property
    def total_calls(self) -> int:
        """Model calls over all modalities."""
        return sum(self.model_calls.values())


class ModalDescriber:
    """Describes images, tables and equations for the facade, the ingestion transforms and the postprocessors.

    Args:
        llm: Any LlamaIndex LLM for tables and equations (``None``: the ``vlm``, else offline).
        vlm: A multimodal LlamaIndex LLM (chat with ``ImageBlock``) for images (``None``: images offline).
        cache_dir: Folder of the persistent description cache; ``None`` caches in memory.
        concurrency: Model calls (or OCR jobs) in flight at most.
        ocr: Read the text in images no parser has read (offline descriptions; see
            :attr:`~llama_index_mmrag.schema.ContentBlock.text_read`): every image is read once, by its parser
            or here.
        on_error: ``"raise"``: a failed model call raises :class:`ModalDescriptionError`; ``"offline"``: the
            item gets its offline description and the reason in :attr:`ModalDescription.error`.
        context_window: Surrounding text in the model prompt, in pages (or items, ``context_mode="chunk"``)
            on each side of the item.
        context_mode: ``"page"`` or ``"chunk"``.
        max_context_tokens: Token budget of the surrounding text in the prompt.
        cache: A cache to share (overrides ``cache_dir``).

    Raises:
        ValueError: On a bad ``concurrency``, ``on_error`` or context setting.

    Example:
        >>> describer = ModalDescriber()                       # offline: no model, no network
        >>> describer.model_for("image")
        'offline'
        >>> from llama_index_mmrag import RAGAnythingReader
        >>> blocks = RAGAnythingReader().parse("milvus_architecture.png").blocks
        >>> results = describer.describe(blocks)
        >>> results[0].entity_info["entity_name"]
        'image showing Milvus Architecture in milvus_architecture.png (image)'
    """

    def __init__(
        self,
        llm: LLM | None = None,
        vlm: LLM | None = None,
        *,
        cache_dir: str | Path | None = None,
        concurrency: int = 8,
        ocr: bool = True,
        on_error: OnError = "raise",
        context_window: int = 1,
        context_mode: str = "page",
        max_context_tokens: int = 1000,
        cache: DescriptionCache | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if on_error not in ("raise", "offline"):
            raise ValueError(f"on_error must be 'raise' or 'offline', not {on_error!r}")
        self.concurrency = concurrency
        self.ocr = ocr
        self.on_error: OnError = on_error
        self.cache = cache if cache is not None else DescriptionCache(cache_dir)
        self.captioner: RAGAnythingCaptioner | None = None
        if llm is not None or vlm is not None:
            self.captioner = RAGAnythingCaptioner(
                llm,
                vlm,
                context_window=context_window,
                context_mode=context_mode,
                max_context_tokens=max_context_tokens,
            )
        self.stats = DescriberStats()
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    # ------------------------------------------------------------------------------------------ models

    def model_for(self, modality: str) -> str:
        """Who describes ``modality``: a model id, or ``"offline"``.

        Args:
            modality: ``image``, ``table`` or ``equation``.
        """
        if self.captioner is None:
            return OFFLINE
        return self.captioner.model_for(modality) or OFFLINE

    # ------------------------------------------------------------------------------------------ public API

    async def adescribe(self, blocks: Sequence[ContentBlock]) -> list[ModalDescription]:
        """Describe the image, table and equation blocks of one or more documents; set ``block.description``.

        Every modal block is described; a model is called only for content it has not described before
        (cache), and once for content that occurs several times.

        Args:
            blocks: Blocks in reading order (text blocks give the context; they are left alone).

        Returns:
            One description per modal block, in block order.

        Raises:
            ModalDescriptionError: When a model call fails and ``on_error="raise"``.
        """
        items = items_from_blocks(blocks)
        results = await self.adescribe_items(items)
        for item, result in zip(items, results):
            item.block.description = result.description
        return results

    def describe(self, blocks: Sequence[ContentBlock]) -> list[ModalDescription]:
        """Sync twin of :meth:`adescribe` (runs on the package's engine loop; do not call it from that loop).

        Args:
            blocks: Blocks in reading order.
        """
        from llama_index_mmrag.runtime import engine_loop

        return engine_loop().run(self.adescribe(blocks))

    async def adescribe_nodes(
        self, nodes: Sequence[BaseNode], modalities: Iterable[str] | None = None
    ) -> list[ModalDescription]:
        """Describe the modal nodes of a list of nodes (text nodes of the same document give context).

        Nodes are not changed; see :func:`llama_index_mmrag.processors.annotate.apply_description`.

        Args:
            nodes: Nodes in document order.
            modalities: Which modalities to describe; every registered modal one when ``None``.

        Returns:
            One description per matching node, in node order (``node_id`` set).
        """
        return await self.adescribe_items(items_from_nodes(nodes, modalities))

    async def adescribe_items(self, items: Sequence[ModalItem]) -> list[ModalDescription]:
        """Describe items concurrently (bounded by ``concurrency``), each at most once per model.

        Args:
            items: Items from :func:`~llama_index_mmrag.processors.items.items_from_blocks` or ``_nodes``.
        """
        if not items:
            return []
        return list(await asyncio.gather(*(self._describe(item) for item in items)))

    # ------------------------------------------------------------------------------------------ internals

    def _semaphore(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.concurrency)
        return semaphore

    async def _once(self, key: str, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work`` once per key at a time: callers asking for the same key share one result."""
        loop = asyncio.get_running_loop()
        future = self._inflight.get(key)
        if future is None or future.get_loop() is not loop:
            future = asyncio.ensure_future(work())
            self._inflight[key] = future

            def forget(done: asyncio.Future[Any], key: str = key) -> None:
                if self._inflight.get(key) is done:
                    del self._inflight[key]

            future.add_done_callback(forget)
        return await asyncio.shield(future)

    def _result(
        self, item: ModalItem, description: str, entity_info: dict[str, Any], model: str, **extra: Any
    ) -> ModalDescription:
        block = item.block
        headers = table_shape(block.table_body or "")[0] if block.modality == "table" else []
        body: str | None = None
        if block.modality == "table":
            body = block.table_body
        elif block.modality == "equation":
            body = block.latex or block.text
        info = {
            "entity_name": str(entity_info.get("entity_name", "")),
            "entity_type": str(entity_info.get("entity_type", block.modality)),
            "summary": str(entity_info.get("summary", "")),
        }
        return ModalDescription(
            modality=block.modality,
            description=description,
            entity_info=info,
            model=model,
            doc=block.doc,
            doc_id=block.doc_id,
            block_index=block.index,
            node_id=item.node_id,
            table_headers=headers,
            body=body,
            image_path=block.img_path if block.modality == "image" else None,
            **extra,
        )

    async def _describe(self, item: ModalItem) -> ModalDescription:
        model = self.model_for(item.modality)
        if model == OFFLINE:
            return await self._describe_offline(item)
        try:
            key = cache_key(item.modality, item.payload(), model)
        except ModalItemError as exc:
            return await self._failed(item, exc)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats.cache_hits += 1
            return self._result(item, hit["description"], hit["entity_info"], model, cached=True)
        try:
            description, entity_info = await self._once(key, lambda: self._call_model(item, key))
        except ModalDescriptionError as exc:
            return await self._failed(item, exc)
        return self._result(item, description, entity_info, model)

    async def _call_model(self, item: ModalItem, key: str) -> tuple[str, dict[str, Any]]:
        assert self.captioner is not None
        async with self._semaphore():
            description, entity_info = await self.captioner.adescribe(item)
        self.stats.model_calls[item.modality] += 1
        self.cache.put(key, {"description": description, "entity_info": entity_info})
        return description, entity_info

    async def _failed(self, item: ModalItem, exc: Exception) -> ModalDescription:
        if self.on_error == "raise":
            if item.node_id is not None:  # a node's item: say which node
                raise ModalDescriptionError(_named(item, str(exc))) from exc
            if isinstance(exc, ModalDescriptionError):
                raise exc
            raise ModalDescriptionError(str(exc)) from exc
        logger.warning("%s; using the offline description instead", _named(item, str(exc)))
        result = await self._describe_offline(item)
        result.error = str(exc)
        return result

    async def _describe_offline(self, item: ModalItem) -> ModalDescription:
        block = item.block
        error: str | None = None
        text = block.text
        if block.modality == "image" and not text.strip() and not block.text_read and self.ocr:
            try:
                text = await self._ocr(item)
            except (ModalItemError, OSError, ValueError, RuntimeError) as exc:
                error = _named(item, f"OCR could not read the image: {exc}")
                logger.warning("%s; the description has only its caption, file name and context", error)
        elif block.modality != "image":
            try:
                item.payload()
            except ModalItemError as exc:
                error = _named(item, str(exc))
                logger.warning("%s", error)
        seen = block.model_copy(update={"text": text})
        self.stats.offline += 1
        description = describe_offline(seen, item.neighbour_text)
        return self._result(item, description, offline_entity_info(seen), OFFLINE, error=error)

    async def _ocr(self, item: ModalItem) -> str:
        data = item.read_image()
        key = cache_key("ocr", data, OCR_MODEL)
        hit = self.cache.get(key)
        if hit is not None:
            return str(hit["text"])

        async def run() -> str:
            from llama_index_mmrag.parsing.ocr import ocr_text

            async with self._semaphore():
                text = await asyncio.to_thread(_ocr_bytes, ocr_text, data)
            self.stats.ocr_runs += 1
            self.cache.put(key, {"text": text})
            return text

        return str(await self._once(key, run))


def _ocr_bytes(ocr_text: Callable[[Any], str], data: bytes) -> str:
    from llama_index_mmrag.parsing.ocr import ImageReadError

    try:
        return ocr_text(data)
    except ImageReadError as exc:
        raise ModalItemError(str(exc)) from exc


def _named(item: ModalItem, problem: str) -> str:
    """``problem`` prefixed with where the item is and, when it came from a node, the node's id.

    Example: ``node chunk-7 (report.pdf, page 2, table): the table is empty; nothing to describe.``
    """
    problem = problem.replace(f"{item.label}: ", "")  # said once, in front
    where = f"node {item.node_id} ({item.label})" if item.node_id else item.label
    return f"{where}: {problem}"
