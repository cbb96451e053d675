"""The one ingestion pipeline: check -> parse -> describe -> nodes -> fit -> embed -> write.

:class:`DocumentPipeline` holds the stages; the facade (``MultimodalRAG.ingest``), the benchmarks and any
caller with blocks of its own (:meth:`DocumentPipeline.aprepare_parsed`) run the same code. A file is
*prepared* (checked, parsed, described, cut into nodes that fit a Milvus row; no store is touched) and then
*committed* (embedded, and written all or nothing by the store writer, see :mod:`llama_index_mmrag.index`).
:func:`~llama_index_mmrag.ingestion.batch.aingest_files` runs a batch, one file ahead.

Example:
    >>> from llama_index_mmrag.runtime import engine_loop
    >>> report = IngestReport()
    >>> engine_loop().run(rag.pipeline.aprepare(Path("milvus_faq.txt"), report)) is None   # stored, unchanged
    True
    >>> report.unchanged
    ['milvus_faq.txt']
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llama_index_mmrag.graph.fallbacks import graph_fallbacks
from llama_index_mmrag.ingestion.describe import adescribe_blocks
from llama_index_mmrag.ingestion.embed import embed_nodes
from llama_index_mmrag.ingestion.report import IngestReport
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.models.usage import ModelUsage, loop_usage, usage_scope
from llama_index_mmrag.progress import progress_bar
from llama_index_mmrag.parsing.media.transcripts import document_hash
from llama_index_mmrag.schema import blocks_to_nodes

if TYPE_CHECKING:
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from llama_index.core.embeddings import MultiModalEmbedding
    from llama_index.core.llms import LLM
    from llama_index.core.schema import BaseNode

    from llama_index_mmrag.processors.describer import ModalDescriber
    from llama_index_mmrag.readers.rag_anything import ParsedDocument, RAGAnythingReader
    from llama_index_mmrag.settings import MMRAGSettings

logger = logging.getLogger(__name__)


class DocumentWriter(Protocol):
    """What the write stage needs from the store (:class:`llama_index_mmrag.index.DocumentIndex` is one).

    Example:
        >>> writer = rag.pipeline.writer          # the store's DocumentIndex
        >>> writer.manifest.get("milvus_faq.txt").parser
        'mmrag'
    """

    manifest: Manifest

    def writing(self) -> AbstractAsyncContextManager[None]:
        """Hold the store's write lock (an interrupted write resolved first)."""

    async def awrite_document(self, record: DocRecord, nodes: Sequence[BaseNode], replaces: DocRecord | None) -> None:
        """Write one document all or nothing (caller holds :meth:`writing`)."""

    async def aflush(self) -> None:
        """Seal what was written, so queries use the index."""


@dataclass
class PreparedFile:
    """A file parsed and cut into nodes, waiting to be embedded and written.

    Args:
        path: The file.
        parsed: Its blocks and the parser that read them.
        nodes: Its nodes, described and fitted to a Milvus row.
        show_progress: Draw the embed and graph bars while it is committed.
        usage: The model calls and tokens spent on it so far (its descriptions; its graph extraction adds to it).

    Example:
        >>> from llama_index_mmrag.runtime import engine_loop
        >>> _ = Path("notes.txt").write_text("Milvus Lite keeps a whole vector database in one folder.")
        >>> parsed = engine_loop().run(rag.pipeline.aparse(Path("notes.txt")))
        >>> prepared = engine_loop().run(rag.pipeline.aprepare_parsed(parsed))   # described and cut, not written
        >>> prepared.path.name, [node.metadata["modality"] for node in prepared.nodes]
        ('notes.txt', ['text'])
    """

    path: Path
    parsed: ParsedDocument
    nodes: list[BaseNode]
    show_progress: bool = False
    usage: ModelUsage = field(default_factory=ModelUsage)


class DocumentPipeline:
    """The stages of an ingest, each a method, and the two halves :meth:`aprepare` and :meth:`acommit`.

    Args:
        writer: The store the write stage writes to (lock, all-or-nothing write, flush).
        embed_model: The embedding of the nodes.
        reader: Builds the reader that parses files (on first parse: opening a store loads no parser).
        describer: Builds the describer of images, tables and equations (on first use).
        overflow_dir: Where text that does not fit a Milvus row is kept.
        images_dir: The store's folder of parser output: images from elsewhere (an ingested picture, one a
            web page links to) are copied into it (``None``: images stay where they are).
        chunk_size: Text chunk size in tokens.
        chunk_overlap: Overlap of consecutive text chunks in tokens.
        image_embed_model: Embeds image nodes' pixels into the store's image field (``None``: it has none).

    Example:
        >>> pipeline = rag.pipeline                 # DocumentPipeline.for_store(settings, index, embed_model)
        >>> pipeline.describer.model_for("image"), pipeline.chunk_size
        ('offline', 256)
    """

    def __init__(
        self,
        writer: DocumentWriter,
        embed_model: BaseEmbedding,
        *,
        reader: Callable[[], RAGAnythingReader],
        describer: Callable[[], ModalDescriber],
        overflow_dir: Path,
        images_dir: Path | None = None,
        chunk_size: int = 256,
        chunk_overlap: int = 32,
        image_embed_model: MultiModalEmbedding | None = None,
    ) -> None:
        self.writer = writer
        self.embed_model = embed_model
        self.image_embed_model = image_embed_model
        self._build = {"reader": reader, "describer": describer}
        self._parts: dict[str, Any] = {}
        self._parts_lock = threading.Lock()
        self.overflow_dir = overflow_dir
        self.images_dir = images_dir
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap

    @classmethod
    def for_store(
        cls,
        settings: MMRAGSettings,
        writer: DocumentWriter,
        embed_model: BaseEmbedding,
        llm: LLM | None = None,
        vlm: LLM | None = None,
        image_embed_model: MultiModalEmbedding | None = None,
    ) -> DocumentPipeline:
        """The pipeline into a store, as its settings say (parser, chunking, description cache and concurrency).

        Args:
            settings: The store's settings.
            writer: The store's document index.
            embed_model: The store's embedding.
            llm: Describes tables and equations (``None``: the ``vlm``, else offline).
            vlm: Describes images (``None``: offline).
            image_embed_model: The store's image embedding (``None``: its collection has no image field).
        """

        def reader() -> RAGAnythingReader:
            from llama_index_mmrag.readers.rag_anything import RAGAnythingReader

            return RAGAnythingReader(parser=settings.parser, output_dir=str(settings.parsed_dir))

        def describer() -> ModalDescriber:
            from llama_index_mmrag.logs import quiet_lightrag_logs
            from llama_index_mmrag.processors.describer import ModalDescriber

            quiet_lightrag_logs()  # RAG-Anything's processors log on LightRAG's logger: standard logging, no repeats
            # a model that fails on an item (after its retries) leaves that item its offline description, with a
            # warning naming the file and the item: a document is never lost because a model failed
            return ModalDescriber(
                llm,
                vlm,
                cache_dir=settings.storage_dir / "descriptions",
                concurrency=settings.describe_concurrency,
                on_error="offline",
            )

        return cls(
            writer,
            embed_model,
            reader=reader,
            describer=describer,
            overflow_dir=settings.storage_dir / "overflow",
            images_dir=settings.parsed_dir,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            image_embed_model=image_embed_model,
        )

    def _part(self, name: str) -> Any:
        if name not in self._parts:
            with self._parts_lock:
                if name not in self._parts:
                    self._parts[name] = self._build[name]()
        return self._parts[name]

    @property
    def reader(self) -> RAGAnythingReader:
        """The reader that parses files (built on first use)."""
        return self._part("reader")  # type: ignore[no-any-return]

    @property
    def describer(self) -> ModalDescriber:
        """The describer of images, tables and equations (built on first use)."""
        return self._part("describer")  # type: ignore[no-any-return]

    # ---------------------------------------------------------------------------------------------- stages
    def unchanged(self, path: Path) -> bool:
        """Whether ``path`` is already stored at its current content (checked before parsing it).

        Args:
            path: The file.
        """
        existing = self.writer.manifest.get(path.name)
        if existing is None:
            return False
        try:
            return path.is_file() and document_hash(path) == existing.doc_id
        except OSError:
            return False  # the reader reports why the file cannot be read

    async def aparse(self, path: Path, show_progress: bool = False) -> ParsedDocument:
        """Parse a file (with ``show_progress``, a bar counts the pages of parsers that read page by page).

        Args:
            path: The file.
            show_progress: Draw the page bar.
        """
        with progress_bar(f"parse {path.name}", enabled=show_progress):
            return await self.reader.aparse(path)  # the parser reports pages from its thread (context copied)

    def nodes(self, parsed: ParsedDocument, descriptions: Sequence[ModalDescription]) -> list[BaseNode]:
        """Cut described blocks into nodes, with the descriptions' entity metadata, each fitting a Milvus row.

        Args:
            parsed: The parsed file, its modal blocks described.
            descriptions: What the describe stage returned for them.
        """
        from llama_index_mmrag.limits import fit_nodes
        from llama_index_mmrag.processors.annotate import annotate_nodes

        nodes = blocks_to_nodes(parsed.blocks, chunk_size=self.chunk_size, chunk_overlap=self.chunk_overlap)
        annotate_nodes(nodes, descriptions)
        return fit_nodes(nodes, self.overflow_dir)

    async def aprepare_parsed(self, parsed: ParsedDocument, show_progress: bool = False) -> PreparedFile:
        """Keep its images in the store, describe a parsed file and cut its nodes (describe -> nodes -> fit).

        Args:
            parsed: The file's blocks (from the reader, or built by the caller).
            show_progress: Draw bars while it is committed.
        """
        if self.images_dir is not None:
            from llama_index_mmrag.ingestion.images import keep_images_in_store

            await asyncio.to_thread(keep_images_in_store, parsed.blocks, self.images_dir)
        with usage_scope(ModelUsage()) as usage:  # the calls made describing this file count to it
            descriptions = await adescribe_blocks(self.describer, parsed.blocks)  # LLM/VLM when configured
        nodes = await asyncio.to_thread(self.nodes, parsed, descriptions)
        return PreparedFile(parsed.path, parsed, nodes, show_progress, usage)

    async def aprepare(self, path: Path, report: IngestReport, show_progress: bool = False) -> PreparedFile | None:
        """Check, parse, describe and cut a file into nodes (no store write); ``None`` if it is unchanged.

        Args:
            path: The file.
            report: Where an unchanged file is recorded.
            show_progress: Draw the page bar while it is parsed, and the others while it is committed.

        Raises:
            ParseError: If the file cannot be read (the reason names the file and what to do).
        """
        from llama_index_mmrag.parsing.inputs import check_input_file

        await asyncio.to_thread(check_input_file, path)
        if await asyncio.to_thread(self.unchanged, path):
            report.unchanged.append(path.name)
            return None
        parsed = await self.aparse(path, show_progress)
        return await self.aprepare_parsed(parsed, show_progress)

    async def acommit(self, prepared: PreparedFile, report: IngestReport) -> Counter[str]:
        """Embed a prepared file's nodes and write them, all or nothing (embed -> write).

        Args:
            prepared: What :meth:`aprepare` returned.
            report: Where the document is recorded as ingested (or unchanged, if another ingest stored it
                meanwhile).

        Returns:
            The nodes written, per modality.
        """
        path, parsed, nodes = prepared.path, prepared.parsed, prepared.nodes
        report.usage[parsed.doc] = prepared.usage  # what it cost, whether or not it is written
        with progress_bar(f"embed {path.name}", enabled=prepared.show_progress):
            await asyncio.to_thread(embed_nodes, self.embed_model, nodes, self.image_embed_model)
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
        async with self.writer.writing():
            existing = self.writer.manifest.get(parsed.doc)
            if existing is not None and existing.doc_id == parsed.doc_id:  # another ingest stored it meanwhile
                report.unchanged.append(parsed.doc)
                return Counter()
            if existing is not None and existing.source_path and existing.source_path != record.source_path:
                logger.warning(
                    "%s replaces the stored document of the same name (from %s)", record.source_path, existing.source_path
                )
            # LightRAG extracts from its own worker tasks: the calls on this loop count to this file (one write at a time)
            # and a text graph the model failed to build, built without it, is noted for the report
            with (
                progress_bar(f"graph {path.name}", enabled=prepared.show_progress, unit="vector"),
                loop_usage(prepared.usage),
                graph_fallbacks() as fallbacks,
            ):
                await asyncio.shield(self.writer.awrite_document(record, nodes, existing))
        report.ingested.append(parsed.doc)
        report.records[parsed.doc] = record
        report.graph_fallbacks.update(fallbacks)
        return modalities

    async def aingest(self, paths: str | Path | Sequence[str | Path], show_progress: bool = False) -> IngestReport:
        """Ingest files and folders, one file ahead: see :func:`~llama_index_mmrag.ingestion.batch.aingest_files`.

        Args:
            paths: Files or folders.
            show_progress: Draw progress bars.
        """
        from llama_index_mmrag.ingestion.batch import aingest_files

        return await aingest_files(self, paths, show_progress)


if TYPE_CHECKING:
    from llama_index_mmrag.processors.describer import ModalDescription
