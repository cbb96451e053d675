"""``mmrag``: the command line, a thin layer over :class:`~llama_index_mmrag.rag.MultimodalRAG`.

Every command exits 0 on success, 1 on a failure (a file that cannot be read, an unknown document, an empty
store) and 2 on a usage error (an empty question, an unknown ``--modality``, a store that does not exist), and
prints one clear line on stderr instead of a traceback (``-v`` adds the traceback of an unexpected error).
Commands that read a store never create one. Pages are numbered from 1 in everything printed for people
(``p.36`` is the 36th page); JSON keeps the 0-based ``page`` and adds the 1-based ``page_number``.

Only light modules are imported here: the facade, LlamaIndex and the models load when a command needs them, so
``--help`` and argument errors answer at once.

Example:
    $ mmrag ingest report.pdf diagram.png --store ./store
    $ mmrag query "What does the diagram show?" --store ./store --json
    $ mmrag stats --store ./store --json
    $ mmrag demo
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import tempfile
import traceback
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

try:  # typer vendors its own click since 0.20; older releases use click itself
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover
    from click import exceptions as click_exceptions  # type: ignore[no-redef]

if TYPE_CHECKING:
    from llama_index.core.base.response.schema import Response
    from llama_index.core.schema import NodeWithScore

    from llama_index_mmrag.manifest import DocRecord
    from llama_index_mmrag.rag import MultimodalRAG
    from llama_index_mmrag.stats import StoreStats

logger = logging.getLogger(__name__)

console = Console(stderr=True)
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
TEXT_PREVIEW = 300
QUESTION_PREVIEW = 500
DEMO_MARKER = ".mmrag-demo"
"""The file ``mmrag demo`` leaves in a ``--store`` folder it made, so that it reuses only its own folders."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

_OWN_PROCESS = False
"""Whether ``mmrag`` runs as its own process (:func:`run`), not inside another program (a test's CliRunner):
only then does it pause the garbage collector while loading and end short commands without teardown."""
_EXIT_FAST = False
"""Set by the short commands (query, delete, stats): :func:`run` ends their process without tearing down the
frameworks' modules (see :mod:`llama_index_mmrag.process_lifetime`)."""


def printable(text: object) -> str:
    """Text as it can be shown on any terminal: lone surrogates and control characters (other than newline
    and tab) become U+FFFD, so stored text or a question cannot break the output or drive the terminal.

    Args:
        text: Anything; ``str()`` of it is shown.

    Example:
        >>> printable("a\\x1b[31mb\\udc80") == "a\\ufffd[31mb\\ufffd"
        True
    """
    value = str(text).encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("\ufffd", value)


def page_number(page: object) -> int | None:
    """The 1-based page number people read for a stored 0-based ``page`` (``None`` where unknown).

    Args:
        page: A node's ``page`` metadata.

    Example:
        >>> page_number(35), page_number(None)
        (36, None)
    """
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        return None
    return page + 1


def _shown_page(page: object, start_s: object = None) -> str:
    """A page from 1, a recording's time (``12:31``), or ``-``."""
    if isinstance(start_s, (int, float)) and not isinstance(start_s, bool):
        from llama_index_mmrag.schema.identity import format_timestamp

        return format_timestamp(start_s)
    number = page_number(page)
    return "-" if number is None else str(number)


def _cell(text: object, limit: int = 80) -> str:
    """One table cell: printable, on one line, cut to ``limit`` characters, markup escaped."""
    flat = " ".join(printable(text).split())
    return escape(flat[:limit] + ("…" if len(flat) > limit else ""))


def _out(text: str) -> None:
    """Print a line on stdout, whatever its encoding (characters it cannot hold are escaped, never fatal)."""
    line = printable(text) + "\n"
    try:
        sys.stdout.write(line)
    except UnicodeEncodeError:
        encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
        sys.stdout.write(line.encode(encoding, "backslashreplace").decode(encoding))
    sys.stdout.flush()


def _json_out(payload: Any) -> None:
    """Print one JSON document on stdout (a lone surrogate is written as its ``\\uXXXX`` escape, valid JSON)."""
    text = json.dumps(payload, ensure_ascii=False)
    sys.stdout.write(text.encode("utf-8", "backslashreplace").decode("utf-8") + "\n")
    sys.stdout.flush()


def _fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` on stderr (markup escaped) and exit with ``code`` (1 failure, 2 usage)."""
    console.print(f"[red]error:[/red] {escape(printable(message))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


def _verbose() -> bool:
    return logging.getLogger().getEffectiveLevel() <= logging.INFO


def _exit_code(exc: Exception) -> int:
    """2 for errors in what the user typed (an empty question, a bad filter value), 1 for everything else."""
    question = sys.modules.get("llama_index_mmrag.retrievers.question")
    if question is not None and isinstance(exc, question.EmptyQuestionError):
        return 2
    literals = sys.modules.get("llama_index_mmrag.stores.literals")  # FilterError's module
    if literals is not None and isinstance(exc, literals.FilterError):
        return 2
    return 1


class GuardedGroup(TyperGroup):
    """The ``mmrag`` group: an error escaping a command becomes one line on stderr and an exit code, never a
    traceback (``-v`` adds the traceback).

    Example:
        >>> from pathlib import Path
        >>> from typer.testing import CliRunner
        >>> _ = Path("scan.pdf").write_bytes(Path("milvus_architecture.png").read_bytes())   # a picture named .pdf
        >>> result = CliRunner().invoke(app, ["parse", "scan.pdf"])                        # `mmrag parse scan.pdf`
        >>> result.exit_code, result.output.strip()                                       # one line, no traceback
        (1, 'error: scan.pdf: its content is a PNG image, not a PDF; rename it to .png')
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click_exceptions.ClickException, click_exceptions.Exit, click_exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001  (the last line of defence: every error gets a message)
            if _verbose():
                traceback.print_exc()
            ours = type(exc).__module__.startswith("llama_index_mmrag") or isinstance(exc, (OSError, LookupError))
            message = str(exc) if ours and str(exc) else f"{type(exc).__name__}: {exc}"
            _fail(message if ours or _verbose() else f"{message} (run with -v for details)", _exit_code(exc))


app = typer.Typer(
    cls=GuardedGroup,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Multimodal RAG for LlamaIndex, offline by default.",
)
StoreOption = typer.Option(None, "--store", help="Storage dir (default: MMRAG_STORAGE_DIR or ./mmrag_storage).")


# ----------------------------------------------------------------------------------------------- store access
def _storage_dir(store: Optional[Path]) -> Path:
    """The storage dir a command uses: ``--store``, else the settings' (environment, ``.env``, default)."""
    from llama_index_mmrag.settings import MMRAGSettings

    try:
        return (MMRAGSettings(storage_dir=store) if store is not None else MMRAGSettings()).storage_dir
    except ValueError as exc:
        _fail(str(exc), 2)


def _is_store(folder: Path) -> bool:
    """Whether ``folder`` holds a store: its manifest, its Milvus Lite database or its graph."""
    return folder.is_dir() and any((folder / name).exists() for name in ("manifest.json", "milvus.db", "lightrag"))


def _require_store(store: Optional[Path]) -> Path:
    """The storage dir a command reads; exit 2, creating nothing, when there is no store there."""
    folder = _storage_dir(store)
    if not _is_store(folder):
        what = "no store at" if not folder.exists() else "no mmrag store in"
        _fail(f"{what} {folder}; check the path, or build a store with `mmrag ingest FILE --store {folder}`", 2)
    return folder


def _loading_frameworks() -> AbstractContextManager[None]:
    """Around imports of the frameworks: no cyclic garbage collection while they load, in mmrag's own process."""
    if not _OWN_PROCESS:
        return nullcontext()
    from llama_index_mmrag.process_lifetime import loading_without_gc

    return loading_without_gc()


def _short_command() -> None:
    """Mark the running command as short-lived: its own process ends without the interpreter's teardown."""
    global _EXIT_FAST
    _EXIT_FAST = True


def _open(store: Optional[Path], **overrides: Any) -> MultimodalRAG:
    with _loading_frameworks():
        from llama_index_mmrag.rag import MultimodalRAG

    try:
        return MultimodalRAG(storage_dir=store, **overrides)
    except ValueError as exc:  # settings that do not validate
        _fail(str(exc), 2)
    except RuntimeError as exc:  # a store that cannot be opened (held by another process, unreadable manifest)
        _fail(str(exc), 1)


def _empty_store_message(folder: Path) -> str:
    return f"the store {folder} holds no documents yet; add some with `mmrag ingest FILE --store {folder}`"


# ----------------------------------------------------------------------------------------------- output
def source_record(nws: NodeWithScore) -> dict[str, Any]:
    """The JSON form of one source: ``doc``, ``page`` (0-based), ``page_number`` (1-based), ``modality``,
    ``score``, ``text``, ``image_path``; and ``start_s``, ``end_s`` (seconds) for a node of an audio or video file.

    Args:
        nws: A retrieved node.
    """
    meta = nws.node.metadata
    image_path = meta.get("image_path") or getattr(nws.node, "image_path", None)
    record = {
        "doc": meta.get("doc"),
        "page": meta.get("page"),
        "page_number": page_number(meta.get("page")),
        "modality": meta.get("modality"),
        "score": float(nws.score) if nws.score is not None else None,
        "text": nws.node.get_content()[:TEXT_PREVIEW * 4],
        "image_path": image_path,
    }
    if meta.get("start_s") is not None:  # a recording's node: where it is in time
        record.update(start_s=meta.get("start_s"), end_s=meta.get("end_s"))
    return record


def _print_answer(question: str, response: Response) -> None:
    shown = printable(question)
    if len(shown) > QUESTION_PREVIEW:
        shown = f"{shown[:QUESTION_PREVIEW]}… ({len(question)} characters)"
    console.print(f"\n[bold]Q:[/bold] {escape(shown)}", soft_wrap=True, highlight=False)
    _out(f"A: {response.response}")
    table = Table("#", "doc", "page", "modality", "score", "text / image", show_lines=False)
    for i, nws in enumerate(response.source_nodes, start=1):
        rec = source_record(nws)
        score = f"{rec['score']:.4f}" if rec["score"] is not None else "-"
        table.add_row(
            str(i), _cell(rec["doc"], 40), _shown_page(rec["page"], rec.get("start_s")), _cell(rec["modality"]), score,
            _cell(rec["image_path"] or rec["text"]),
        )
    console.print(table)


# ----------------------------------------------------------------------------------------------- commands
@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each layer does.")) -> None:
    """Multimodal RAG for LlamaIndex: RAG-Anything parsing, Milvus vectors, a LightRAG graph."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("lightrag", "nano-vectordb", "httpx"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)
    # Milvus Lite logs a traceback when a store is held by another process; the command's own error says so.
    logging.getLogger("milvus_lite").setLevel(logging.INFO if verbose else logging.CRITICAL)


class _WarningCollector(logging.Handler):
    """Keeps the messages of the warnings logged while it is attached (``mmrag ingest --json`` reports them)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders to ingest."),
    store: Optional[Path] = StoreOption,
    as_json: bool = typer.Option(False, "--json", help="Print the ingest report as one JSON object (no progress bars)."),
) -> None:
    """Parse, describe and index files into the store; unchanged files are skipped.

    ``--json`` prints ``{"ok", "seconds", "documents": [{"doc", "status", "usage", "warnings", ...}], "totals",
    "warnings"}``: each document ``ingested`` (with ``nodes``, ``modalities``, ``pages``, ``graph_fallback``),
    ``unchanged`` or ``failed`` (with ``path`` and ``error``); ``usage`` is its LLM/VLM calls and tokens. The exit
    code is the same as without it.
    """
    rag = _open(store)
    warnings = _WarningCollector() if as_json else None
    try:
        if warnings is not None:
            logging.getLogger().addHandler(warnings)
        report = rag.ingest(paths, show_progress=not as_json)
    finally:
        if warnings is not None:
            logging.getLogger().removeHandler(warnings)
        rag.close()
    if warnings is not None:
        _json_out(report.as_dict(warnings.messages))
        if report.failures:
            raise typer.Exit(1)
        return
    for line in report.fallback_lines():  # a text graph built without the model, because the model failed
        console.print(f"[yellow]warning:[/yellow] {escape(printable(line))}", highlight=False, soft_wrap=True)
    for failure in report.failures:
        console.print(f"[red]failed:[/red] {escape(printable(failure.path))}: {escape(printable(failure.reason))}", soft_wrap=True)
    for line in report.usage_lines():  # model calls and tokens per document, when a model was called
        console.print(f"  {escape(printable(line))}", highlight=False, soft_wrap=True)
    console.print(escape(report.summary()), highlight=False)
    if report.failures:
        raise typer.Exit(1)


def _sync_folder(folder: Path) -> Path:
    """The folder ``sync`` and ``watch`` mirror; exit 2, opening no store, when it is not an existing folder."""
    if not folder.is_dir():
        what = "does not exist" if not folder.exists() else "is not a folder"
        _fail(f"{folder} {what}; sync and watch mirror a folder into the store: pass an existing folder", 2)
    return folder


def _print_sync(report: Any, quiet_when_unchanged: bool = False) -> None:
    """Print a sync's failures and its summary (nothing for a watcher's sync that changed nothing)."""
    for failure in report.failures:
        console.print(f"[red]failed:[/red] {escape(printable(failure.path))}: {escape(printable(failure.reason))}", soft_wrap=True)
    if quiet_when_unchanged and not report.wrote and not report.failures:
        return
    for old, new in report.renamed:
        console.print(f"renamed: {escape(printable(old))} -> {escape(printable(new))}", soft_wrap=True, highlight=False)
    for name in report.deleted:
        console.print(f"deleted: {escape(printable(name))}", soft_wrap=True, highlight=False)
    console.print(escape(report.summary()), highlight=False)


@app.command()
def sync(
    folder: Path = typer.Argument(..., help="The folder to mirror (its subfolders too)."),
    store: Optional[Path] = StoreOption,
) -> None:
    """Make the store mirror a folder: add new and changed files, delete the documents of files gone from it,
    move renamed files' documents without parsing them again. Documents from other folders are left alone."""
    _sync_folder(folder)
    rag = _open(store)
    try:
        report = rag.sync(folder, show_progress=True)
    finally:
        rag.close()
    _print_sync(report)
    if report.failures:
        raise typer.Exit(1)


@app.command()
def watch(
    folder: Path = typer.Argument(..., help="The folder to keep in sync (its subfolders too)."),
    store: Optional[Path] = StoreOption,
    debounce_ms: int = typer.Option(300, "--debounce-ms", min=1, help="Group the file events of a burst over this long."),
    settle: float = typer.Option(0.5, "--settle", min=0.0, help="Seconds a file must stay unchanged before it is read."),
) -> None:
    """Sync a folder into the store, then keep it in sync as its files change, until Ctrl-C."""
    _sync_folder(folder)
    rag = _open(store)
    try:
        from llama_index_mmrag.ingestion.watch import FolderWatcher

        watcher = FolderWatcher(
            folder, lambda skip: rag.async_(folder, show_progress=False, skip=skip), debounce_ms=debounce_ms,
            settle_s=settle, on_report=lambda report: _print_sync(report, quiet_when_unchanged=True),
            ignore=[rag.settings.storage_dir],
        )
        console.print(f"watching {escape(printable(folder))} (Ctrl-C to stop)", soft_wrap=True, highlight=False)
        watcher.run()
    finally:
        rag.close()
    console.print("stopped watching", highlight=False)


def _check_modalities(modalities: Optional[list[str]]) -> None:
    """Exit 2 on a ``--modality`` that is not registered (:data:`llama_index_mmrag.modalities.MODALITIES`),
    before anything is loaded."""
    from llama_index_mmrag.modalities import MODALITIES

    for value in modalities or []:
        if value not in MODALITIES:
            _fail(f"unknown modality {printable(value)!r}; choose from {', '.join(MODALITIES)}", 2)


def _checked_question(question: str) -> str:
    """The question as the retrievers search it (command-line bytes that are not UTF-8 arrive as lone
    surrogates and are read as U+FFFD, as a terminal shows them); exit 2 for an empty one, before anything loads."""
    from llama_index_mmrag.retrievers.question import EmptyQuestionError, search_text

    try:
        return search_text(question)
    except EmptyQuestionError as exc:
        _fail(str(exc), 2)


@app.command()
def query(
    question: str = typer.Argument(..., help="The question."),
    store: Optional[Path] = StoreOption,
    top_k: int = typer.Option(5, "--top-k", min=1, max=1000, help="How many sources to retrieve."),
    modality: Optional[list[str]] = typer.Option(None, "--modality", help="Only this modality: text, image, table, equation or another registered one (repeatable)."),
    doc: Optional[str] = typer.Option(None, "--doc", help="Only this document: its file name, with or without extension."),
    as_json: bool = typer.Option(False, "--json", help="Print {answer, sources} as JSON."),
) -> None:
    """Answer a question from the store, with its sources (pages numbered from 1).

    ``--json`` prints ``{"answer", "sources": [{"doc", "page", "page_number", "modality", "score", "text",
    "image_path"}]}`` with the 0-based ``page`` and the 1-based ``page_number``. A store that does not exist
    exits with code 2 and is not created; a store with no documents, or an unknown ``--doc``, exits with code 1.
    """
    _short_command()
    _check_modalities(modality)
    question = _checked_question(question)
    folder = _require_store(store)
    rag = _open(folder)
    try:
        if not rag.documents():
            _fail(_empty_store_message(folder), 1)
        engine = rag.as_query_engine(top_k=top_k, modalities=modality or None, doc=doc)
        response = engine.query(question)
    finally:
        rag.close()
    if as_json:
        answer = response.response if response.source_nodes else None
        _json_out({"answer": answer, "sources": [source_record(n) for n in response.source_nodes]})
    else:
        _print_answer(question, response)


def _demo_dir(store: Optional[Path]) -> tuple[Path, bool]:
    """The demo's store and whether the demo made it as a temporary folder (removed after the run).

    A ``--store`` folder is used when it does not exist, is empty, or was made by an earlier ``mmrag demo``
    (marked by :data:`DEMO_MARKER`; its files are then already stored and are skipped as unchanged). Any other
    folder is refused: the demo never deletes or mixes into what it did not create.
    """
    if store is None:
        return Path(tempfile.mkdtemp(prefix="mmrag-demo-")), True
    workdir = Path(store)
    if workdir.exists() and not workdir.is_dir():
        _fail(f"{workdir} is a file; give `mmrag demo --store` a new or empty folder", 2)
    if workdir.is_dir() and any(workdir.iterdir()) and not (workdir / DEMO_MARKER).is_file():
        _fail(
            f"{workdir} is not empty and was not made by `mmrag demo`; the demo leaves it untouched: give "
            f"--store a new or empty folder, or leave --store out for a temporary one",
            2,
        )
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / DEMO_MARKER).write_text("made by `mmrag demo`; rerunning the demo reuses this store\n", encoding="utf-8")
    return workdir, False


def _image_field_hits(rag: MultimodalRAG, question: str) -> tuple[str, NodeWithScore] | None:
    """The best picture for ``question`` in the store's image field alone (``None`` without an image model)."""
    if rag.image_embed_model is None:
        return None
    from llama_index_mmrag.models.embeddings import embedding_name
    from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever

    hits = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=1, mode="image").retrieve(question)
    if not hits:
        _fail("no picture in the image field", 1)
    return embedding_name(rag.image_embed_model), hits[0]


@app.command()
def demo(
    store: Optional[Path] = typer.Option(
        None, "--store", help="Where to build the demo store: a new or empty folder (a temporary one, removed after, by default)."
    ),
) -> None:
    """Ingest a Milvus FAQ and an architecture diagram into a fresh store, then ask a text and an image question.

    The image question is answered offline through the diagram's OCR text; with a multimodal embedding configured
    (``MMRAG_IMAGE_EMBED_MODEL``) it is asked again of the image field alone, which finds the diagram by its pixels.
    With ``--store``, the folder must be new, empty, or a store an earlier ``mmrag demo`` made; anything else
    exits with code 2 and is left untouched.
    """
    faq, diagram = SAMPLE_DIR / "milvus_faq.txt", SAMPLE_DIR / "milvus_architecture.png"
    for path in (faq, diagram):
        if not path.exists():
            _fail(f"demo file {path} is missing; reinstall from a full checkout", 2)
    workdir, temporary = _demo_dir(store)
    try:
        console.print(f"demo store: {escape(str(workdir))}", highlight=False)
        rag = _open(workdir, top_k=5)
        try:
            report = rag.ingest([faq, diagram], show_progress=True)
            console.print(escape(report.summary()), highlight=False)
            text_q = "Does Milvus support simultaneous insertion and search?"
            _print_answer(text_q, rag.as_query_engine(top_k=3).query(text_q))
            image_q = "What are the key components of the Milvus architecture?"
            response = rag.as_query_engine(top_k=3).query(image_q)
            _print_answer(image_q, response)
            by_pixels = _image_field_hits(rag, image_q)
        finally:
            rag.close()
        images = [n for n in response.source_nodes if n.node.metadata.get("modality") == "image"]
        if not images:
            _fail("no image among the sources", 1)
        hit = source_record(images[0])["image_path"]
        if temporary and images[0].node.metadata.get("doc") == diagram.name:
            hit = str(diagram)  # the store's copy of the picture goes with the temporary store: name the picture
        _out(f"Image hit: {hit}")
        if by_pixels is not None:
            model, node = by_pixels
            pixel_hit = str(diagram) if temporary and node.node.metadata.get("doc") == diagram.name else None
            _out(f"Image hit by its pixels ({model}): {pixel_hit or source_record(node)['image_path']}")
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)  # owned: mkdtemp made this folder for this run


@app.command()
def parse(
    path: Path = typer.Argument(..., help="The file to parse."),
    as_json: bool = typer.Option(False, "--json", help="Print the blocks as one JSON list."),
    parser: str = typer.Option("auto", "--parser", help="auto, or a RAG-Anything parser name (mmrag, docling-offline, ...)."),
    output_dir: Optional[Path] = typer.Option(
        None, "--output-dir", help="Where extracted images are written (default: a new temporary folder, kept)."
    ),
) -> None:
    """Parse one file and show its blocks (modality, page from 1, text); nothing is stored.

    ``--json`` prints a list of ``{"modality", "page", "page_number", "bbox", "text", "image_path"}`` objects
    on stdout (``page`` 0-based, ``page_number`` 1-based). A file that cannot be read exits with code 1 and
    names the file and the reason on stderr.
    """
    if path.is_dir():
        _fail(f"{path}: this is a folder; `mmrag parse` reads one file (use `mmrag ingest` for folders)", 1)
    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader

    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    previous = {name: logging.getLogger(name).level for name in ("raganything", "docling")}
    if quiet:  # their error logs repeat the failure this command reports itself
        for name in previous:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        reader = RAGAnythingReader(parser=parser, output_dir=str(output_dir) if output_dir else None)
        parsed = reader.parse(path)
    except ParseError as exc:
        _fail(f"{exc.path}: {exc.reason}", 1)
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)
    if as_json:
        records = [
            {
                "modality": block.modality,
                "page": block.page,
                "page_number": page_number(block.page),
                "bbox": block.bbox,
                "text": block.searchable_text,
                "image_path": block.img_path if block.modality == "image" else None,
                **({"start_s": block.start_s, "end_s": block.end_s} if block.start_s is not None else {}),
            }
            for block in parsed.blocks
        ]
        _json_out(records)
        return
    table = Table(
        "#", "modality", "page", "text / image",
        title=escape(printable(f"{parsed.doc}: {len(parsed.blocks)} block(s), parser {parsed.parser}")),
    )
    for i, block in enumerate(parsed.blocks, start=1):
        text = block.searchable_text.replace("\n", " ").strip()
        shown = text if block.modality != "image" or text else str(block.img_path)
        table.add_row(str(i), block.modality, _shown_page(block.page, block.start_s), _cell(shown or "-"))
    Console().print(table)
    console.print(printable(f"parser {parsed.parser}: {parsed.reason}"), soft_wrap=True, highlight=False, markup=False)


@app.command("eval")
def evaluate(
    dataset: Path = typer.Option(..., "--dataset", help="Folder with docs/ and questions.jsonl."),
    top_k: int = typer.Option(10, "--top-k", min=1, max=1000, help="Nodes retrieved per question."),
    baseline: bool = typer.Option(False, "--baseline", help="Also run the plain LlamaIndex pipeline, side by side."),
    store: Optional[Path] = typer.Option(None, "--store", help="Reuse (or build) this store instead of a temporary one."),
    json_out: Optional[Path] = typer.Option(None, "--json", help='Write {"ours": R, "baseline": R|null} here.'),
) -> None:
    """Page-level retrieval quality: hit@k, recall@k and MRR@10, doc-restricted and corpus-wide."""
    from llama_index_mmrag.eval_runner import comparison_rows, run_evaluation

    try:
        report = run_evaluation(dataset, store=store, top_k=top_k, baseline=baseline, show_progress=True)
    except (FileNotFoundError, ValueError) as exc:
        _fail(str(exc), 2)
    details = report.pop("details")
    table = Table("setting", "metric", "ours", "baseline", "ratio")
    for row in comparison_rows(report):
        table.add_row(*row)
    Console().print(table)
    ours = report["ours"]
    lines = [
        f"documents {details['documents']}, pages {details['pages']}, questions {details['questions']}",
        f"ours: ingestion {details['ingest_seconds']} s ({ours['ingest_s_per_page']} s/page), "
        f"query p50 {details['ours_latency']['p50_ms']} ms, p95 {details['ours_latency']['p95_ms']} ms",
        f"peak RSS {details['peak_rss_mib']} MiB",
    ]
    if report["baseline"]:
        lines.append(
            f"baseline: ingestion {report['baseline']['ingest_s_per_page']} s/page, query p50 "
            f"{details['baseline_latency']['p50_ms']} ms, p95 {details['baseline_latency']['p95_ms']} ms"
        )
    for failure in details["ingest_failures"]:
        lines.append(f"failed to ingest: {failure}")
    _out("\n".join(lines))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")


@app.command()
def delete(
    doc: str = typer.Argument(..., help="The document to remove: its file name, with or without extension (`mmrag stats` lists them)."),
    store: Optional[Path] = StoreOption,
) -> None:
    """Remove a document: its nodes from Milvus, its chunks, entities and relations from the graph.

    Entities and relations other documents also mention stay, with their other sources. All or nothing, even if
    the command is killed half-way. A store that does not exist exits with code 2 (nothing is created); an
    unknown or ambiguous document exits with code 1 and names the closest stored ones.
    """
    _short_command()
    folder = _require_store(store)
    record = _delete_directly(folder, doc)
    if record is None:  # only the facade can: an LLM or a remote embedding is configured, or no collection yet
        rag = _open(folder)
        try:
            record = rag.delete(doc)
        finally:
            rag.close()
    counts = ", ".join(f"{n} {m}" for m, n in sorted(record.modalities.items())) or "no nodes"
    console.print(f"deleted {escape(printable(record.doc))} ({counts})", soft_wrap=True, highlight=False)


def _delete_directly(folder: Path, doc: str) -> DocRecord | None:
    """Delete ``doc`` with the store's write steps but without the facade (no LlamaIndex, no model: see
    :mod:`llama_index_mmrag.direct_delete`); ``None`` where only the facade can."""
    from llama_index_mmrag.manifest import StoreIdentityError
    from llama_index_mmrag.settings import MMRAGSettings

    try:
        settings = MMRAGSettings(storage_dir=folder)
    except ValueError as exc:
        _fail(str(exc), 2)
    try:
        with _loading_frameworks():  # pymilvus and LightRAG load on the way
            from llama_index_mmrag.direct_delete import delete_document

            return delete_document(settings, doc)
    except StoreIdentityError as exc:  # as when the facade opens the store
        _fail(str(exc), 2)


def document_listing(record: DocRecord) -> dict[str, Any]:
    """The JSON form of one stored document: ``doc``, ``pages``, ``nodes`` (per modality), ``ingested_at``
    (ISO 8601, ``null`` for documents stored before it was recorded), ``parser``.

    Args:
        record: The document's manifest record.
    """
    from llama_index_mmrag.modalities import MODALITIES

    nodes = {m: int(record.modalities.get(m, 0)) for m in MODALITIES}
    nodes.update({m: int(n) for m, n in record.modalities.items() if m not in nodes})
    return {
        "doc": record.doc,
        "pages": record.pages,
        "nodes": nodes,
        "ingested_at": record.ingested_at,
        "parser": record.parser,
    }


def _count_store(folder: Path, doc: Optional[str]) -> tuple[StoreStats, list[DocRecord]]:
    """Counts and manifest records of a store: read directly (pymilvus and the graph's files, no LlamaIndex,
    LightRAG or model), or through the facade where only it gives the same answer (see
    :func:`~llama_index_mmrag.stats.read_store_stats`)."""
    from llama_index_mmrag.settings import MMRAGSettings

    try:
        settings = MMRAGSettings(storage_dir=folder)
    except ValueError as exc:
        _fail(str(exc), 2)
    try:
        with _loading_frameworks():  # pymilvus loads on the first read
            from llama_index_mmrag.stats import read_store_stats

            reading = read_store_stats(settings, doc)
    except RuntimeError as exc:  # an unreadable manifest or journal, a Milvus that cannot be reached
        _fail(str(exc), 1)
    if reading is not None:
        return reading.stats, reading.documents
    rag = _open(folder)
    try:
        counts = rag.stats(doc=doc)
        records = rag.documents() if doc is None else [r for r in [rag.document(doc, default=None)] if r is not None]
    finally:
        rag.close()
    return counts, records


@app.command()
def stats(
    store: Optional[Path] = StoreOption,
    as_json: bool = typer.Option(
        False, "--json", help='Print {"docs", "nodes": {modality: n}, "entities", "relations", "documents": [...]} as JSON.'
    ),
    doc: Optional[str] = typer.Option(None, "--doc", help="Count one document (file name, with or without extension)."),
) -> None:
    """What the store holds, counted in Milvus and in the graph, and its documents (from the manifest).

    ``--json`` adds ``documents``: one ``{"doc", "pages", "nodes": {modality: n}, "ingested_at", "parser"}``
    per document (only the counted one with ``--doc``). A store that does not exist exits with code 2 (nothing
    is created); an unknown ``--doc`` exits with code 1.
    """
    _short_command()
    folder = _require_store(store)
    counts, records = _count_store(folder, doc)
    listing = [document_listing(r) for r in records]
    if as_json:
        _json_out({**counts, "documents": listing})
    else:
        title = f"{doc}" if doc is not None else f"store {folder}"
        table = Table("what", "count", title=escape(printable(title)))
        table.add_row("documents", str(counts["docs"]))
        for modality, n in counts["nodes"].items():
            table.add_row(f"{modality} nodes", str(n))
        table.add_row("entities", str(counts["entities"]))
        table.add_row("relations", str(counts["relations"]))
        out = Console()
        out.print(table)
        if listing:
            docs = Table("document", "pages", "nodes", "ingested (UTC)", "parser", title="documents (manifest)")
            for item in listing:
                nodes = ", ".join(f"{n} {m}" for m, n in item["nodes"].items() if n) or "0"
                when = (item["ingested_at"] or "-")[:16].replace("T", " ")  # to the minute, UTC
                docs.add_row(_cell(item["doc"], 60), str(item["pages"]), nodes, when, _cell(item["parser"]))
            out.print(docs)
    if not records and doc is None:
        console.print(escape(_empty_store_message(folder)), soft_wrap=True, highlight=False)


@app.command("confirm-model")
def confirm_model(store: Optional[Path] = StoreOption) -> None:
    """Record that the configured embedding model built this store (a store made before stores recorded it).

    Such a store records only the dimension of its vectors at its first open, and every process that opens it
    warns once until its model is confirmed. Run this with the settings the store was built with
    (MMRAG_EMBED_MODEL, ...). A store recorded with another model or dimension exits with code 2.
    """
    _short_command()
    folder = _require_store(store)
    from llama_index_mmrag.index.identity import open_identity
    from llama_index_mmrag.manifest import StoreIdentity, StoreIdentityError
    from llama_index_mmrag.settings import MMRAGSettings

    with _loading_frameworks():
        from llama_index_mmrag.models.embeddings import embedding_name
        from llama_index_mmrag.models.factory import build_models

    try:
        settings = MMRAGSettings(storage_dir=folder)
        models = build_models(settings)
        name = embedding_name(models.embed_model)
        open_identity(settings, name, models.embed_dim, warn=False)  # a store never opened since: adopted first
        identity = StoreIdentity.confirm_model(folder, embed_model=name, embed_dim=models.embed_dim)
    except (ValueError, StoreIdentityError) as exc:
        _fail(str(exc), 2)
    console.print(
        f"the store {escape(str(folder))} was built with {escape(repr(identity.embed_model))} ({identity.embed_dim}-d): recorded",
        soft_wrap=True, highlight=False,
    )


def run() -> None:
    """Entry point that keeps library logs quiet unless asked; short commands end without teardown."""
    global _OWN_PROCESS
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _OWN_PROCESS = True
    try:
        app()
    except SystemExit as exc:  # typer ends every command this way
        if _EXIT_FAST and (exc.code is None or isinstance(exc.code, int)):
            from llama_index_mmrag.process_lifetime import exit_without_teardown

            exit_without_teardown(exc.code or 0)
        raise


if __name__ == "__main__":
    sys.exit(run())
