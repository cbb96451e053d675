"""RAG-Anything's modal processors, description only: one LLM call per item and no graph side effects.

``ImageModalProcessor``, ``TableModalProcessor`` and ``EquationModalProcessor`` (``raganything.modalprocessors``)
own the prompts, the context-aware captioning and the JSON parsing (``detailed_description`` +
``entity_info``). Their full path, ``process_multimodal_content``, also writes a chunk and an entity to
LightRAG and runs LightRAG's entity extraction on the description (gleaning, merging, summaries): about 24
LLM calls per image upstream. We call ``generate_description_only(modal_content, content_type, item_info,
entity_name)`` instead, which makes exactly one call to the caption function and returns
``(description, entity_info)``; the graph fragment is then built without an LLM
(:mod:`llama_index_mmrag.graph.fragments`).

What a processor needs from its ``lightrag`` argument: its constructor reads ``text_chunks``,
``chunks_vdb``, ``entities_vdb``, ``relationships_vdb``, ``chunk_entity_relation_graph``,
``embedding_func``, ``llm_model_func``, ``llm_response_cache``, ``tokenizer`` and calls
``_build_global_config()``; ``generate_description_only`` then uses only the tokenizer (to trim the
surrounding-text context) and the caption function. So instead of a LightRAG instance the processors get a
:class:`DescriptionOnlyHost`: the offline tokenizer plus storage guards that refuse, and record, any use.
A graph write during description is impossible by construction, and a test can prove none was tried.

Failures: RAG-Anything catches every exception inside ``generate_description_only`` and returns a fallback
(the raw item as the description). We do not let that pass silently: the caption function records the
model's exception and :meth:`RAGAnythingCaptioner.adescribe` re-raises it as :class:`ModalDescriptionError`,
naming the item. A model answer that is not RAG-Anything's JSON, or lacks the entity, would get an entity named
``<modality>_<hash>`` or ``unknown_entity``: the item gets its offline entity instead, and the description the
answer holds (:mod:`llama_index_mmrag.processors.replies`), with a warning naming the file and the item.

Example:
    >>> import asyncio
    >>> from llama_index_mmrag.models.dashscope import DashScopeLLM
    >>> from llama_index_mmrag.processors.items import items_from_blocks
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> recall = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
    ...                       table_body="| index | recall |\\n| --- | --- |\\n| HNSW | 0.98 |")
    >>> captioner = RAGAnythingCaptioner(llm=DashScopeLLM())     # qwen-max, key from DASHSCOPE_API_KEY
    >>> description, entity_info = asyncio.run(captioner.adescribe(items_from_blocks([recall])[0]))
    >>> captioner.calls, captioner.host.attempts                   # one model call, no graph write
    ({'image': 0, 'table': 1, 'equation': 0}, [])
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llama_index.core.llms import LLM

from llama_index_mmrag.errors import ModelError, StoreError
from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.models.adapters import lightrag_llm_func, lightrag_vision_func
from llama_index_mmrag.models.tokenizer import offline_tokenizer
from llama_index_mmrag.processors.items import ModalItem
from llama_index_mmrag.processors.replies import DescriptionReplyError, parse_description_reply, reply_fallback

logger = logging.getLogger(__name__)

CaptionFunc = Callable[..., Awaitable[str]]

_STORAGES = (
    "text_chunks",
    "chunks_vdb",
    "entities_vdb",
    "relationships_vdb",
    "chunk_entity_relation_graph",
    "llm_response_cache",
    "full_docs",
    "full_entities",
    "full_relations",
    "entity_chunks",
    "relation_chunks",
    "doc_status",
)


class ModalDescriptionError(ModelError, RuntimeError):
    """Describing an image, table or equation failed; the message names the item and the cause.

    Example:
        >>> from llama_index_mmrag import ModalDescriber
        >>> from llama_index_mmrag.models.dashscope import DashScopeMultiModalLLM
        >>> from llama_index_mmrag.schema import ContentBlock
        >>> diagram = ContentBlock(modality="image", doc="milvus_architecture.png", doc_id="h", parser="mmrag",
        ...                        page=0, img_path="milvus_architecture.png")
        >>> describer = ModalDescriber(vlm=DashScopeMultiModalLLM(api_key="sk-expired"))  # on_error="raise"
        >>> try:
        ...     describer.describe([diagram])
        ... except ModalDescriptionError as exc:
        ...     print(exc)
        milvus_architecture.png, page 0, image milvus_architecture.png: the model failed to describe the image: ...
    """


class GraphAccessError(StoreError, RuntimeError):
    """A modal processor tried to use LightRAG storage while only describing (never expected).

    Example:
        >>> host = DescriptionOnlyHost()       # what RAG-Anything's processors get instead of LightRAG
        >>> try:
        ...     host.chunks_vdb.upsert({"chunk-1": {"content": "..."}})
        ... except GraphAccessError as exc:
        ...     print(exc)
        RAG-Anything tried to use LightRAG storage 'chunks_vdb.upsert' while only describing an item
        >>> host.attempts
        ['chunks_vdb.upsert']
    """


class _StorageGuard:
    """Stands where a LightRAG storage would be: any use is recorded and refused."""

    def __init__(self, name: str, attempts: list[str]) -> None:
        self._name = name
        self._attempts = attempts

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        self._attempts.append(f"{self._name}.{attribute}")
        raise GraphAccessError(
            f"RAG-Anything tried to use LightRAG storage '{self._name}.{attribute}' while only describing an item"
        )


class DescriptionOnlyHost:
    """What RAG-Anything's modal processors get instead of a LightRAG instance.

    It has the offline tokenizer and, for every storage, a guard that refuses and records any use
    (:attr:`attempts` stays empty when nothing touched the graph).

    Example:
        >>> host = DescriptionOnlyHost()
        >>> host.attempts
        []
    """

    def __init__(self) -> None:
        self.attempts: list[str] = []
        for name in _STORAGES:
            setattr(self, name, _StorageGuard(name, self.attempts))
        self.tokenizer = offline_tokenizer()
        self.embedding_func = None
        self.llm_model_func = self._no_llm

    async def _no_llm(self, *args: Any, **kwargs: Any) -> str:
        self.attempts.append("llm_model_func")
        raise GraphAccessError("RAG-Anything called LightRAG's LLM function while only describing an item")

    def _build_global_config(self) -> dict[str, Any]:
        return {}

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        self.attempts.append(attribute)
        raise GraphAccessError(f"RAG-Anything used LightRAG's '{attribute}' while only describing an item")


@dataclass
class _CallRecord:
    """The model calls made for one item, and the first exception the model raised."""

    calls: int = 0
    error: BaseException | None = None
    attempts_before: int = 0
    reply: str = ""


_current: contextvars.ContextVar[_CallRecord | None] = contextvars.ContextVar("mmrag_caption_call", default=None)


def model_id(llm: LLM) -> str:
    """A stable name for a model: ``<class>:<model name>``, e.g. ``DashScopeMultiModalLLM:qwen-vl-max``.

    Args:
        llm: Any LlamaIndex LLM.
    """
    try:
        name = llm.metadata.model_name
    except Exception:  # an LLM whose metadata needs a connection: its class still names it
        name = "unknown"
    return f"{type(llm).__name__}:{name}"


class RAGAnythingCaptioner:
    """Describes items with RAG-Anything's three modal processors, one model call per item, no graph writes.

    Images go to ``vlm``; tables and equations go to ``llm`` (or to ``vlm`` when there is no text LLM).

    Args:
        llm: A LlamaIndex LLM for tables and equations (``None``: use ``vlm``).
        vlm: A multimodal LlamaIndex LLM (chat with ``ImageBlock``) for images.
        context_window: Pages (``context_mode="page"``) or content items (``"chunk"``) of surrounding text
            to put in the prompt on each side.
        context_mode: ``"page"`` or ``"chunk"`` (RAG-Anything's ``ContextConfig``).
        max_context_tokens: Budget of the surrounding text in the prompt.

    Raises:
        ValueError: When neither model is given, or the context settings are invalid.

    Example:
        >>> from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
        >>> captioner = RAGAnythingCaptioner(llm=DashScopeLLM(), vlm=DashScopeMultiModalLLM())  # key from DASHSCOPE_API_KEY
        >>> captioner.calls
        {'image': 0, 'table': 0, 'equation': 0}
    """

    def __init__(
        self,
        llm: LLM | None = None,
        vlm: LLM | None = None,
        *,
        context_window: int = 1,
        context_mode: str = "page",
        max_context_tokens: int = 1000,
    ) -> None:
        import raganything.modalprocessors as modal_processors
        from raganything.modalprocessors import ContextConfig, ContextExtractor

        if llm is None and vlm is None:
            raise ValueError("RAGAnythingCaptioner needs an llm or a vlm; without one, use the offline describer.")
        if context_mode not in ("page", "chunk"):
            raise ValueError(f"context_mode must be 'page' or 'chunk', not {context_mode!r}")
        if context_window < 0 or max_context_tokens < 0:
            raise ValueError("context_window and max_context_tokens must be 0 or more")
        text_model: LLM = llm if llm is not None else vlm  # type: ignore[assignment]  # one of them is set
        self.llm: LLM = text_model
        self.vlm = vlm
        self.host = DescriptionOnlyHost()
        self.calls: dict[str, int] = {m.name: 0 for m in MODALITIES.modal() if m.processor}
        config = ContextConfig(
            context_window=context_window, context_mode=context_mode, max_context_tokens=max_context_tokens
        )

        def extractor() -> Any:
            return ContextExtractor(config=config, tokenizer=self.host.tokenizer)

        # each modality names its RAG-Anything processor; one that needs a vision model has none without a vlm
        self._processors: dict[str, Any] = {}
        for modality in MODALITIES.modal():
            if modality.processor is None or (modality.vision and vlm is None):
                continue
            func = lightrag_vision_func(vlm) if modality.vision else lightrag_llm_func(text_model)
            processor_class = getattr(modal_processors, modality.processor)
            self._processors[modality.name] = processor_class(self.host, self._counted(modality.name, func), extractor())

    def model_for(self, modality: str) -> str | None:
        """The :func:`model_id` that describes ``modality``, or ``None`` when no model can (images, no vlm).

        Args:
            modality: ``image``, ``table`` or ``equation``.
        """
        if MODALITIES.get(modality).vision:
            return model_id(self.vlm) if self.vlm is not None else None
        return model_id(self.llm)

    def _counted(self, modality: str, inner: CaptionFunc) -> CaptionFunc:
        async def caption(prompt: str, *args: Any, **kwargs: Any) -> str:
            record = _current.get()
            self.calls[modality] += 1
            if record is not None:
                record.calls += 1
            try:
                reply = await inner(prompt, *args, **kwargs)
            except Exception as exc:
                if record is not None and record.error is None:
                    record.error = exc
                raise
            if record is not None:
                record.reply = reply
            return reply

        return caption

    async def adescribe(self, item: ModalItem) -> tuple[str, dict[str, Any]]:
        """Describe one item with its RAG-Anything processor: exactly one model call.

        The item's document content list is set as the processor's content source for this task only
        (RAG-Anything's ``document_context``), so concurrent items of different documents never see each
        other's context.

        Args:
            item: The item; images must be readable files or carry inline bytes.

        Returns:
            ``(description, entity_info)`` with ``entity_info = {"entity_name", "entity_type", "summary"}``.

        Raises:
            ModalDescriptionError: When the model failed, was not called, or the processor touched the graph.
        """
        processor = self._processors.get(item.modality)
        if processor is None:
            raise ModalDescriptionError(
                f"{item.label}: no model describes {item.modality}s here (images need a vlm); "
                "use the offline describer."
            )
        if MODALITIES.get(item.modality).vision:
            item.ensure_image_file()
        return await self._describe_in_context(processor, item)

    async def _describe_in_context(self, processor: Any, item: ModalItem) -> tuple[str, dict[str, Any]]:
        from raganything.document_context import document_context, set_document_source

        record = _CallRecord(attempts_before=len(self.host.attempts))

        @document_context
        async def run() -> tuple[str, dict[str, Any]]:
            _current.set(record)
            # processor.set_content_source() without its INFO log line per item
            set_document_source(processor, item.source, "minerU")
            return await processor.generate_description_only(
                modal_content=item.content, content_type=item.modality, item_info=item.item_info
            )

        # A task runs in a copy of the caller's context: the record and the content source stay with this item.
        description, entity_info = await asyncio.ensure_future(run())
        if record.error is not None:
            raise ModalDescriptionError(
                f"{item.label}: the model failed to describe the {item.modality}: {record.error}"
            ) from record.error
        touched = self.host.attempts[record.attempts_before :]
        if touched:
            raise ModalDescriptionError(
                f"{item.label}: RAG-Anything tried to use the graph while describing: {touched}"
            )
        if record.calls != 1:
            raise ModalDescriptionError(
                f"{item.label}: RAG-Anything made {record.calls} model calls instead of 1 (the item could not be "
                "prepared: check that the image is a readable PNG, JPEG, GIF, TIFF, BMP or WebP file)."
            )
        try:
            parse_description_reply(record.reply)
        except DescriptionReplyError as exc:
            description, entity_info = reply_fallback(item, record.reply)
            logger.warning(
                '%s: %s; the %s gets its offline graph entity "%s" (and the description the reply holds, if any)',
                item.label, exc, item.modality, entity_info["entity_name"],
            )
        return str(description), dict(entity_info)
