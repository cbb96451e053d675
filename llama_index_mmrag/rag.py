"""MultimodalRAG: the facade that wires parsing, modal descriptions, Milvus, the graph and retrieval.

Example:
    >>> from llama_index_mmrag import MultimodalRAG
    >>> rag = MultimodalRAG(storage_dir="./mmrag_storage")       # offline defaults  # doctest: +SKIP
    >>> rag.ingest(["report.pdf", "diagram.png"])                                    # doctest: +SKIP
    >>> print(rag.as_query_engine().query("What does the diagram show?"))            # doctest: +SKIP
    >>> rag.stats()["nodes"]                                                          # doctest: +SKIP
    {'text': 3, 'image': 1, 'table': 0, 'equation': 0}
    >>> rag.delete("diagram.png")                                                     # doctest: +SKIP

Every document write (ingest, replace, delete) is all-or-nothing across Milvus, the graph and the manifest:
see :mod:`llama_index_mmrag.lifecycle` for the write-ahead journal and crash recovery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import threading
import time
import weakref
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from llama_index_mmrag.schema import blocks_to_nodes, file_content_hash
from llama_index_mmrag.doc_names import (  # noqa: F401  (re-exported: they were defined here)
    AmbiguousDocumentError,
    UnknownDocumentError,
    closest_names,
    match_document,
    resolve_document,
)
from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.lifecycle import (
    Journal,
    PendingWrite,
    StoreBusyError,
    StoreLock,
    crash_point,
)
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.models.adapters import lightrag_llm_func
from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, lazy_local_embedding
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.progress import progress_bar, report_progress
from llama_index_mmrag.retrievers.arguments import check_docs, check_top_k
from llama_index_mmrag.runtime import engine_loop
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stats import StoreStats, doc_node_ids, vector_counts
from llama_index_mmrag.stores.lite_server import hold_lite_store
from llama_index_mmrag.stores.milvus import build_vector_store, delete_ids, flush_collections

# What only ingestion needs (the reader and its parsers, RAG-Anything, the describer) and what only retrieval
# needs (retrievers, synthesis, LlamaIndex's query engine) is imported where it is used, so opening a store to
# count, delete or query loads neither the parsers nor RAG-Anything.
if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.llms import LLM
    from llama_index.core.postprocessor.types import BaseNodePostprocessor
    from llama_index.core.query_engine import RetrieverQueryEngine
    from llama_index.core.schema import BaseNode
    from llama_index.core.tools import QueryEngineTool
    from llama_index.core.vector_stores.types import MetadataFilters

    from llama_index_mmrag.processors.describer import ModalDescriber
    from llama_index_mmrag.readers.rag_anything import LoadFailure, ParsedDocument, RAGAnythingReader
    from llama_index_mmrag.relevance import RelevanceFloor
    from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever

logger = logging.getLogger(__name__)


_RAISE: Any = object()
"""Marks a missing ``default`` argument."""


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


def _discard(future: asyncio.Future[Any] | None) -> None:
    """Cancel a prefetch nobody will await (the batch stopped), and consume its outcome if it has one."""
    if future is None:
        return
    if future.done():
        if not future.cancelled():
            future.exception()
    else:
        future.cancel()


@dataclass
class _PreparedFile:
    """A file parsed and cut into nodes, waiting to be embedded and written."""

    path: Path
    parsed: ParsedDocument
    nodes: list[BaseNode]
    show_progress: bool = False  # draw a page bar while it is embedded


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
        self._lite_hold = hold_lite_store(self.settings)
        if self._lite_hold is not None:  # an instance dropped without close() lets the store go too
            weakref.finalize(self, self._lite_hold.release)
        try:  # a store that fails to open (a bad manifest, an unreachable graph) is let go again
            self.vector_store = build_vector_store(self.settings, self.embed_dim)
            self.graph = GraphStore(
                self.settings,
                self.embed_model,
                self.embed_dim,
                llm_func=lightrag_llm_func(self.llm) if self.llm is not None else None,
                loop=self._loop,
            )
            self._reader: RAGAnythingReader | None = None  # built on first use: see the properties below
            self._describer: ModalDescriber | None = None
            self._parts_lock = threading.Lock()
            self.manifest = Manifest(self.settings.storage_dir / "manifest.json")
            self.journal = Journal(self.settings.storage_dir, self.settings.graph_dir)
            self.vector_mode: Literal["hybrid", "dense"] = "hybrid" if self.vector_store.enable_sparse else "dense"
            self._store_lock = StoreLock(self.settings.storage_dir / "write.lock")
            self._write_lock = asyncio.Lock()  # one write at a time in this process (used on the engine loop only)
            if self.journal.pending() is not None:
                self._loop.run(self._arecover_at_open())
        except BaseException:
            if self._lite_hold is not None:
                self._lite_hold.release()
            raise

    @property
    def reader(self) -> RAGAnythingReader:
        """The reader that parses files (built on first use: counting, deleting or querying needs no parser)."""
        if self._reader is None:
            with self._parts_lock:
                if self._reader is None:
                    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader

                    self._reader = RAGAnythingReader(parser=self.settings.parser, output_dir=str(self.settings.parsed_dir))
        return self._reader

    @property
    def describer(self) -> ModalDescriber:
        """The describer of images, tables and equations (built on first use, by an ingest or a query engine)."""
        if self._describer is None:
            with self._parts_lock:
                if self._describer is None:
                    from llama_index_mmrag.processors.describer import ModalDescriber

                    self._describer = ModalDescriber(
                        self.llm,
                        self.vlm,
                        cache_dir=self.settings.storage_dir / "descriptions",
                        concurrency=self.settings.describe_concurrency,
                        ocr=False,  # our parsers OCR every image while parsing; an image without text stays without
                    )
        return self._describer

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
            # loaded on the first embedding, so opening a store to count or delete loads no model
            return llm, vlm, lazy_local_embedding(), LOCAL_EMBED_DIM
        if embed_dim is None:
            embed_dim = len(embed_model.get_text_embedding("dimension probe"))
        return llm, vlm, embed_model, embed_dim

    # ----------------------------------------------------------------- ingestion
    def ingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Ingest files and folders; failures are reported at the end, the rest goes on.

        A file whose content is already stored under its name is skipped before it is parsed (content hash);
        a changed file replaces its stored version. Each document goes in all or nothing (Milvus, graph and
        manifest together), even if the process dies half-way: see :mod:`llama_index_mmrag.lifecycle`.
        A file that fails leaves the store as it was for that file (a replaced version stays).

        Args:
            paths: Files or folders (a folder given twice is read once).
            show_progress: Show a progress bar.

        Returns:
            What was ingested, skipped as unchanged, and which files failed with which reason.

        Example:
            >>> report = rag.ingest(["report.pdf", "inbox/"])          # doctest: +SKIP
            >>> report.ok, report.summary()                             # doctest: +SKIP
            (True, 'ingested 3 document(s) (41 text, 4 table, 2 image), 0 unchanged, 0 failed, in 9.8 s')
        """
        return self._loop.run(self._aingest(paths, show_progress))

    async def aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool = True) -> IngestReport:
        """Async twin of :meth:`ingest` (the work runs on the engine loop; the caller's loop stays free, and
        queries keep working while it runs).

        Example:
            >>> report = await rag.aingest(["report.pdf"], show_progress=False)   # doctest: +SKIP
        """
        return await self._loop.arun(self._aingest(paths, show_progress))

    async def _aingest(self, paths: str | Path | Iterable[str | Path], show_progress: bool) -> IngestReport:
        from tqdm.auto import tqdm

        from llama_index_mmrag.inputs import expand_inputs
        from llama_index_mmrag.readers.rag_anything import LoadFailure

        started = time.perf_counter()
        report = IngestReport()
        files, skipped = await asyncio.to_thread(expand_inputs, paths)
        report.failures.extend(skipped)
        counts: Counter[str] = Counter()

        def prepare(index: int) -> asyncio.Future[_PreparedFile | None] | None:
            if index >= len(files):
                return None
            return asyncio.ensure_future(self._aprepare_file(Path(files[index]), report, show_progress))

        upcoming = prepare(0)
        with contextlib.ExitStack() as cleanup, tqdm(total=len(files), desc="ingest", unit="file", disable=not show_progress) as bar:
            cleanup.callback(lambda: _discard(upcoming))
            for index, path in enumerate(files):
                bar.set_postfix_str(Path(path).name[:40])
                try:
                    try:
                        prepared = await upcoming  # type: ignore[misc]
                    finally:
                        # The next file is parsed (in the parser's worker processes) while this one is
                        # embedded and written, so neither the workers nor the main process wait for the other.
                        upcoming = prepare(index + 1)
                    added = await self._acommit_file(prepared, report) if prepared is not None else Counter()
                    counts.update(added)
                except ParseError as exc:
                    report.failures.append(LoadFailure(Path(path), exc.reason))
                except StoreBusyError:
                    raise
                except Exception as exc:  # noqa: BLE001  (reported per file, with the reason; the batch goes on)
                    logger.warning("ingesting %s failed; the store is unchanged for it", path, exc_info=True)
                    message = " ".join(str(exc).split())[:500] or type(exc).__name__
                    report.failures.append(
                        LoadFailure(Path(path), f"ingest failed ({type(exc).__name__}: {message}); the store is unchanged for this file")
                    )
                bar.update(1)
        if report.ingested:
            await self._aflush()
        report.nodes = dict(counts)
        report.seconds = time.perf_counter() - started
        return report

    async def _aflush(self) -> None:
        """Seal what an ingest wrote to Milvus (ours and LightRAG's collections), so queries use the index."""
        names = [self.vector_store.collection_name, *await self.graph.arun(self.graph.avector_collections())]
        await asyncio.to_thread(flush_collections, self.vector_store.client, names)

    def _unchanged(self, path: Path) -> bool:
        """Whether ``path`` is already stored at its current content (checked before parsing it)."""
        existing = self.manifest.get(path.name)
        if existing is None:
            return False
        try:
            return path.is_file() and file_content_hash(path) == existing.doc_id
        except OSError:
            return False  # the reader reports why the file cannot be read

    async def _aprepare_file(
        self, path: Path, report: IngestReport, show_progress: bool = False
    ) -> _PreparedFile | None:
        """Check, parse and describe a file and cut its nodes (no store write); ``None`` if it is unchanged.

        With ``show_progress``, a bar counts the pages parsed (for parsers that read page by page: PDFs).
        """
        from llama_index_mmrag.inputs import check_input_file
        from llama_index_mmrag.limits import fit_nodes
        from llama_index_mmrag.processors.annotate import annotate_nodes

        await asyncio.to_thread(check_input_file, path)
        if await asyncio.to_thread(self._unchanged, path):
            report.unchanged.append(path.name)
            return None
        with progress_bar(f"parse {path.name}", enabled=show_progress):
            parsed = await self.reader.aparse(path)  # the parser reports pages from its thread (context copied)
        descriptions = await self.describer.adescribe(parsed.blocks)  # LLM/VLM when configured, offline otherwise
        nodes = await asyncio.to_thread(self._nodes_for, parsed)
        annotate_nodes(nodes, descriptions)
        nodes = await asyncio.to_thread(fit_nodes, nodes, self.settings.storage_dir / "overflow")
        return _PreparedFile(path, parsed, nodes, show_progress)

    async def _acommit_file(self, prepared: _PreparedFile, report: IngestReport) -> Counter[str]:
        """Embed a prepared file's nodes and write them, with the graph, under the journal.

        With the file's ``show_progress``, a bar counts the pages whose nodes are embedded, then another the
        graph's entity and relation vectors written.
        """
        path, parsed, nodes = prepared.path, prepared.parsed, prepared.nodes
        with progress_bar(f"embed {path.name}", enabled=prepared.show_progress):
            await asyncio.to_thread(self._embed, nodes)
        modalities = Counter(str(n.metadata["modality"]) for n in nodes)
        pages = max((b.page for b in parsed.blocks if b.page is not None), default=-1) + 1
        record = DocRecord(
            doc=parsed.doc,
            doc_id=parsed.doc_id,
            parser=parsed.parser,
            node_ids=[n.node_id for n in nodes],
            modalities=dict(modalities),
            pages=pages,
            source_path=str(path.resolve()),
        )
        async with self._writer():
            existing = self.manifest.get(parsed.doc)
            if existing is not None and existing.doc_id == parsed.doc_id:  # another ingest stored it meanwhile
                report.unchanged.append(parsed.doc)
                return Counter()
            if existing is not None and existing.source_path and existing.source_path != record.source_path:
                logger.warning(
                    "%s replaces the stored document of the same name (from %s)", record.source_path, existing.source_path
                )
            with progress_bar(f"graph {path.name}", enabled=prepared.show_progress, unit="vector"):
                await asyncio.shield(self._awrite_document(record, nodes, replaces=existing))
        report.ingested.append(parsed.doc)
        return modalities

    def _nodes_for(self, parsed: ParsedDocument) -> list[BaseNode]:
        return blocks_to_nodes(parsed.blocks, chunk_size=self.settings.chunk_size, chunk_overlap=self.settings.chunk_overlap)

    def _embed(self, nodes: Sequence[BaseNode]) -> None:
        """Embed nodes batch by batch, reporting to the open page bar how many pages are fully embedded."""
        if not nodes:
            return
        from llama_index.core.schema import MetadataMode

        texts = [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes]
        pages = [n.metadata.get("page") for n in nodes]
        step = max(1, int(getattr(self.embed_model, "embed_batch_size", 0) or 64))
        report_progress(0, len(set(pages)))
        for start in range(0, len(nodes), step):
            end = min(start + step, len(nodes))
            for node, vector in zip(nodes[start:end], self.embed_model.get_text_embedding_batch(texts[start:end])):
                node.embedding = vector
            report_progress(len(set(pages[:end]) - set(pages[end:])), len(set(pages)))

    def _store_vectors(self, nodes: Sequence[BaseNode]) -> None:
        half = (len(nodes) + 1) // 2
        for part in (nodes[:half], nodes[half:]):
            if part:
                self.vector_store.add(list(part))
                crash_point("mid_vectors")

    # ----------------------------------------------------------------- lifecycle
    @contextlib.asynccontextmanager
    async def _writer(self) -> AsyncIterator[None]:
        """One writer: this process's write lock, then the store's inter-process lock; an interrupted write
        found in the journal is resolved first."""
        async with self._write_lock:
            await self._store_lock.acquire()
            try:
                self.manifest.reload_if_changed()
                await self.graph.aopen()  # re-reads the graph files if another process wrote them meanwhile
                if self.journal.pending() is not None:
                    await self._arecover()
                yield
            finally:
                self.graph.file_state.mark_seen()  # what this process wrote (or restored) is what it holds
                self._store_lock.release()

    async def _arecover_at_open(self) -> None:
        """Resolve an interrupted write when the store is opened, unless a live process is writing it now."""
        if not self._store_lock.try_acquire():
            logger.info("the store %s is being written by process %s; not recovering", self.settings.storage_dir, self._store_lock.holder())
            return
        try:
            await self._arecover()
        finally:
            self._store_lock.release()

    async def _arecover(self) -> None:
        """Resolve an interrupted write (caller holds the store lock): roll it back or forward, see lifecycle."""
        write = self.journal.pending()
        if write is None:
            return
        logger.warning(
            "recovering the store %s from an interrupted %s of %s (process %d, stage %s)",
            self.settings.storage_dir, write.op, write.doc, write.pid, write.stage,
        )
        self.manifest.reload()
        await self._aresolve(write)

    def _unowned(self, write: PendingWrite, ids: Iterable[str] | None = None) -> list[str]:
        """``ids`` (the write's node ids by default) that no other committed document holds."""
        owned = self.manifest.owned_node_ids(exclude=write.doc)
        return [i for i in (write.node_ids if ids is None else ids) if i not in owned]

    async def _aresolve(self, write: PendingWrite) -> None:
        """Bring the stores to the state before ``write`` (stage ``started``) or after it (``graph_done``)."""
        new, old = set(write.node_ids), set(write.replaced_ids)
        if write.stage == "graph_done":
            if write.op == "ingest":
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, sorted(old - new)))
                self.manifest.record(write.record)
                if write.replaces is not None:
                    self._drop_doc_files(write.replaces)
            else:
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write))
                self.manifest.remove(write.doc)
                self._drop_doc_files(write.record)
        else:
            await asyncio.to_thread(self.journal.restore_graph)
            await self.graph.areload_files()
            fixes = await self.graph.areconcile_vectors(sorted(new | old))
            if fixes:
                logger.info("graph vectors reconciled after rollback: %s", fixes)
            if write.op == "ingest":
                # rows of a replaced version are still there (ids both versions share were upserted with the same
                # text; only their metadata may now be the new version's)
                await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, sorted(new - old)))
        await asyncio.to_thread(self.journal.clear)

    async def _aundo(self, write: PendingWrite, error: BaseException) -> None:
        """Resolve a write that raised in this process; a failure here leaves the journal for the next open."""
        pending = self.journal.pending()
        if pending is None:  # the journal was never written (it is written before any store is): nothing to undo
            await asyncio.to_thread(self.journal.clear)
            return
        try:
            await self._aresolve(pending)
        except Exception:
            logger.exception(
                "could not undo the failed %s of %s (%s); the store will be recovered when next opened",
                write.op, write.doc, error,
            )

    async def _astored_ids(self, record: DocRecord) -> list[str]:
        """A document's node ids: those recorded, and any others Milvus holds under its name."""
        return sorted(set(record.node_ids) | await asyncio.to_thread(doc_node_ids, self.vector_store, record.doc))

    async def _awrite_document(
        self, record: DocRecord, nodes: Sequence[BaseNode], replaces: DocRecord | None = None
    ) -> None:
        """Write one document (replacing ``replaces``, its stored version) under the journal: Milvus rows, then
        the graph (the old version's contribution out, the new one's in), then the old-only rows out and the
        manifest. Interrupted before the graph is done, the old version is what remains."""
        old_ids = await self._astored_ids(replaces) if replaces is not None else []
        old_nodes = await asyncio.to_thread(self.vector_store.get_nodes, node_ids=old_ids) if old_ids else []
        write = PendingWrite(
            op="ingest", doc=record.doc, doc_id=record.doc_id, node_ids=list(record.node_ids), record=record,
            replaces=replaces, replaced_ids=old_ids,
        )
        await asyncio.to_thread(self.journal.begin, write)
        try:
            crash_point("after_journal")
            await asyncio.to_thread(self._store_vectors, nodes)
            crash_point("after_vectors")
            if old_nodes:
                await self.graph.adelete_nodes(old_nodes)
            await self.graph.ainsert_nodes(nodes)
            crash_point("after_graph")
            write = await asyncio.to_thread(self.journal.mark_graph_done, write)
            stale = sorted(set(old_ids) - set(record.node_ids))
            await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write, stale))
            self.manifest.record(record)
            if replaces is not None:
                self._drop_doc_files(replaces)
            crash_point("after_manifest")
        except BaseException as exc:
            await self._aundo(write, exc)
            raise
        await asyncio.to_thread(self.journal.clear)

    async def _adelete_record(self, record: DocRecord) -> None:
        """Remove a document: the graph first (from its nodes as stored), then Milvus, then the manifest."""
        ids = await self._astored_ids(record)
        nodes = await asyncio.to_thread(self.vector_store.get_nodes, node_ids=ids) if ids else []
        write = PendingWrite(op="delete", doc=record.doc, doc_id=record.doc_id, node_ids=ids, record=record)
        await asyncio.to_thread(self.journal.begin, write)
        try:
            await self.graph.adelete_nodes(nodes)
            write = await asyncio.to_thread(self.journal.mark_graph_done, write)
            crash_point("delete_after_graph")
            await asyncio.to_thread(delete_ids, self.vector_store, self._unowned(write))
            self.manifest.remove(record.doc)
            self._drop_doc_files(record)
        except BaseException as exc:
            await self._aundo(write, exc)
            raise
        await asyncio.to_thread(self.journal.clear)

    def _drop_doc_files(self, record: DocRecord) -> None:
        """Delete a removed document's parser output and overflow files, unless another record has its content."""
        if any(r.doc_id == record.doc_id for r in self.manifest.docs()):
            return
        for folder in (self.settings.parsed_dir, self.settings.storage_dir / "overflow"):
            shutil.rmtree(folder / record.doc_id[:16], ignore_errors=True)  # owned: <store>/parsed|overflow/<content hash>, written by ingest

    def _resolve_doc(self, doc: str | Path) -> str:
        """The stored name a document is asked for by (see :func:`match_document`: exact name, file name of a
        path, name ignoring case, name without its extension).

        Args:
            doc: The name as given.

        Raises:
            UnknownDocumentError: If nothing stored matches (the error names the closest stored names).
            AmbiguousDocumentError: If several stored documents match.
        """
        self.manifest.reload_if_changed()
        return resolve_document(doc, [r.doc for r in self.manifest.docs()], self.settings.storage_dir)

    def _resolve_docs(self, doc: str | Path | Sequence[str | Path] | None) -> str | list[str] | None:
        """:meth:`_resolve_doc` of one name or of each of several (``None`` stays ``None``)."""
        if doc is None or isinstance(doc, (str, Path)):
            return None if doc is None else self._resolve_doc(doc)
        return [self._resolve_doc(d) for d in doc]

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
        async with self._writer():
            name = self._resolve_doc(doc)  # under the write lock, from the manifest as just re-read
            record = self.manifest.get(name)
            if record is None:
                raise UnknownDocumentError(name, self.settings.storage_dir, [r.doc for r in self.manifest.docs()])
            await asyncio.shield(self._adelete_record(record))
            return record

    def stats(self, doc: str | Path | None = None) -> StoreStats:
        """Count what the store holds, from Milvus and the graph themselves (not from the manifest).

        Args:
            doc: Count one document: its nodes, and the entities and relations with a source chunk in it.

        Returns:
            ``{"docs": int, "nodes": {modality: int}, "entities": int, "relations": int}``.

        Raises:
            UnknownDocumentError: If ``doc`` is neither recorded nor has nodes in Milvus.

        Example:
            >>> rag.stats()                                            # doctest: +SKIP
            {'docs': 2, 'nodes': {'text': 3, 'image': 1, 'table': 0, 'equation': 0}, 'entities': 41, 'relations': 77}
        """
        return self._loop.run(self._astats(doc))

    async def astats(self, doc: str | Path | None = None) -> StoreStats:
        """Native async twin of :meth:`stats`.

        Args:
            doc: Count one document only.

        Example:
            >>> (await rag.astats(doc="report.pdf"))["nodes"]["table"]  # doctest: +SKIP
            2
        """
        return await self._loop.arun(self._astats(doc))

    async def _astats(self, doc: str | Path | None) -> StoreStats:
        name = None
        if doc is not None:
            try:
                name = self._resolve_doc(doc)
            except UnknownDocumentError:
                # rows Milvus holds under a name the manifest does not record are still counted
                if isinstance(doc, Path) or not await asyncio.to_thread(doc_node_ids, self.vector_store, doc):
                    raise
                name = doc
        docs, nodes = await asyncio.to_thread(vector_counts, self.vector_store, name)
        chunk_ids = None
        if name is not None:
            chunk_ids = await asyncio.to_thread(doc_node_ids, self.vector_store, name)
        entities, relations = await self.graph.acounts(chunk_ids)
        return StoreStats(docs=docs, nodes=nodes, entities=entities, relations=relations)

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
        graph_mode: str | None = None,
        modality_quotas: Mapping[str, int] | None = None,
    ) -> MultimodalCompositeRetriever:
        """The composite retriever: filtered hybrid Milvus search fused with LightRAG graph retrieval and with a
        search of the pages, figures and tables the question names.

        When a scope (modalities, doc, page range, filters) is given, only the filtered vector search
        runs, so a filter never widens the result set.

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
        doc = self._resolve_docs(check_docs(doc))
        k = self.settings.top_k if top_k is None else check_top_k(top_k)
        candidates = k * self.settings.candidate_factor if self.settings.page_aggregation else k
        vector = MilvusModalRetriever(
            self.vector_store, self.embed_model, similarity_top_k=candidates, modalities=modalities, doc=doc,
            page_range=page_range, filters=filters, mode=self.vector_mode,
        )
        scoped = any(v is not None for v in (modalities, doc, page_range, filters))
        mode = graph_mode or self.settings.graph_mode
        graph = None
        if mode != "off" and not scoped:
            # The graph branch ranks chunks by how many matched entities cite them: a longer list adds
            # weakly linked chunks (and query time) without moving pages into the top k.
            graph = LightRAGRetriever(self.graph, mode=mode, top_k=k, node_lookup=self.alookup_nodes)
        references = None
        if self.settings.reference_weight > 0:
            references = ReferenceRetriever(
                self.vector_store, self.embed_model, similarity_top_k=candidates, modalities=modalities, doc=doc,
                page_range=page_range, filters=filters, mode=self.vector_mode,
            )
        return MultimodalCompositeRetriever(
            vector, graph, top_k=k, vector_weight=self.settings.vector_weight,
            graph_weight=self.settings.graph_weight, reference_retriever=references,
            reference_weight=self.settings.reference_weight, modality_quotas=modality_quotas,
            page_aggregation=self.settings.page_aggregation, page_support=self.settings.page_support,
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
        from llama_index.core.response_synthesizers import get_response_synthesizer

        from llama_index_mmrag.processors.postprocessors import default_postprocessors
        from llama_index_mmrag.query_engine import MultimodalQueryEngine
        from llama_index_mmrag.synthesis import NO_EVIDENCE, ExtractiveSynthesizer

        if multimodal and self.vlm is not None:
            synthesizer: Any = get_response_synthesizer(llm=self.vlm, multimodal=True)
        elif self.llm is not None:
            synthesizer = get_response_synthesizer(llm=self.llm)
        else:
            synthesizer = ExtractiveSynthesizer()
        # With no node above the relevance floor every synthesizer gives its empty response; LlamaIndex's
        # factory has no argument for it, and its default says "Empty Response".
        synthesizer._empty_response = NO_EVIDENCE
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
            >>> rag.relevance_floor().postprocess_nodes(rag.as_retriever().retrieve("hello"), query_str="hello")  # doctest: +SKIP
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
            >>> [(r.doc, r.pages, r.modalities) for r in rag.documents()]     # doctest: +SKIP
            [('milvus_faq.txt', 1, {'text': 3})]
        """
        self.manifest.reload_if_changed()
        return self.manifest.docs()

    def document(self, doc: str | Path, default: Any = _RAISE) -> DocRecord | Any:
        """The record of one stored document, named as :meth:`delete` accepts (``report``, ``Report.PDF``).

        Args:
            doc: The document's name.
            default: Returned when no document matches; without it, that is an error.

        Raises:
            UnknownDocumentError: If no stored document matches (or several do) and no ``default`` is given.

        Example:
            >>> rag.document("milvus_faq").doc                              # doctest: +SKIP
            'milvus_faq.txt'
        """
        try:
            name = self._resolve_doc(doc)
        except UnknownDocumentError:
            if default is _RAISE:
                raise
            return default
        record = self.manifest.get(name)
        return record if record is not None else default

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
