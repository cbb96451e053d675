"""The LightRAG instance the package builds, and graph building with and without an LLM.

LightRAG's vector storages (chunks, entities, relations) live in the same Milvus as the nodes
(:mod:`llama_index_mmrag.graph.milvus_storage`), in collections prefixed with the workspace (the collection
name); key-value and doc-status storages are JSON files, the graph is NetworkX files or Neo4j.

Offline, the graph is built by the LLM-free extractor (:mod:`llama_index_mmrag.graph.extract`) and inserted
with ``ainsert_custom_kg``; chunk ids are the Milvus node ids (see :func:`llama_index_mmrag.schema.make_chunk_id`).
Every call runs on one private event loop (LightRAG binds locks to the loop that initialised it). Examples:
:class:`GraphStore` (a store's graph, queried) and :class:`GraphBuildError` (one built with an LLM).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Coroutine, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from llama_index_mmrag.errors import StoreError
from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg
from llama_index_mmrag.graph.fallbacks import (
    ModelCallsInFlight,
    adiscard_attempt,
    held_lightrag_errors,
    model_failure_behind,
    record_graph_fallback,
    recorded_model_failures,
    recording_model_failures,
    release_records,
)
from llama_index_mmrag.graph.file_storage import (
    DOC_STATUS_STORAGE_NAME,
    GRAPH_STORAGE_NAME,
    JOURNAL_DIR_KEY,
    KV_STORAGE_NAME,
    register_file_storages,
)
from llama_index_mmrag.graph.freshness import GraphFileState
from llama_index_mmrag.graph.keywords import query_keywords
from llama_index_mmrag.graph.kg_loader import adelete_kg, ainsert_kg, apersist
from llama_index_mmrag.graph.milvus_storage import STORAGE_NAME, TOKEN_KEY, URI_KEY, register_milvus_storage
from llama_index_mmrag.graph.safe_text import graph_safe
from llama_index_mmrag.graph.stored_chunks import graph_chunk
from llama_index_mmrag.graph.workspaces import claim_workspace, release_workspace
from llama_index_mmrag.logs import quiet_lightrag_logs
from llama_index_mmrag.models.adapters import (
    LightRAGLLMFunc,
    TextEmbedder,
    embedding_call_policy,
    lightrag_embedding_func,
    no_llm_func,
)
from llama_index_mmrag.models.tokenizer import offline_tokenizer
from llama_index_mmrag.runtime import BackgroundLoop, engine_loop
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.creation import creating_collections

if TYPE_CHECKING:  # LlamaIndex is not imported by the graph itself: deleting a document never loads it
    from lightrag import LightRAG
    from llama_index.core.schema import BaseNode

logger = logging.getLogger(__name__)
T = TypeVar("T")

GRAPH_MODES = ("local", "global", "hybrid", "mix", "naive")
EMBEDDING_BATCH = 64  # texts per embedding call (LightRAG's default of 10 is ~3x slower on CPU)
COSINE_THRESHOLD = 0.2  # LightRAG's default: entity/relation/chunk matches below it are dropped


CHUNK_SEPARATOR = "\n\u241e\u241e\u241e\n"  # between our chunks in a document handed to LightRAG's LLM pipeline


class GraphBuildError(StoreError, RuntimeError):
    """LightRAG could not build the graph of a document, and not because the model failed (a model that fails
    leaves the document's text graph to the LLM-free extractor: see :meth:`GraphStore.ainsert_nodes`).

    Example:
        >>> from llama_index_mmrag.models.embeddings import local_embedding
        >>> from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
        >>> async def broken_adapter(prompt: str, system_prompt: str | None = None, **kwargs: object) -> str:
        ...     return None  # a bug: the model answered, the adapter lost its text
        >>> graph = GraphStore(MMRAGSettings(storage_dir="store"), local_embedding(), dim=384, llm_func=broken_adapter)
        >>> nodes = blocks_to_nodes([ContentBlock(modality="text", text="Milvus Lite runs in one process.",
        ...                                       doc="milvus_faq.txt", doc_id="h1", parser="mmrag", page=0)])
        >>> try:
        ...     graph.run(graph.ainsert_nodes(nodes))
        ... except GraphBuildError as exc:
        ...     print(exc)
        milvus_faq.txt: graph extraction failed: ...
    """


def split_on_chunk_separator(
    tokenizer: Any,
    content: str,
    split_by_character: str | None = None,
    split_by_character_only: bool = False,
    chunk_overlap_token_size: int = 0,
    chunk_token_size: int = 0,
) -> list[dict[str, Any]]:
    """LightRAG ``chunking_func`` that returns exactly our chunks, so LightRAG's chunk ids are our node ids.

    LightRAG ids a chunk as ``md5(content)``; our node ids are the same function of the same graph content
    (:func:`llama_index_mmrag.schema.make_chunk_id`).

    Args:
        tokenizer: LightRAG's tokenizer (counts tokens per chunk).
        content: A document as joined by :data:`CHUNK_SEPARATOR`.
        split_by_character: Ignored (our chunks are already cut).
        split_by_character_only: Ignored.
        chunk_overlap_token_size: Ignored.
        chunk_token_size: Ignored.
    """
    from lightrag.utils import sanitize_text_for_encoding

    parts = [sanitize_text_for_encoding(part) for part in content.split(CHUNK_SEPARATOR)]
    return [
        {"tokens": len(tokenizer.encode(part)), "content": part, "chunk_order_index": index}
        for index, part in enumerate(p for p in parts if p)
    ]


def _modal_fragments(chunks: Iterable[GraphChunk], order: dict[str, int] | None = None) -> dict[str, Any]:
    """The graph of a document's image, table and equation chunks on the LLM path, built without an LLM: each
    item's entity as its one description call named it, with ``belongs_to`` edges (:mod:`.fragments`)."""
    from llama_index_mmrag.graph.fragments import chunk_kg_fragment, merge_kg_fragments
    from llama_index_mmrag.modalities import MODALITIES

    order = order or {}
    return merge_kg_fragments(
        chunk_kg_fragment(c, order=order.get(c.chunk_id, 0)) for c in chunks if MODALITIES.get(c.modality).is_modal
    )


def _text_chunks(chunks: Iterable[GraphChunk]) -> list[GraphChunk]:
    """The chunks LightRAG's extraction reads on the LLM path: all but images, tables and equations."""
    from llama_index_mmrag.modalities import MODALITIES

    return [c for c in chunks if not MODALITIES.get(c.modality).is_modal]


def node_to_graph_chunk(node: BaseNode) -> GraphChunk:
    """Describe a node to the graph layer: its id, graph content and provenance.

    Args:
        node: A node built by :func:`llama_index_mmrag.schema.blocks_to_nodes`.
    """
    return graph_chunk(node.node_id, node.get_content(), node.metadata)


class GraphStore:
    """Owns the LightRAG instance: storages in the storage dir, one workspace per collection.

    Args:
        settings: Storage dir, graph storage class and collection (the workspace).
        embed_model: The embedding LightRAG's vector storages use (any LlamaIndex embedding, or another
            :class:`~llama_index_mmrag.models.adapters.TextEmbedder`).
        dim: The embedding's dimension.
        llm_func: LightRAG's LLM function; ``None`` builds the graph without an LLM.
        loop: The loop to run on; the process-wide engine loop when ``None``.

    Example:
        >>> from llama_index_mmrag.models.embeddings import local_embedding
        >>> GraphStore(MMRAGSettings(storage_dir="s"), local_embedding(), dim=384).has_llm   # opens nothing yet
        False
        >>> graph = rag.graph  # the facade's, over the demo's two files
        >>> entities, relations = graph.run(graph.acounts())
        >>> entities > 0 and relations > 0
        True
        >>> sorted(graph.run(graph.aquery_data("What is Milvus?")))
        [...'chunks'...]
    """

    def __init__(
        self,
        settings: MMRAGSettings,
        embed_model: TextEmbedder,
        dim: int,
        llm_func: LightRAGLLMFunc | None = None,
        loop: BackgroundLoop | None = None,
    ) -> None:
        self.settings = settings
        self.llm_func = llm_func
        self._embed_model = embed_model
        self._dim = dim
        self._loop = loop or engine_loop()
        self._rag: LightRAG | None = None
        self._model_calls = ModelCallsInFlight()  # the graph's model calls running (a fallback waits for them)
        self.file_state = GraphFileState.of(settings.graph_dir)  # to re-read files another process wrote
        self._workspace: str | None = None  # read from the store's descriptor on first use
        # refused here if a copy of this store is open in this process; LightRAG re-reads the files once opened
        # if its memory of the workspace came from a copy
        self._stale = claim_workspace(self.workspace, settings.storage_dir.resolve(), self)

    @property
    def workspace(self) -> str:
        """LightRAG workspace: the stable id the store records (its graph folder ``lightrag/<workspace>`` and
        its graph's Milvus collections are named after it), so a moved or copied store keeps its graph.

        LightRAG shares in-memory state between instances of one workspace in a process: see
        :mod:`llama_index_mmrag.graph.workspaces` for how a store and its copy are kept apart.
        """
        from llama_index_mmrag.graph.file_counts import workspace_name  # one naming, also read without LightRAG

        if self._workspace is None:
            self._workspace = workspace_name(self.settings)
        return self._workspace

    @property
    def has_llm(self) -> bool:
        """Whether graph building uses an LLM (query keywords do only with the ``graph_llm_keywords`` setting)."""
        return self.llm_func is not None

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of this store on its private loop, from sync code."""
        return self._loop.run(coro)

    async def arun(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await a coroutine of this store on its private loop, from any loop."""
        return await self._loop.arun(coro)

    async def _rag_instance(self) -> LightRAG:
        if self._rag is None:
            from llama_index_mmrag.graph.lightrag_class import lightrag_class

            LightRAG = lightrag_class()  # noqa: N806  (LightRAG, finding this package's storages without inspect)
            quiet_lightrag_logs()
            self.settings.graph_dir.mkdir(parents=True, exist_ok=True)
            register_milvus_storage()
            register_file_storages()
            # An in-process embedding is never cut off by a wall-clock limit (a busy machine only makes it
            # slower) and runs one call at a time; a remote one gets a timeout and retries. The wrapper owns
            # that timeout, so LightRAG's own (EMBEDDING_TIMEOUT, doubled for its workers) is off.
            policy = embedding_call_policy(self._embed_model, self.settings.embed_in_process)
            # The file-backed storages are LightRAG's own, saving atomically and repairing a damaged file from
            # the journal's copies when loaded (graph.file_storage).
            graph_storage = self.settings.graph_storage
            if graph_storage == "NetworkXStorage":
                graph_storage = GRAPH_STORAGE_NAME
            addon_params = LightRAG.__dataclass_fields__["addon_params"].default_factory()  # type: ignore[misc]
            addon_params[JOURNAL_DIR_KEY] = str(self.settings.storage_dir / "journal")
            self._rag = LightRAG(
                working_dir=str(self.settings.graph_dir),
                workspace=self.workspace,
                graph_storage=graph_storage,
                kv_storage=KV_STORAGE_NAME,
                doc_status_storage=DOC_STATUS_STORAGE_NAME,
                addon_params=addon_params,
                vector_storage=STORAGE_NAME,
                vector_db_storage_cls_kwargs={
                    "cosine_better_than_threshold": COSINE_THRESHOLD,
                    URI_KEY: self.settings.effective_milvus_uri,
                    TOKEN_KEY: self.settings.milvus_token,
                },
                tokenizer=offline_tokenizer(),
                embedding_func=lightrag_embedding_func(self._embed_model, self._dim, policy=policy),
                embedding_func_max_async=policy.max_async,
                default_embedding_timeout=None,
                llm_model_func=no_llm_func if self.llm_func is None else self._model_calls.tracking(self.llm_func),
                chunking_func=split_on_chunk_separator,
                kg_chunk_pick_method=self.settings.graph_chunk_pick,
                embedding_batch_num=EMBEDDING_BATCH,
                enable_llm_cache=True,
            )
            if self.llm_func is not None:  # LightRAG's limited LLM function: its own timeouts count as failures too
                self._rag.llm_model_func = recording_model_failures(self._rag.llm_model_func)
            with creating_collections(self.settings.storage_dir):  # another process may be creating them too
                await self._rag.initialize_storages()
            # LightRAG's memory of the workspace (read once per process) came from a copy of the store, or from
            # this store's files before another process wrote them
            if self._stale or self.file_state.changed():
                from llama_index_mmrag.graph.live import areload_graph_files

                self._stale = False
                await areload_graph_files(self._rag)
            self.file_state.mark_seen()
        elif self.file_state.changed():
            # another process wrote the graph (under the store's write lock) since this one last read it
            from llama_index_mmrag.graph.live import areload_graph_files

            self.file_state.mark_seen()
            await areload_graph_files(self._rag)
        return self._rag

    async def aopen(self) -> None:
        """Open LightRAG's storages, or re-read the graph's files if another process wrote them since this one
        last read them (must be awaited on this store's loop, see :meth:`arun`)."""
        await self._rag_instance()

    async def acounts(self, chunk_ids: set[str] | None = None) -> tuple[int, int]:
        """``(entities, relations)`` in the graph; with ``chunk_ids``, only those sourced from these chunks.

        Args:
            chunk_ids: Chunk ids (node ids) of one document.
        """
        from llama_index_mmrag.graph.live import agraph_counts

        return await agraph_counts(await self._rag_instance(), chunk_ids)

    async def areload_files(self) -> list[str]:
        """Make the open graph re-read its files (after the store's journal restored them).

        Returns:
            The names of LightRAG's storages re-read (file-backed ones only; Neo4j is left alone).
        """
        from llama_index_mmrag.graph.live import areload_graph_files

        return await areload_graph_files(await self._rag_instance())

    async def areconcile_vectors(self, chunk_ids: Iterable[str] = ()) -> dict[str, int]:
        """Make the graph's Milvus collections (entities, relations, chunks) agree with its graph and chunk store.

        Args:
            chunk_ids: Chunk ids an interrupted write touched (missing chunk vectors among them are re-written).

        Returns:
            Counts of what was fixed, e.g. ``{"entities_deleted": 3}``.
        """
        from llama_index_mmrag.graph.live import areconcile_graph_vectors

        return await areconcile_graph_vectors(await self._rag_instance(), chunk_ids)

    async def ainsert_nodes(self, nodes: Sequence[BaseNode]) -> None:
        """Add nodes to the graph: chunks, entities and relations.

        With an LLM, LightRAG's own extraction runs over the text chunks (one LightRAG document per source
        document) and each image, table or equation goes in with the entity its one description call gave it
        (:func:`~llama_index_mmrag.graph.fragments.chunk_kg_fragment`: no extraction call over its description);
        without one, the LLM-free extractor builds the graph and our loader merges it
        into LightRAG's storages, reusing the nodes' embeddings for the graph's chunks (each chunk is embedded
        once), and LightRAG's files are written once at the end of the call. Either way the graph's chunk
        ids are the nodes' ids.

        When the model fails LightRAG's extraction of a document's text (after its own retries), the document
        is not lost: see :meth:`_aextract_text`.

        Args:
            nodes: Nodes with provenance metadata; their ids become the graph's chunk ids.

        Raises:
            GraphBuildError: If LightRAG reports the document as failed for another reason than the model.
        """
        if not nodes:
            return
        rag = await self._rag_instance()
        by_doc: dict[str, list[GraphChunk]] = {}
        for node in nodes:
            by_doc.setdefault(node.ref_doc_id or node.metadata["doc"], []).append(node_to_graph_chunk(node))
        if not self.has_llm:
            vectors = self._node_vectors(nodes)
            for doc_chunks in by_doc.values():
                await ainsert_kg(rag, build_custom_kg(doc_chunks), chunk_vectors=vectors, persist=False)
            await apersist(rag)  # once per call: each write rewrites LightRAG's files whole
            return
        order = {n.node_id: int(n.metadata.get("block_index") or 0) for n in nodes}
        for doc_id, doc_chunks in by_doc.items():
            # LightRAG's extraction (and its gleaning) reads the text chunks only: an image, table or equation
            # already has its entity from its one description call, and goes into the graph directly.
            texts = _text_chunks(doc_chunks)
            if texts:
                await self._aextract_text(rag, doc_id, texts, nodes)
            modal = _modal_fragments(doc_chunks, order)
            if modal["chunks"]:
                await ainsert_kg(rag, modal, chunk_vectors=self._node_vectors(nodes))

    async def _aextract_text(self, rag: LightRAG, doc_id: str, chunks: list[GraphChunk], nodes: Sequence[BaseNode]) -> None:
        """LightRAG's extraction over one document's text chunks; where the model fails it, the LLM-free graph.

        A failure of the model (what the LLM function raised after its retries, LightRAG's timeout of a call
        included) that made LightRAG fail the document: what LightRAG kept of the attempt is removed (its doc
        status, stored text, chunks, entities and relations merged before a failure while merging), the
        document's text graph is built by the LLM-free extractor as offline, one warning names the file and the
        failure, and :func:`~llama_index_mmrag.graph.fallbacks.record_graph_fallback` notes it for the ingest
        report. The fallback is per document, not per chunk: one chunk's failure stops LightRAG's extraction
        of the whole document and it reports no per-chunk outcome. Any other failure still raises.

        Args:
            rag: The LightRAG instance.
            doc_id: The document's id (LightRAG's too).
            chunks: Its text chunks.
            nodes: The nodes being written (their vectors are the fallback graph's chunk vectors).

        Raises:
            GraphBuildError: If LightRAG failed the document for another reason than the model, or could not
                remove its failed attempt.
        """
        doc = chunks[0].doc
        with recorded_model_failures() as failures, held_lightrag_errors() as lightrag_errors:
            try:
                await rag.ainsert(CHUNK_SEPARATOR.join(c.content for c in chunks), ids=[doc_id], file_paths=[graph_safe(doc)])
            except Exception as exc:
                if model_failure_behind(str(exc), failures) is None:
                    raise
                error = str(exc)
            else:
                status = await rag.doc_status.get_by_id(doc_id)
                if status is not None and not str(status.get("status", "")).lower().endswith("failed"):
                    release_records(lightrag_errors)
                    return
                error = (status or {}).get("error_msg") or "LightRAG did not record the document"
            await self._model_calls.await_idle()  # the document's calls LightRAG's workers still run, retrying
        failure = model_failure_behind(error, failures)
        if failure is None:
            release_records(lightrag_errors)
            raise GraphBuildError(f"{doc}: graph extraction failed: {error}")
        problem = await adiscard_attempt(rag, doc_id, [c.chunk_id for c in chunks])
        if problem is not None:
            release_records(lightrag_errors)
            raise GraphBuildError(f"{doc}: graph extraction failed ({failure}) and its attempt could not be removed: {problem}")
        reason = " ".join(str(failure).split()) or type(failure).__name__
        logger.warning(
            "%s: the graph of its text was built without the model (LLM-free extraction), because the model failed: %s",
            doc, reason,
        )
        await ainsert_kg(rag, build_custom_kg(chunks), chunk_vectors=self._node_vectors(nodes))
        record_graph_fallback(doc, reason)

    def _node_vectors(self, nodes: Sequence[BaseNode]) -> dict[str, list[float]]:
        """The nodes' own embeddings, by id, where they come from this store's embedding (same dimension)."""
        return {n.node_id: n.embedding for n in nodes if n.embedding is not None and len(n.embedding) == self._dim}

    async def adelete_nodes(self, nodes: Sequence[BaseNode]) -> None:
        """Remove these nodes' chunks from the graph, and what only they supported (entities, relations).

        Entities and relations that other documents also mention survive with their other sources.

        Args:
            nodes: The nodes of one or more documents, as stored.
        """
        ref_doc_ids = list(dict.fromkeys(n.ref_doc_id for n in nodes if n.ref_doc_id))
        await self.adelete_chunks([node_to_graph_chunk(n) for n in nodes], ref_doc_ids)

    async def adelete_chunks(self, chunks: Sequence[GraphChunk], ref_doc_ids: Sequence[str] = ()) -> None:
        """Remove these chunks from the graph, and what only they supported (entities, relations): what
        :meth:`adelete_nodes` does, given the chunks as read back from Milvus without LlamaIndex
        (:func:`~llama_index_mmrag.graph.stored_chunks.read_stored_chunks`).

        Args:
            chunks: Every chunk of the documents being removed.
            ref_doc_ids: Their LlamaIndex document ids (LightRAG's document ids when an LLM built the graph).
        """
        if not chunks:
            return
        rag = await self._rag_instance()
        if self.has_llm:
            modal = _modal_fragments(chunks)  # the modal items' graph, rebuilt from their chunks, goes first
            if modal["chunks"]:
                await adelete_kg(rag, modal)
            extracted: set[str] = set()  # the text chunks LightRAG extracted: its doc status lists them
            for doc_id in ref_doc_ids:
                status = await rag.doc_status.get_by_id(doc_id)
                if status is not None:
                    extracted.update(status.get("chunks_list") or ())
                    await rag.adelete_by_doc_id(doc_id)
            # a document whose model failed has its text graph from the LLM-free extractor, and no doc status
            unextracted = [c for c in _text_chunks(chunks) if c.chunk_id not in extracted]
            if unextracted:
                await adelete_kg(rag, build_custom_kg(unextracted))
            return
        await adelete_kg(rag, build_custom_kg(list(chunks)))

    async def avector_collections(self) -> list[str]:
        """Names of LightRAG's Milvus collections (chunks, entities, relations) for this workspace."""
        rag = await self._rag_instance()
        return [vdb.final_namespace for vdb in (rag.chunks_vdb, rag.entities_vdb, rag.relationships_vdb)]

    async def aquery_data(
        self, question: str, mode: str = "hybrid", top_k: int = 10, chunk_top_k: int | None = None
    ) -> dict[str, Any]:
        """Return LightRAG's structured retrieval (entities, relationships, chunks) for a question.

        The query keywords are computed locally (:func:`~llama_index_mmrag.graph.keywords.query_keywords`), with
        an LLM too, so retrieval calls no LLM; with the ``graph_llm_keywords`` setting and an LLM, LightRAG asks the
        LLM for them instead (one call per new question). A question with no content word (stop words,
        punctuation, symbols) has no local keywords, and LightRAG, given none, would ask its LLM for them, so
        the graph modes return nothing for it (``naive`` needs no keywords and searches as usual).

        Args:
            question: The question.
            mode: One of ``local``, ``global``, ``hybrid``, ``mix``, ``naive``.
            top_k: Entities / relations to retrieve.
            chunk_top_k: Chunks to retrieve (``top_k`` when unset).
        """
        from lightrag import QueryParam

        if mode not in GRAPH_MODES:
            raise ValueError(f"unknown graph mode {mode!r}; choose one of {', '.join(GRAPH_MODES)}")
        rag = await self._rag_instance()
        param = QueryParam(mode=mode, top_k=top_k, chunk_top_k=chunk_top_k or top_k, enable_rerank=False)
        llm_keywords = self.has_llm and self.settings.graph_llm_keywords
        if not llm_keywords:
            param.hl_keywords, param.ll_keywords = query_keywords(question)
            if mode != "naive" and not (param.hl_keywords or param.ll_keywords):
                return {}
        try:
            result = await rag.aquery_data(question, param)
        except (AttributeError, TypeError, ValueError) as exc:
            if not llm_keywords:
                raise
            # LightRAG parses the LLM's keyword JSON without checking its shape; a malformed answer must
            # not take retrieval down: the local keywords serve instead.
            logger.warning("LLM keyword extraction failed (%s); using local query keywords", exc)
            param.hl_keywords, param.ll_keywords = query_keywords(question)
            result = await rag.aquery_data(question, param)
        return result.get("data", result) if isinstance(result, dict) else {}

    async def aclose(self) -> None:
        """Flush and close LightRAG's storages."""
        if self._rag is not None:
            await self._rag.finalize_storages()
            self._rag = None
        release_workspace(self.workspace, self)

    def close(self) -> None:
        """Flush and close LightRAG's storages (the shared engine loop keeps running)."""
        self.run(self.aclose())
