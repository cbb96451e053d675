"""MultimodalRAG: the facade that wires parsing, modal descriptions, Milvus, the graph and retrieval.

Example:
    ``rag`` below is such a store, built from the demo's two files as in the first two lines:

    >>> from llama_index_mmrag import MultimodalRAG
    >>> rag = MultimodalRAG(storage_dir="./mmrag_storage")       # offline defaults  # doctest: +SKIP
    >>> rag.ingest(["milvus_faq.txt", "milvus_architecture.png"])                    # doctest: +SKIP
    >>> print(rag.as_query_engine().query("What does the architecture diagram show?"))
    Image; Text in the image: Milvus Architecture; ... [milvus_architecture.png, p.1, image]
    >>> rag.stats()["nodes"]
    {'text': 3, 'image': 1, 'table': 0, 'equation': 0}
    >>> rag.delete("milvus_architecture.png")                                        # doctest: +SKIP

Every document write (ingest, replace, delete) is all-or-nothing across Milvus, the graph and the manifest:
see :mod:`llama_index_mmrag.index` for the write-ahead journal and crash recovery. Ingestion is the pipeline
of :mod:`llama_index_mmrag.ingestion`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llama_index_mmrag.doc_names import (  # noqa: F401  (re-exported: they were defined here)
    AmbiguousDocumentError,
    UnknownDocumentError,
    closest_names,
    match_document,
    resolve_document,
)
from llama_index_mmrag.graph.file_counts import initial_workspace
from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.index import DocumentCatalog, DocumentIndex
from llama_index_mmrag.manifest import DocRecord, Manifest, StoreIdentity
from llama_index_mmrag.models.adapters import lightrag_llm_func
from llama_index_mmrag.models.embeddings import embedding_name
from llama_index_mmrag.models.factory import build_models
from llama_index_mmrag.retrievers.arguments import check_docs, check_top_k
from llama_index_mmrag.runtime import engine_loop
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stats import StoreStats
from llama_index_mmrag.stores.lite_server import hold_lite_store
from llama_index_mmrag.stores.milvus import build_vector_store

# What only ingestion needs (the reader and its parsers, RAG-Anything, the describer) and what only retrieval
# needs (retrievers, synthesis, LlamaIndex's query engine) is imported where it is used, so opening a store to
# count, delete or query loads neither the parsers nor RAG-Anything.
if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import LLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.schema import BaseNode
    from llama_index.core.tools import QueryEngineTool
    from llama_index.core.vector_stores.types import MetadataFilters

    from llama_index_mmrag.ingestion import DocumentPipeline, IngestReport
    from llama_index_mmrag.processors.describer import ModalDescriber
    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
    from llama_index_mmrag.relevance import RelevanceFloor
    from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever

logger = logging.getLogger(__name__)


_RAISE: Any = object()
"""Marks a missing ``default`` argument."""


class MultimodalRAG:
    """Multimodal RAG in one object: ingest files, then retrieve, query, or hand an agent a tool.

    Offline by default (Milvus Lite in ``storage_dir``, the packaged MiniLM embedding, no LLM: an
    LLM-free graph and extractive answers with citations). With ``DASHSCOPE_API_KEY`` set, or an ``llm``
    passed, the LLM paths of LightRAG and RAG-Anything run.

    Args:
        storage_dir: Folder of the store (``MMRAG_STORAGE_DIR``; ``./mmrag_storage`` by default).
        llm: Any LlamaIndex LLM for answers and graph building; DashScope's when a key is set.
        vlm: A multimodal LlamaIndex LLM for image descriptions; DashScope's when a key is set.
        embed_model: Any LlamaIndex embedding, with ``embed_dim``; the packaged MiniLM by default.
        embed_dim: Dimension of ``embed_model``.
        settings: A full settings object (``storage_dir`` and ``overrides`` are applied on top).
        **overrides: Any :class:`~llama_index_mmrag.settings.MMRAGSettings` field.

    Example:
        ``rag`` here holds the demo's two files, ingested as in the first two lines:

        >>> rag = MultimodalRAG(storage_dir="./store", top_k=5)                          # doctest: +SKIP
        >>> report = rag.ingest(["milvus_faq.txt", "milvus_architecture.png"])          # doctest: +SKIP
        >>> [d.doc for d in rag.documents()]
        ['milvus_architecture.png', 'milvus_faq.txt']
        >>> rag.as_query_engine().query("Does Milvus support simultaneous insertion and search?").response
        'Yes. Milvus supports simultaneous insertion and search: ...'
        >>> tool = rag.as_tool(name="milvus_docs", description="Milvus docs")  # for an agent
        >>> tool.metadata.name
        'milvus_docs'
    """

    def __init__(
        self,
        storage_dir: str | Path | None = None,
        *,
        llm: LLM | None = None,
        vlm: LLM | None = None,
        embed_model: BaseEmbedding | None = None,
        embed_dim: int | None = None,
        settings: MMRAGSettings | None = None,
        **overrides: Any,
    ) -> None:
        if storage_dir is not None:
            overrides["storage_dir"] = Path(storage_dir)
        base = settings.model_dump() if settings is not None else {}
        self.settings = MMRAGSettings(**(base | overrides))
        self.llm, self.vlm, self.embed_model, self.embed_dim = build_models(self.settings, llm, vlm, embed_model, embed_dim)
        # what built the store (model, dimension, graph workspace): recorded on first open, checked on every one
        workspace, existed = initial_workspace(self.settings)
        self.identity = StoreIdentity.open(
            self.settings.storage_dir,
            embed_model=embedding_name(self.embed_model),
            embed_dim=self.embed_dim,
            workspace=workspace,
            adopted=existed,
        )
        self._loop = engine_loop()
        self._lite_hold = hold_lite_store(self.settings)
        if self._lite_hold is not None:  # an instance dropped without close() lets the store go too
            weakref.finalize(self, self._lite_hold.release)
        try:  # a store that fails to open (a bad manifest, an unreachable graph) is let go again
            # the graph first: a copy of this store open in this process is refused before Milvus is opened
            self.graph = GraphStore(
                self.settings,
                self.embed_model,
                self.embed_dim,
                llm_func=lightrag_llm_func(self.llm) if self.llm is not None else None,
                loop=self._loop,
            )
            self.vector_store = build_vector_store(self.settings, self.embed_dim)
            self._pipeline: DocumentPipeline | None = None  # built on first use: opening a store loads no parser
            self._parts_lock = threading.Lock()
            self.manifest = Manifest(self.settings.storage_dir / "manifest.json")
            self.vector_mode: Literal["hybrid", "dense"] = "hybrid" if self.vector_store.enable_sparse else "dense"
            self.index = DocumentIndex(
                self.settings.storage_dir, self.settings.parsed_dir, self.vector_store, self.graph, self.manifest,
                self.settings.graph_dir,
            )
            self.catalog = DocumentCatalog(self.settings.storage_dir, self.manifest, self.vector_store, self.graph)
            if self.index.journal.pending() is not None:
                self._loop.run(self.index.arecover_at_open())
        except BaseException:
            if getattr(self, "graph", None) is not None:
                with contextlib.suppress(Exception):  # the error that stopped the opening is the one to see
                    self.graph.close()  # lets its workspace go (and LightRAG, if a recovery opened it)
            if self._lite_hold is not None:
                self._lite_hold.release()
            raise

    @property
    def pipeline(self) -> DocumentPipeline:
        """The ingestion pipeline (check -> parse -> describe -> nodes -> fit -> embed -> write) into this store."""
        if self._pipeline is None:
            with self._parts_lock:
                if self._pipeline is None:
                    from llama_index_mmrag.ingestion import DocumentPipeline

                    self._pipeline = DocumentPipeline.for_store(self.settings, self.index, self.embed_model, self.llm, self.vlm)
        return self._pipeline

    @property
    def reader(self) -> RAGAnythingReader:
        """The reader that parses files (built on first use: counting, deleting or querying needs no parser)."""
        return self.pipeline.reader

    @property
    def describer(self) -> ModalDescriber:
        """The describer of images, tables and equations (built on first use, by an ingest or a query engine)."""
        return self.pipeline.describer

    # ----------------------------------------------------------------- ingestion
    def ingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Ingest files and folders; failures are reported at the end, the rest goes on.

        A file whose content is already stored under its name is skipped before it is parsed (content hash);
        a changed file replaces its stored version. Each document goes in all or nothing (Milvus, graph and
        manifest together), even if the process dies half-way: see :mod:`llama_index_mmrag.index`.
        A file that fails leaves the store as it was for that file (a replaced version stays).

        Args:
            paths: Files or folders (a folder given twice is read once).
            show_progress: Show a progress bar.

        Returns:
            What was ingested, skipped as unchanged, and which files failed with which reason.

        Example:
            >>> report = rag.ingest(["milvus_faq.txt"], show_progress=False)  # already stored, same content
            >>> report.ok, report.summary()
            (True, 'ingested 0 document(s) (no nodes), 1 unchanged, 0 failed, in ... s')
        """
        return self._loop.run(self.pipeline.aingest(paths, show_progress))

    async def aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Async twin of :meth:`ingest` (the work runs on the engine loop; the caller's loop stays free, and
        queries keep working while it runs).

        Example:
            >>> import asyncio
            >>> report = asyncio.run(rag.aingest(["milvus_faq.txt"], show_progress=False))  # or await in async code
            >>> report.unchanged
            ['milvus_faq.txt']
        """
        return await self._loop.arun(self.pipeline.aingest(paths, show_progress))

    def delete(self, doc: str | Path) -> DocRecord:
        """Remove a document from the store: its nodes from Milvus, its chunks, entities and relations from
        the graph (entities and relations other documents also mention stay, with their other sources), and
        its record. All or nothing, even if the process dies half-way.

        Args:
            doc: The document's name (its file name; a path is reduced to its name).

        Returns:
            The removed document's record.

        Raises:
            UnknownDocumentError: If no document of that name is stored (the error lists the closest name).

        Example:
            >>> rag.delete("report.pdf").node_ids[:1]                 # doctest: +SKIP
            ['chunk-3f2a...']
        """
        return self._loop.run(self._adelete(doc))

    async def adelete(self, doc: str | Path) -> DocRecord:
        """Native async twin of :meth:`delete` (runs on the engine loop; the caller's loop stays free).

        Args:
            doc: The document's name.

        Example:
            >>> await rag.adelete("report.pdf")                       # doctest: +SKIP
        """
        return await self._loop.arun(self._adelete(doc))

    async def _adelete(self, doc: str | Path) -> DocRecord:
        from llama_index_mmrag.direct_delete import adelete_named  # the steps `mmrag delete` runs without the facade

        return await adelete_named(self.index, self.manifest, self.settings.storage_dir, doc)

    def stats(self, doc: str | Path | None = None) -> StoreStats:
        """Count what the store holds, from Milvus and the graph themselves (not from the manifest).

        Args:
            doc: Count one document: its nodes, and the entities and relations with a source chunk in it.

        Returns:
            ``{"docs": int, "nodes": {modality: int}, "entities": int, "relations": int}``.

        Raises:
            UnknownDocumentError: If ``doc`` is neither recorded nor has nodes in Milvus.

        Example:
            >>> rag.stats()
            {'docs': 2, 'nodes': {'text': 3, 'image': 1, 'table': 0, 'equation': 0}, 'entities': ..., 'relations': ...}
        """
        return self._loop.run(self.catalog.astats(doc))

    async def astats(self, doc: str | Path | None = None) -> StoreStats:
        """Native async twin of :meth:`stats`.

        Args:
            doc: Count one document only.

        Example:
            >>> import asyncio
            >>> asyncio.run(rag.astats(doc="milvus_faq.txt"))["nodes"]  # or await in async code
            {'text': 3, 'image': 0, 'table': 0, 'equation': 0}
        """
        return await self._loop.arun(self.catalog.astats(doc))

    # ----------------------------------------------------------------- retrieval
    def as_retriever(
        self,
        top_k: int | None = None,
        modalities: Sequence[str] | None = None,
        doc: str | Sequence[str] | None = None,
        page_range: tuple[int, int] | None = None,
        filters: MetadataFilters | None = None,
        graph_mode: str | None = None,
        modality_quotas: Mapping[str, int] | None = None,
    ) -> MultimodalCompositeRetriever:
        """The composite retriever: filtered hybrid Milvus search fused with LightRAG graph retrieval and with a
        search of the pages, figures and tables the question names.

        A scope (modalities, doc, page range, filters) is handed to every branch: the graph's chunks are kept
        only inside it, and the reference search looks only there, so a scope never widens the result set.

        Args:
            top_k: How many nodes to return (``top_k`` setting by default).
            modalities: Keep only these modalities.
            doc: Keep only this document (or these), named as :meth:`delete` accepts (``report``, ``Report.PDF``).
            page_range: Keep pages ``first..last`` (0-based, inclusive).
            filters: Further LlamaIndex metadata filters.
            graph_mode: LightRAG mode of the graph branch, ``"off"`` for vector retrieval only; the
                ``graph_mode`` setting (``local`` by default) when ``None``.
            modality_quotas: Per-modality maximum counts.
        """
        from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever
        from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
        from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
        from llama_index_mmrag.retrievers.references import ReferenceRetriever

        # "Report" or "report" names report.pdf; an unknown name, an empty scope or a wrong type is an error
        doc = self.catalog.resolve_many(check_docs(doc))
        s = self.settings
        k = s.top_k if top_k is None else check_top_k(top_k)
        candidates = k * s.candidate_factor if s.page_aggregation else k
        branches: list[BaseRetriever] = [
            MilvusModalRetriever(self.vector_store, self.embed_model, similarity_top_k=candidates, mode=self.vector_mode)
        ]
        weights = [s.vector_weight]
        mode = graph_mode or s.graph_mode
        if mode != "off":
            # The graph branch ranks chunks by how many matched entities cite them: a longer list adds
            # weakly linked chunks (and query time) without moving pages into the top k.
            branches.append(LightRAGRetriever(self.graph, self.vector_store, mode=mode, top_k=k))
            weights.append(s.graph_weight)
        if s.reference_weight > 0:
            branches.append(
                ReferenceRetriever(self.vector_store, self.embed_model, similarity_top_k=candidates, mode=self.vector_mode)
            )
            weights.append(s.reference_weight)
        return MultimodalCompositeRetriever(
            branches, weights, top_k=k, modalities=modalities, doc=doc, page_range=page_range, filters=filters,
            modality_quotas=modality_quotas, page_aggregation=s.page_aggregation, page_support=s.page_support,
        )

    def as_query_engine(
        self,
        node_postprocessors: Sequence[BaseNodePostprocessor] | None = None,
        multimodal: bool = False,
        **retriever_kwargs: Any,
    ) -> RetrieverQueryEngine:
        """A standard ``RetrieverQueryEngine`` over :meth:`as_retriever`, with the three modal postprocessors.

        With an LLM it synthesises answers; with ``multimodal=True`` and a VLM, retrieved images are sent to
        the VLM; without an LLM it answers extractively with citations ``[doc, p.N, modality]`` (never
        LlamaIndex's default OpenAI LLM). The relevance floor (:meth:`relevance_floor`) runs first: when no
        retrieved chunk is about the question, no node reaches the answer and it says no evidence was found.

        Args:
            node_postprocessors: Postprocessors applied after retrieval (after the relevance floor); the
                image, table and equation postprocessors by default.
            multimodal: Send retrieved images to the VLM when one is configured.
            **retriever_kwargs: Passed to :meth:`as_retriever`.
        """
        from llama_index_mmrag.processors.postprocessors import default_postprocessors
        from llama_index_mmrag.query_engine import MultimodalQueryEngine
        from llama_index_mmrag.synthesis import answer_synthesizer

        synthesizer = answer_synthesizer(self.llm, self.vlm, multimodal)
        if node_postprocessors is None:
            node_postprocessors = default_postprocessors(describer=self.describer, multimodal=multimodal)
        postprocessors = list(node_postprocessors)
        if self.settings.relevance_floor > 0:
            postprocessors.insert(0, self.relevance_floor())
        return MultimodalQueryEngine(
            retriever=self.as_retriever(**retriever_kwargs), response_synthesizer=synthesizer, node_postprocessors=postprocessors
        )

    def relevance_floor(self) -> RelevanceFloor:
        """The postprocessor that passes no node when none is about the question (the ``relevance_floor``
        setting, on the vectors stored for the retrieved chunks).

        Example:
            >>> rag.relevance_floor().postprocess_nodes(rag.as_retriever().retrieve("hello"), query_str="hello")
            []
        """
        from llama_index_mmrag.relevance import RelevanceFloor, milvus_vector_lookup

        return RelevanceFloor(
            embed_model=self.embed_model,
            floor=self.settings.relevance_floor,
            vector_lookup=milvus_vector_lookup(self.vector_store),
        )

    def as_tool(self, name: str = "documents", description: str | None = None, **engine_kwargs: Any) -> QueryEngineTool:
        """A ``QueryEngineTool`` for LlamaIndex agents.

        Args:
            name: Tool name the agent sees.
            description: What the tool knows about; a summary of the store by default.
            **engine_kwargs: Passed to :meth:`as_query_engine`.
        """
        from llama_index.core.tools import QueryEngineTool

        docs = [r.doc for r in self.manifest.docs()]
        default = f"Answers questions from these documents, citing document and page: {', '.join(docs[:20]) or 'none yet'}."
        return QueryEngineTool.from_defaults(self.as_query_engine(**engine_kwargs), name=name, description=description or default)

    def documents(self) -> list[DocRecord]:
        """Records of the documents in the store (name, pages, nodes per modality, ingested at, parser), by name.

        Example:
            >>> [(r.doc, r.pages, r.modalities) for r in rag.documents()]
            [('milvus_architecture.png', 1, {'image': 1}), ('milvus_faq.txt', 1, {'text': 3})]
        """
        return self.catalog.documents()

    def document(self, doc: str | Path, default: Any = _RAISE) -> DocRecord | Any:
        """The record of one stored document, named as :meth:`delete` accepts (``report``, ``Report.PDF``).

        Args:
            doc: The document's name.
            default: Returned when no document matches; without it, that is an error.

        Raises:
            UnknownDocumentError: If no stored document matches (or several do) and no ``default`` is given.

        Example:
            >>> rag.document("milvus_faq").doc
            'milvus_faq.txt'
        """
        return self.catalog.get(doc) if default is _RAISE else self.catalog.get(doc, default)

    def close(self) -> None:
        """Flush the graph and release the stores (a Lite store's local server stops once no process uses it)."""
        self.graph.close()
        try:
            self.vector_store.client.close()
        except Exception:  # closing twice, or a client without close(): nothing left to release
            logger.debug("Milvus client already closed", exc_info=True)
        if self._lite_hold is not None:
            self._lite_hold.release()

    def __enter__(self) -> MultimodalRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
