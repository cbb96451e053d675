"""MultimodalRAG: the facade that wires the models, the store (:mod:`llama_index_mmrag.index.opening`), the
ingestion pipeline (:mod:`llama_index_mmrag.ingestion`), the retrievers (:mod:`llama_index_mmrag.retrievers.build`)
and the query engine (:mod:`llama_index_mmrag.query_engine`). Every document write is all-or-nothing across Milvus,
the graph and the manifest: see :mod:`llama_index_mmrag.index`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.index.opening import OpenStore
from llama_index_mmrag.manifest import DocRecord
from llama_index_mmrag.models.factory import build_models
from llama_index_mmrag.models.image_embedding import build_image_embedding
from llama_index_mmrag.retrievers.arguments import check_docs
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stats import StoreStats
from llama_index_mmrag.stores.image_field import ImageField

# What only ingestion or only retrieval needs is imported where it is used: opening a store to count, delete or
# query loads neither the parsers nor RAG-Anything.
if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.embeddings import MultiModalEmbedding
    from llama_index.core.llms import LLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.tools import QueryEngineTool
    from llama_index.core.vector_stores.types import MetadataFilters

    from llama_index_mmrag.ingestion import DocumentPipeline, IngestReport
    from llama_index_mmrag.ingestion.sync import FolderSync, SyncReport
    from llama_index_mmrag.processors.describer import ModalDescriber
    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
    from llama_index_mmrag.relevance import RelevanceFloor
    from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever

_RAISE: Any = object()
"""Marks a missing ``default`` argument."""


class MultimodalRAG:
    """Multimodal RAG in one object: ingest files, then retrieve, query, or hand an agent a tool.

    Offline by default (Milvus Lite in ``storage_dir``, the packaged MiniLM, an LLM-free graph, extractive answers);
    with ``DASHSCOPE_API_KEY`` set, or an ``llm`` passed, the LLM paths of LightRAG and RAG-Anything run.

    Args:
        storage_dir: Folder of the store (``MMRAG_STORAGE_DIR``; ``./mmrag_storage`` by default).
        llm: Any LlamaIndex LLM for answers and graph building; DashScope's when a key is set.
        vlm: A multimodal LlamaIndex LLM for image descriptions; DashScope's when a key is set.
        embed_model: Any LlamaIndex embedding, with ``embed_dim``; the packaged MiniLM by default.
        embed_dim: Dimension of ``embed_model``.
        image_embed_model: Any LlamaIndex ``MultiModalEmbedding``: image nodes get their pixels embedded into a
            second vector field, searched by the question's text in the same hybrid request (``MMRAG_IMAGE_EMBED_MODEL``
            by default; none: no image field). Fixed when the store is created.
        image_embed_dim: Dimension of ``image_embed_model`` (probed when not given).
        settings: A full settings object (``storage_dir`` and ``overrides`` are applied on top).
        **overrides: Any :class:`~llama_index_mmrag.settings.MMRAGSettings` field.

    Example:
        ``rag`` here holds the demo's two files, ingested with::

            rag = MultimodalRAG(storage_dir="./store", top_k=5)
            report = rag.ingest(["milvus_faq.txt", "milvus_architecture.png"])

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
        image_embed_model: MultiModalEmbedding | None = None,
        image_embed_dim: int | None = None,
        settings: MMRAGSettings | None = None,
        **overrides: Any,
    ) -> None:
        if storage_dir is not None:
            overrides["storage_dir"] = Path(storage_dir)
        base = settings.model_dump() if settings is not None else {}
        self.settings = MMRAGSettings(**(base | overrides))
        self.llm, self.vlm, self.embed_model, self.embed_dim = build_models(self.settings, llm, vlm, embed_model, embed_dim)
        self.image_embed_model, self.image_embed_dim = build_image_embedding(
            self.settings, image_embed_model, image_embed_dim
        )  # pictures searched by their pixels: a second vector field (none by default)
        image_field = None
        if self.image_embed_model is not None:
            image_field = ImageField(
                self.image_embed_model, self.image_embed_dim or 0, relevance_floor=self.settings.image_relevance_floor
            )
        # identity check (model, dimension, graph workspace), graph, Milvus, manifest; a pending write finished
        store = self._store = OpenStore.open(self.settings, self.embed_model, self.embed_dim, self.llm, image_field)
        self.identity, self._loop, self.graph, self.vector_store = store.identity, store.loop, store.graph, store.vector_store
        self.manifest, self.index, self.catalog, self.vector_mode = store.manifest, store.index, store.catalog, store.vector_mode
        self._pipeline: DocumentPipeline | None = None  # built on first use: opening a store loads no parser
        self._parts_lock = threading.Lock()
        self._folder_syncs: dict[Path, FolderSync] = {}  # per folder: the files' hashes kept between syncs

    @property
    def pipeline(self) -> DocumentPipeline:
        """The ingestion pipeline (check -> parse -> describe -> nodes -> fit -> embed -> write) into this store."""
        if self._pipeline is None:
            with self._parts_lock:
                if self._pipeline is None:
                    from llama_index_mmrag.ingestion import DocumentPipeline

                    self._pipeline = DocumentPipeline.for_store(
                        self.settings, self.index, self.embed_model, self.llm, self.vlm, self.image_embed_model
                    )
        return self._pipeline

    @property
    def reader(self) -> RAGAnythingReader:
        """The reader that parses files (built on first use: counting, deleting or querying needs no parser)."""
        return self.pipeline.reader

    @property
    def describer(self) -> ModalDescriber:
        """The describer of images, tables and equations (built on first use, by an ingest or a query engine)."""
        return self.pipeline.describer

    def ingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Ingest files and folders, each all or nothing; an unchanged file is skipped, a changed one replaced; the
        report says what was ingested, skipped, and which files failed why (the rest goes on).

        Args:
            paths: Files or folders (a folder given twice is read once).
            show_progress: Show a progress bar.

        Example:
            >>> report = rag.ingest(["milvus_faq.txt"], show_progress=False)  # already stored, same content
            >>> report.ok, report.summary()
            (True, 'ingested 0 document(s) (no nodes), 1 unchanged, 0 failed, in ... s')
        """
        return self._loop.run(self.pipeline.aingest(paths, show_progress))

    async def aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Async twin of :meth:`ingest` (it runs on the engine loop; the caller's loop stays free).

        Example:
            >>> import asyncio
            >>> report = asyncio.run(rag.aingest(["milvus_faq.txt"], show_progress=False))  # or await in async code
            >>> report.unchanged
            ['milvus_faq.txt']
        """
        return await self._loop.arun(self.pipeline.aingest(paths, show_progress))

    def delete(self, doc: str | Path) -> DocRecord:
        """Remove a document (its nodes, its graph contribution, its record), all or nothing; returns its record.

        Args:
            doc: The document's name (its file name; a path is reduced to its name).

        Raises:
            UnknownDocumentError: If no document of that name is stored (the error lists the closest name).
        """
        return self._loop.run(self._adelete(doc))

    async def adelete(self, doc: str | Path) -> DocRecord:
        """Native async twin of :meth:`delete`.

        Args:
            doc: The document's name.
        """
        return await self._loop.arun(self._adelete(doc))

    async def _adelete(self, doc: str | Path) -> DocRecord:
        from llama_index_mmrag.direct_delete import adelete_named  # the steps `mmrag delete` runs without the facade

        return await adelete_named(self.index, self.manifest, self.settings.storage_dir, doc)

    def sync(
        self, directory: str | Path, show_progress: bool = True, skip: Iterable[str | Path] = ()
    ) -> SyncReport:
        """Make the store mirror a folder: ingest new and changed files, delete the documents of files gone from
        it, move renamed files' documents to their new name (not parsed again); each write all or nothing. Only
        documents ingested from this folder are deleted or renamed.

        Args:
            directory: The folder (its subfolders too, hidden files skipped).
            show_progress: Show the ingest progress bars.
            skip: Files to leave as they are this time (still being written).

        Raises:
            ParseError: If ``directory`` is not an existing folder (nothing is deleted then).

        Example:
            >>> rag.sync("no-such-folder")
            Traceback (most recent call last):
            llama_index_mmrag.parsing.errors.ParseError: no-such-folder: does not exist; sync mirrors a folder ...
        """
        return self._loop.run(self._folder_sync(directory).arun(list(skip), show_progress))

    async def async_(
        self, directory: str | Path, show_progress: bool = True, skip: Iterable[str | Path] = ()
    ) -> SyncReport:
        """Native async twin of :meth:`sync` (``a`` + ``sync``; ``async`` is a keyword, hence the underscore).

        Args:
            directory: The folder.
            show_progress: Show the ingest progress bars.
            skip: Files to leave as they are this time.
        """
        return await self._loop.arun(self._folder_sync(directory).arun(list(skip), show_progress))

    def _folder_sync(self, directory: str | Path) -> FolderSync:
        from llama_index_mmrag.ingestion.sync import FolderSync

        folder, pipeline = Path(directory), self.pipeline
        with self._parts_lock:
            key = folder.resolve()
            if key not in self._folder_syncs:
                self._folder_syncs[key] = FolderSync(pipeline, self.index, folder)
            return self._folder_syncs[key]

    def stats(self, doc: str | Path | None = None) -> StoreStats:
        """Count what the store holds, from Milvus and the graph themselves (not from the manifest).

        Args:
            doc: Count one document: its nodes, and the entities and relations with a source chunk in it.

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
        """The composite retriever (vector, graph and reference branches fused); a scope never widens its results.

        Args:
            top_k: How many nodes to return (``top_k`` setting by default).
            modalities: Keep only these modalities.
            doc: Keep only this document (or these), named as :meth:`delete` accepts (``report``, ``Report.PDF``).
            page_range: Keep pages ``first..last`` (0-based, inclusive).
            filters: Further LlamaIndex metadata filters.
            graph_mode: LightRAG mode of the graph branch, ``"off"`` for none (the ``graph_mode`` setting by default).
            modality_quotas: Per-modality maximum counts.
        """
        from llama_index_mmrag.retrievers.build import build_composite

        return build_composite(
            self.settings, self.vector_store, self.graph, self.embed_model, top_k=top_k, modalities=modalities,
            doc=self.catalog.resolve_many(check_docs(doc)), page_range=page_range, filters=filters,
            graph_mode=graph_mode, modality_quotas=modality_quotas,
        )

    def as_query_engine(
        self,
        node_postprocessors: Sequence[BaseNodePostprocessor] | None = None,
        multimodal: bool = False,
        **retriever_kwargs: Any,
    ) -> RetrieverQueryEngine:
        """A ``RetrieverQueryEngine`` over :meth:`as_retriever`: the relevance floor, the modal postprocessors,
        then answers by the LLM (the VLM over images when ``multimodal``), or extractive answers with citations.

        Args:
            node_postprocessors: Applied after the relevance floor; the image, table and equation ones by default.
            multimodal: Send retrieved images to the VLM when one is configured.
            **retriever_kwargs: Passed to :meth:`as_retriever`.
        """
        from llama_index_mmrag.processors.postprocessors import default_postprocessors
        from llama_index_mmrag.query_engine import build_query_engine

        if node_postprocessors is None:
            node_postprocessors = default_postprocessors(describer=self.describer, multimodal=multimodal)
        return build_query_engine(
            self.as_retriever(**retriever_kwargs), node_postprocessors, llm=self.llm, vlm=self.vlm, multimodal=multimodal,
            relevance_floor=self.relevance_floor() if self.settings.relevance_floor > 0 else None,
        )

    def relevance_floor(self) -> RelevanceFloor:
        """The postprocessor that passes no node when none is about the question (``relevance_floor`` setting).

        Example:
            >>> rag.relevance_floor().postprocess_nodes(rag.as_retriever().retrieve("hello"), query_str="hello")
            []
        """
        from llama_index_mmrag.relevance import RelevanceFloor, milvus_image_vector_lookup, milvus_vector_lookup

        lookup = milvus_vector_lookup(self.vector_store)
        images = getattr(self.vector_store, "image_field", None)  # pictures are also judged by the image model
        return RelevanceFloor(
            embed_model=self.embed_model, floor=self.settings.relevance_floor, vector_lookup=lookup, image_field=images,
            image_vector_lookup=milvus_image_vector_lookup(self.vector_store) if images is not None else None,
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
        self._store.close()

    def __enter__(self) -> MultimodalRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
