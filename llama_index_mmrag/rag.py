"""MultimodalRAG: the facade that wires parsing, modal descriptions, Milvus, the graph and retrieval.

Example:
    >>> from llama_index_mmrag import MultimodalRAG
    >>> rag = MultimodalRAG(storage_dir="./mmrag_storage")       # offline defaults  # doctest: +SKIP
    >>> rag.ingest(["report.pdf", "diagram.png"])                                    # doctest: +SKIP
    >>> print(rag.as_query_engine().query("What does the diagram show?"))            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.tools import QueryEngineTool
from llama_index.core.vector_stores.types import MetadataFilters
from tqdm.auto import tqdm

from llama_index_mmrag.blocks import blocks_to_nodes
from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.models.adapters import lightrag_llm_func
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, local_embedding
from llama_index_mmrag.processors import ModalDescriber, annotate_nodes, default_postprocessors
from llama_index_mmrag.readers.rag_anything import LoadFailure, ParsedDocument, RAGAnythingReader, expand_paths
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever
from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
from llama_index_mmrag.runtime import engine_loop
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stores.milvus import build_vector_store
from llama_index_mmrag.synthesis import ExtractiveSynthesizer

logger = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What an ingest did.

    Args:
        ingested: Documents added or replaced.
        unchanged: Documents skipped because their content hash is already stored.
        failures: Files that could not be ingested, each with its reason.
        nodes: Nodes added, per modality.
        seconds: Wall time of the ingest.
    """

    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failures

    def summary(self) -> str:
        """One line for humans."""
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.nodes.items())) or "no nodes"
        return (
            f"ingested {len(self.ingested)} document(s) ({counts}), {len(self.unchanged)} unchanged, "
            f"{len(self.failures)} failed, in {self.seconds:.1f} s"
        )


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
        >>> rag = MultimodalRAG(storage_dir="./store", top_k=5)                # doctest: +SKIP
        >>> report = rag.ingest(["faq.txt", "architecture.png"])              # doctest: +SKIP
        >>> tool = rag.as_tool(name="milvus_docs", description="Milvus docs")  # doctest: +SKIP
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
        self.llm, self.vlm, self.embed_model, self.embed_dim = self._models(llm, vlm, embed_model, embed_dim)
        self._loop = engine_loop()
        self.vector_store = build_vector_store(self.settings, self.embed_dim)
        self.graph = GraphStore(
            self.settings,
            self.embed_model,
            self.embed_dim,
            llm_func=lightrag_llm_func(self.llm) if self.llm is not None else None,
            loop=self._loop,
        )
        self.reader = RAGAnythingReader(parser=self.settings.parser, output_dir=str(self.settings.parsed_dir))
        self.describer = ModalDescriber(
            self.llm,
            self.vlm,
            cache_dir=self.settings.storage_dir / "descriptions",
            concurrency=self.settings.describe_concurrency,
        )
        self.manifest = Manifest(self.settings.storage_dir / "manifest.json")

    def _models(
        self, llm: LLM | None, vlm: LLM | None, embed_model: BaseEmbedding | None, embed_dim: int | None
    ) -> tuple[LLM | None, LLM | None, BaseEmbedding, int]:
        s = self.settings
        if s.use_dashscope and (llm is None or vlm is None or (embed_model is None and s.embed_model != "local")):
            from llama_index_mmrag.models.dashscope import dashscope_models_from_settings

            ds_llm, ds_vlm, ds_embed = dashscope_models_from_settings(
                api_key=s.dashscope_api_key or "",
                base_url=s.dashscope_base_url,
                llm_model=s.llm_model,
                vlm_model=s.vlm_model,
                embed_model=s.embed_model if s.embed_model != "local" else "text-embedding-v3",
                embed_dim=s.embed_dim,
            )
            llm = llm or ds_llm
            vlm = vlm or ds_vlm
            if embed_model is None and s.embed_model != "local":
                embed_model, embed_dim = ds_embed, s.embed_dim
        if embed_model is None:
            return llm, vlm, local_embedding(), LOCAL_EMBED_DIM
        if embed_dim is None:
            embed_dim = len(embed_model.get_text_embedding("dimension probe"))
        return llm, vlm, embed_model, embed_dim

    # ----------------------------------------------------------------- ingestion
    def ingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Ingest files and folders; failures are reported at the end, the rest goes on.

        Args:
            paths: Files or folders.
            show_progress: Show a progress bar.
        """
        return self._loop.run(self._aingest(paths, show_progress))

    async def aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Async twin of :meth:`ingest` (the work runs on the engine loop; the caller's loop stays free)."""
        return await self._loop.arun(self._aingest(paths, show_progress))

    async def _aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool) -> IngestReport:
        started = time.perf_counter()
        report = IngestReport()
        files = expand_paths(paths)
        counts: Counter[str] = Counter()
        with tqdm(total=len(files), desc="ingest", unit="file", disable=not show_progress) as bar:
            for path in files:
                bar.set_postfix_str(Path(path).name[:40])
                try:
                    added = await self._aingest_file(Path(path), report)
                    counts.update(added)
                except ParseError as exc:
                    report.failures.append(LoadFailure(Path(path), exc.reason))
                bar.update(1)
        report.nodes = dict(counts)
        report.seconds = time.perf_counter() - started
        return report

    async def _aingest_file(self, path: Path, report: IngestReport) -> Counter[str]:
        parsed = await self.reader.aparse(path)
        existing = self.manifest.get(parsed.doc)
        if existing is not None and existing.doc_id == parsed.doc_id:
            report.unchanged.append(parsed.doc)
            return Counter()
        if existing is not None:
            await self._adelete_record(existing)
        descriptions = await self.describer.adescribe(parsed.blocks)  # LLM/VLM when configured, offline otherwise
        nodes = await asyncio.to_thread(self._nodes_for, parsed)
        annotate_nodes(nodes, descriptions)
        await asyncio.to_thread(self._embed_and_store, nodes)
        await self.graph.ainsert_nodes(nodes)
        modalities = Counter(str(n.metadata["modality"]) for n in nodes)
        pages = max((b.page for b in parsed.blocks if b.page is not None), default=-1) + 1
        self.manifest.record(
            DocRecord(
                doc=parsed.doc,
                doc_id=parsed.doc_id,
                parser=parsed.parser,
                node_ids=[n.node_id for n in nodes],
                modalities=dict(modalities),
                pages=pages,
                source_path=str(path.resolve()),
            )
        )
        report.ingested.append(parsed.doc)
        return modalities

    def _nodes_for(self, parsed: ParsedDocument) -> list[BaseNode]:
        return blocks_to_nodes(parsed.blocks, chunk_size=self.settings.chunk_size, chunk_overlap=self.settings.chunk_overlap)

    def _embed_and_store(self, nodes: Sequence[BaseNode]) -> None:
        if not nodes:
            return
        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        for node, vector in zip(nodes, self.embed_model.get_text_embedding_batch(texts)):
            node.embedding = vector
        self.vector_store.add(list(nodes))

    async def _adelete_record(self, record: DocRecord) -> None:
        nodes = await asyncio.to_thread(self.vector_store.get_nodes, node_ids=list(record.node_ids)) if record.node_ids else []
        await self.graph.adelete_nodes(nodes)
        await asyncio.to_thread(self.vector_store.delete, record.doc_id)
        self.manifest.remove(record.doc)

    # ----------------------------------------------------------------- retrieval
    async def alookup_nodes(self, node_ids: Sequence[str]) -> dict[str, BaseNode]:
        """Fetch stored nodes by id (used to give graph results their provenance).

        Args:
            node_ids: Chunk ids.
        """
        if not node_ids:
            return {}
        nodes = await asyncio.to_thread(self.vector_store.get_nodes, node_ids=list(node_ids))
        return {n.node_id: n for n in nodes}

    def as_retriever(
        self,
        top_k: int | None = None,
        modalities: Sequence[str] | None = None,
        doc: str | Sequence[str] | None = None,
        page_range: tuple[int, int] | None = None,
        filters: MetadataFilters | None = None,
        graph_mode: str | None = "hybrid",
        modality_quotas: Mapping[str, int] | None = None,
    ) -> MultimodalCompositeRetriever:
        """The composite retriever: filtered hybrid Milvus search fused with LightRAG graph retrieval.

        When a scope (modalities, doc, page range, filters) is given, only the filtered vector search
        runs, so a filter never widens the result set.

        Args:
            top_k: How many nodes to return (``top_k`` setting by default).
            modalities: Keep only these modalities.
            doc: Keep only this document (or these).
            page_range: Keep pages ``first..last`` (0-based, inclusive).
            filters: Further LlamaIndex metadata filters.
            graph_mode: LightRAG mode, or ``None`` for vector retrieval only.
            modality_quotas: Per-modality maximum counts.
        """
        k = top_k or self.settings.top_k
        candidates = k * self.settings.candidate_factor if self.settings.page_aggregation else k
        vector = MilvusModalRetriever(
            self.vector_store, self.embed_model, similarity_top_k=candidates, modalities=modalities, doc=doc,
            page_range=page_range, filters=filters,
        )
        scoped = any(v is not None for v in (modalities, doc, page_range, filters))
        graph = None
        if graph_mode is not None and not scoped:
            graph = LightRAGRetriever(self.graph, mode=graph_mode, top_k=candidates, node_lookup=self.alookup_nodes)
        return MultimodalCompositeRetriever(
            vector, graph, top_k=k, vector_weight=self.settings.vector_weight,
            graph_weight=self.settings.graph_weight, modality_quotas=modality_quotas,
            page_aggregation=self.settings.page_aggregation,
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
        LlamaIndex's default OpenAI LLM).

        Args:
            node_postprocessors: Postprocessors applied after retrieval; the image, table and equation
                postprocessors by default.
            multimodal: Send retrieved images to the VLM when one is configured.
            **retriever_kwargs: Passed to :meth:`as_retriever`.
        """
        if multimodal and self.vlm is not None:
            synthesizer: Any = get_response_synthesizer(llm=self.vlm, multimodal=True)
        elif self.llm is not None:
            synthesizer = get_response_synthesizer(llm=self.llm)
        else:
            synthesizer = ExtractiveSynthesizer()
        if node_postprocessors is None:
            node_postprocessors = default_postprocessors(describer=self.describer, multimodal=multimodal)
        return RetrieverQueryEngine(
            retriever=self.as_retriever(**retriever_kwargs),
            response_synthesizer=synthesizer,
            node_postprocessors=list(node_postprocessors),
        )

    def as_tool(self, name: str = "documents", description: str | None = None, **engine_kwargs: Any) -> QueryEngineTool:
        """A ``QueryEngineTool`` for LlamaIndex agents.

        Args:
            name: Tool name the agent sees.
            description: What the tool knows about; a summary of the store by default.
            **engine_kwargs: Passed to :meth:`as_query_engine`.
        """
        docs = [r.doc for r in self.manifest.docs()]
        default = f"Answers questions from these documents, citing document and page: {', '.join(docs[:20]) or 'none yet'}."
        return QueryEngineTool.from_defaults(self.as_query_engine(**engine_kwargs), name=name, description=description or default)

    def documents(self) -> list[DocRecord]:
        """Records of the documents in the store."""
        return self.manifest.docs()

    def close(self) -> None:
        """Flush the graph and release the stores (Milvus Lite allows one process at a time)."""
        self.graph.close()
        try:
            self.vector_store.client.close()
        except Exception:  # closing twice, or a client without close(): nothing left to release
            logger.debug("Milvus client already closed", exc_info=True)

    def __enter__(self) -> MultimodalRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
