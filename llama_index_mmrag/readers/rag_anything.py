"""RAGAnythingReader: RAG-Anything parsing as a LlamaIndex reader.

Every file goes through RAG-Anything's parser registry (``raganything.parser.get_parser``): the parser returns a
RAG-Anything content list, :func:`~llama_index_mmrag.parsing.docling.normalize_content_list` brings it to one
shape (markdown tables, caption lists, int pages, absolute image paths), and that one list becomes both the
:class:`~llama_index_mmrag.schema.ContentBlock` records (LlamaIndex documents and nodes) and, through
``ContentBlock.to_content_item``, the input of ``RAGAnything.insert_content_list``.

A file that cannot be read raises :class:`~llama_index_mmrag.parsing.errors.ParseError` naming the file and
the reason; in a batch the other files still load and the failures are listed at the end
(:class:`BatchLoadError`), never logged and dropped.

Example:
    >>> from llama_index_mmrag import RAGAnythingReader
    >>> reader = RAGAnythingReader(output_dir="./parsed")
    >>> docs = reader.load_data(["milvus_faq.txt", "milvus_architecture.png"])
    >>> docs[0].metadata["doc"], docs[0].metadata["page"], docs[0].metadata["modality"]
    ('milvus_faq.txt', 0, 'text')
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.readers.base import BasePydanticReader
from llama_index.core.schema import Document, ImageDocument
from pydantic import Field
from raganything.parser import get_parser

import llama_index_mmrag.parsing.parser  # noqa: F401  (registers "mmrag" and "docling-offline")
from llama_index_mmrag.errors import InputError
from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema import ContentBlock, block_metadata
from llama_index_mmrag.parsing.docling import normalize_content_list
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.inputs import LoadFailure, check_input_file, expand_paths
from llama_index_mmrag.parsing.media.transcripts import document_hash
from llama_index_mmrag.parsing.select import choose_parser

logger = logging.getLogger(__name__)

PathLike = str | Path


@dataclass
class ParsedDocument:
    """The blocks of one parsed file with the parser that produced them.

    Args:
        path: The file.
        doc_id: The file's content hash.
        parser: The parser that ran.
        reason: Why that parser was chosen.
        blocks: The content blocks in reading order.

    Example:
        >>> parsed = RAGAnythingReader().parse("milvus_faq.txt")
        >>> parsed.doc, parsed.parser, len(parsed.doc_id)
        ('milvus_faq.txt', 'mmrag', 64)
        >>> parsed.content_list()[0]["type"]                 # for RAGAnything.insert_content_list
        'text'
    """

    path: Path
    doc_id: str
    parser: str
    reason: str
    blocks: list[ContentBlock] = field(default_factory=list)

    @property
    def doc(self) -> str:
        """The document's name (its file name)."""
        return self.path.name

    def content_list(self) -> list[dict[str, Any]]:
        """The blocks as a RAG-Anything content list, for ``RAGAnything.insert_content_list(..., doc_id=doc_id)``."""
        return [block.to_content_item() for block in self.blocks]


class BatchLoadError(InputError, RuntimeError):
    """Some files of a batch failed; the others were loaded and are in ``documents``.

    Args:
        failures: One entry per failed file.
        documents: The documents of the files that loaded.

    Example:
        >>> try:
        ...     docs = RAGAnythingReader().load_data(["milvus_faq.txt", "missing.pdf"])
        ... except BatchLoadError as exc:
        ...     docs = exc.documents  # the files that did load
        ...     for failure in exc.failures:
        ...         print(failure.path.name, failure.reason)
        missing.pdf no such file; check the path
        >>> {d.metadata["doc"] for d in docs}
        {'milvus_faq.txt'}
    """

    def __init__(self, failures: Sequence[LoadFailure], documents: Sequence[Document] = ()) -> None:
        self.failures = list(failures)
        self.documents = list(documents)
        lines = "\n".join(f"  - {f.path}: {f.reason}" for f in self.failures)
        super().__init__(f"{len(self.failures)} file(s) could not be read:\n{lines}")


def block_to_document(block: ContentBlock) -> Document:
    """Return the LlamaIndex document of one block (an ``ImageDocument`` for images).

    Args:
        block: The block; its node metadata (:func:`~llama_index_mmrag.schema.block_metadata`) becomes the
            document's, with its footnotes and an image's text.
    """
    metadata: dict[str, Any] = block_metadata(block)
    if block.footnotes:
        metadata["footnote"] = list(block.footnotes)
    doc_id = f"{block.doc_id}:{block.index}"
    if MODALITIES.get(block.modality).node == "image":
        if block.text_read:  # the parser read it: the describer does not read it again
            metadata["ocr_text"] = block.text
        try:
            document: Document = ImageDocument(
                id_=doc_id, text=block.searchable_text, image_path=block.img_path, metadata=metadata
            )
        except ValueError:  # the picture is not there (any more): a plain document, its path in the metadata
            document = Document(id_=doc_id, text=block.searchable_text, metadata=metadata)
    else:
        document = Document(id_=doc_id, text=block.searchable_text, metadata=metadata)
    # already part of the text: said once
    document.excluded_embed_metadata_keys = [*document.excluded_embed_metadata_keys, *_IN_TEXT]
    document.excluded_llm_metadata_keys = [*document.excluded_llm_metadata_keys, *_IN_TEXT]
    return document


_IN_TEXT = ("footnote", "ocr_text")
"""Metadata keys of a block's document that repeat what its text already holds."""


class RAGAnythingReader(BasePydanticReader):
    """Reads PDFs, Office files, web pages, Markdown, text and images through RAG-Anything's parser registry.

    ``parser="auto"`` picks the best parser that can run here without a network (see
    :func:`llama_index_mmrag.parsing.select.choose_parser`): MinerU or Docling for PDFs only when installed with
    their models on disk, else the offline parser ``"mmrag"``; Docling (``"docling-offline"``) for DOCX, PPTX,
    XLSX, HTML and Markdown; offline OCR for images. Any name registered with RAG-Anything (``mineru``,
    ``docling``, ``paddleocr``, ``mmrag``, ``docling-offline``, your own) can be forced. One log line per file
    says which parser ran and why. Every document carries ``doc``, ``doc_id`` (content hash, stable across
    reads), ``page`` (0-based), ``bbox``, ``modality`` and ``parser``.

    Args:
        parser: ``"auto"`` or a RAG-Anything parser name.
        output_dir: Where parsers write extracted images; a temporary folder when unset.
        max_concurrency: Files parsed at the same time by :meth:`aload_data`.

    Example:
        >>> reader = RAGAnythingReader()
        >>> parsed = reader.parse("milvus_faq.txt")
        >>> {b.modality for b in parsed.blocks}
        {'text'}
        >>> docs = reader.load_data(["milvus_faq.txt"])  # files or folders, any mix of formats
        >>> import asyncio
        >>> docs = asyncio.run(reader.aload_data(["milvus_faq.txt"]))  # or await in async code
    """

    is_remote: bool = False
    parser: str = Field(default="auto", description="'auto' or a RAG-Anything parser name.")
    output_dir: str | None = Field(default=None, description="Where extracted images are written.")
    max_concurrency: int = Field(default=4, ge=1, description="Files parsed at the same time by aload_data.")

    @classmethod
    def class_name(cls) -> str:
        """Name used in serialization."""
        return "RAGAnythingReader"

    def _output_dir(self) -> Path:
        if self.output_dir is None:
            self.output_dir = tempfile.mkdtemp(prefix="mmrag-parsed-")
        return Path(self.output_dir)

    def parse(self, path: PathLike) -> ParsedDocument:
        """Parse one file into content blocks.

        Args:
            path: The file to parse.

        Raises:
            ParseError: With the file and the reason, if the file cannot be read (missing, empty, a folder,
                unsupported type, content of another format than its extension says, damaged,
                password-protected, or the parser failed on it).
        """
        path = Path(path)
        check_input_file(path)  # what the content really is, when it contradicts the extension
        _check_readable(path)
        name, reason = choose_parser(path, self.parser)
        logger.info("parsing %s with %s: %s", path.name, name, reason)
        doc_id = document_hash(path)  # a recording's with its transcript's
        out = self._output_dir() / doc_id[:16]
        try:
            raw = get_parser(name).parse_document(str(path), output_dir=str(out))
            items = normalize_content_list(raw or [], base_dirs=(out, path.parent))
        except Exception as exc:  # noqa: BLE001  (every failure becomes a ParseError naming file and reason)
            raise _as_parse_error(path, name, exc) from exc
        blocks = [
            ContentBlock.from_content_item(item, doc=path.name, doc_id=doc_id, parser=name, index=i)
            for i, item in enumerate(item for item in items if item.get("type") in MODALITIES)
        ]
        if not blocks:
            raise ParseError(path, f"parser {name!r} found no text, table, image or equation in it; is the file blank?")
        return ParsedDocument(path=path, doc_id=doc_id, parser=name, reason=reason, blocks=blocks)

    async def aparse(self, path: PathLike) -> ParsedDocument:
        """Async twin of :meth:`parse`: parsing is CPU work, so it runs in a worker thread.

        Args:
            path: The file to parse.
        """
        return await asyncio.to_thread(self.parse, path)

    def lazy_load_data(self, file_path: PathLike | Iterable[PathLike], **_: Any) -> Iterator[Document]:  # type: ignore[override]
        """Yield one document per block, file by file; failed files raise :class:`BatchLoadError` at the end.

        Args:
            file_path: A file, a folder, or several of either.
        """
        failures: list[LoadFailure] = []
        for path in expand_paths(file_path):
            try:
                parsed = self.parse(path)
            except ParseError as exc:
                failures.append(LoadFailure(path, exc.reason))
                continue
            yield from (block_to_document(b) for b in parsed.blocks)
        if failures:
            raise BatchLoadError(failures)

    def load_data(self, file_path: PathLike | Iterable[PathLike], **_: Any) -> list[Document]:  # type: ignore[override]
        """Load every block of every file as a document.

        Args:
            file_path: A file, a folder, or several of either.

        Raises:
            BatchLoadError: After all other files were loaded, listing each failed file and its reason;
                the loaded documents are on the error's ``documents``.
        """
        documents: list[Document] = []
        try:
            for document in self.lazy_load_data(file_path):
                documents.append(document)
        except BatchLoadError as exc:
            raise BatchLoadError(exc.failures, documents) from None
        return documents

    async def aload_data(self, file_path: PathLike | Iterable[PathLike], **_: Any) -> list[Document]:  # type: ignore[override]
        """Native async twin of :meth:`load_data`: up to ``max_concurrency`` files are parsed at once in worker
        threads; documents come back in file order.

        Args:
            file_path: A file, a folder, or several of either.

        Raises:
            BatchLoadError: After all other files were loaded, as :meth:`load_data`.
        """
        paths = expand_paths(file_path)
        gate = asyncio.Semaphore(self.max_concurrency)

        async def one(path: Path) -> ParsedDocument:
            async with gate:
                return await self.aparse(path)

        results = await asyncio.gather(*(one(p) for p in paths), return_exceptions=True)
        documents: list[Document] = []
        failures: list[LoadFailure] = []
        for path, result in zip(paths, results):
            if isinstance(result, ParseError):
                failures.append(LoadFailure(path, result.reason))
            elif isinstance(result, BaseException):
                raise result
            else:
                documents.extend(block_to_document(b) for b in result.blocks)
        if failures:
            raise BatchLoadError(failures, documents)
        return documents


def _as_parse_error(path: Path, parser: str, exc: BaseException) -> ParseError:
    """Any parser failure as a :class:`ParseError` on ``path`` with a reason a user can act on."""
    if isinstance(exc, ParseError):
        return exc if exc.path.name == path.name else ParseError(path, exc.reason)
    if isinstance(exc, FileNotFoundError):
        return ParseError(path, f"parser {parser!r} could not find a file it needed ({exc})")
    if isinstance(exc, MemoryError):
        return ParseError(path, f"parser {parser!r} ran out of memory on this file; split it or give it more memory")
    message = " ".join(str(exc).split()) or type(exc).__name__
    return ParseError(path, f"parser {parser!r} failed on it ({type(exc).__name__}: {message})")


def _check_readable(path: Path) -> None:
    """Fail early, with the reason, on files no parser should be handed."""
    try:
        if not path.exists():
            raise ParseError(path, "no such file; check the path")
        if path.is_dir():
            raise ParseError(path, "this is a folder; pass the files in it, or the folder to load_data")
        if path.stat().st_size == 0:
            raise ParseError(path, "the file is empty (0 bytes); re-export or re-download it")
        with open(path, "rb") as handle:
            handle.read(1)
    except PermissionError as exc:
        raise ParseError(path, "the file is not readable by this user; check its permissions") from exc
    except OSError as exc:
        raise ParseError(path, f"the file cannot be opened ({exc.strerror or exc})") from exc
