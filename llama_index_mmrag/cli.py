"""``mmrag``: the command line, a thin layer over :class:`~llama_index_mmrag.rag.MultimodalRAG`.

Example:
    $ mmrag ingest report.pdf diagram.png --store ./store
    $ mmrag query "What does the diagram show?" --store ./store --json
    $ mmrag demo
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

import typer
from llama_index.core.base.response.schema import Response
from llama_index.core.schema import NodeWithScore
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Multimodal RAG for LlamaIndex, offline by default.")
console = Console(stderr=True)
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"
TEXT_PREVIEW = 300

StoreOption = typer.Option(None, "--store", help="Storage dir (default: MMRAG_STORAGE_DIR or ./mmrag_storage).")


def _open(store: Optional[Path], **overrides: Any) -> Any:
    from llama_index_mmrag.rag import MultimodalRAG

    try:
        return MultimodalRAG(storage_dir=store, **overrides)
    except (RuntimeError, ValueError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def source_record(nws: NodeWithScore) -> dict[str, Any]:
    """The JSON form of one source: ``doc``, ``page`` (0-based), ``modality``, ``score``, ``text``, ``image_path``.

    Args:
        nws: A retrieved node.
    """
    meta = nws.node.metadata
    image_path = meta.get("image_path") or getattr(nws.node, "image_path", None)
    return {
        "doc": meta.get("doc"),
        "page": meta.get("page"),
        "modality": meta.get("modality"),
        "score": float(nws.score) if nws.score is not None else None,
        "text": nws.node.get_content()[:TEXT_PREVIEW * 4],
        "image_path": image_path,
    }


def _print_answer(question: str, response: Response) -> None:
    console.print(f"\n[bold]Q:[/bold] {question}")
    print(f"A: {response.response}")
    table = Table("#", "doc", "page", "modality", "score", "text / image", show_lines=False)
    for i, nws in enumerate(response.source_nodes, start=1):
        rec = source_record(nws)
        shown = rec["image_path"] or rec["text"][:80].replace("\n", " ")
        score = f"{rec['score']:.4f}" if rec["score"] is not None else "-"
        table.add_row(str(i), str(rec["doc"]), str(rec["page"]), str(rec["modality"]), score, shown)
    console.print(table)


@app.callback()
def main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what each layer does.")) -> None:
    """Multimodal RAG for LlamaIndex: RAG-Anything parsing, Milvus vectors, a LightRAG graph."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("lightrag", "nano-vectordb", "httpx"):
        logging.getLogger(noisy).setLevel(logging.INFO if verbose else logging.ERROR)


@app.command()
def ingest(
    paths: list[Path] = typer.Argument(..., help="Files or folders to ingest."),
    store: Optional[Path] = StoreOption,
) -> None:
    """Parse, describe and index files into the store; unchanged files are skipped."""
    rag = _open(store)
    try:
        report = rag.ingest(paths, show_progress=True)
    finally:
        rag.close()
    for failure in report.failures:
        console.print(f"[red]failed:[/red] {failure.path}: {failure.reason}")
    console.print(report.summary())
    if report.failures:
        raise typer.Exit(1)


@app.command()
def query(
    question: str = typer.Argument(..., help="The question."),
    store: Optional[Path] = StoreOption,
    top_k: int = typer.Option(5, "--top-k", min=1, max=1000, help="How many sources to retrieve."),
    modality: Optional[list[str]] = typer.Option(None, "--modality", help="Only text, image, table or equation (repeatable)."),
    doc: Optional[str] = typer.Option(None, "--doc", help="Only this document (file name)."),
    as_json: bool = typer.Option(False, "--json", help="Print {answer, sources} as JSON."),
) -> None:
    """Answer a question from the store, with its sources."""
    rag = _open(store)
    try:
        engine = rag.as_query_engine(top_k=top_k, modalities=modality or None, doc=doc)
        response = engine.query(question)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    finally:
        rag.close()
    if as_json:
        answer = response.response if response.source_nodes else None
        print(json.dumps({"answer": answer, "sources": [source_record(n) for n in response.source_nodes]}, ensure_ascii=False))
    else:
        _print_answer(question, response)


@app.command()
def demo(
    store: Optional[Path] = typer.Option(None, "--store", help="Where to build the demo store (a fresh temporary dir by default)."),
) -> None:
    """Ingest a Milvus FAQ and an architecture diagram into a fresh store, then ask a text and an image question."""
    from llama_index_mmrag.rag import MultimodalRAG

    faq, diagram = SAMPLE_DIR / "milvus_faq.txt", SAMPLE_DIR / "milvus_architecture.png"
    for path in (faq, diagram):
        if not path.exists():
            console.print(f"[red]error:[/red] demo file {path} is missing; reinstall from a full checkout")
            raise typer.Exit(2)
    workdir = Path(store) if store else Path(tempfile.mkdtemp(prefix="mmrag-demo-"))
    if store and workdir.exists():
        shutil.rmtree(workdir)
    console.print(f"demo store: {workdir}")
    rag = MultimodalRAG(storage_dir=workdir, top_k=5)
    try:
        report = rag.ingest([faq, diagram], show_progress=True)
        console.print(report.summary())
        text_q = "Does Milvus support simultaneous insertion and search?"
        _print_answer(text_q, rag.as_query_engine(top_k=3).query(text_q))
        image_q = "What are the key components of the Milvus architecture?"
        response = rag.as_query_engine(top_k=3).query(image_q)
        _print_answer(image_q, response)
        images = [n for n in response.source_nodes if n.node.metadata.get("modality") == "image"]
        if images:
            print(f"Image hit: {source_record(images[0])['image_path']}")
        else:
            console.print("[red]no image among the sources[/red]")
            raise typer.Exit(1)
    finally:
        rag.close()
        if store is None:
            shutil.rmtree(workdir, ignore_errors=True)


@app.command()
def parse(
    path: Path = typer.Argument(..., help="The file to parse."),
    as_json: bool = typer.Option(False, "--json", help="Print the blocks as one JSON list."),
    parser: str = typer.Option("auto", "--parser", help="auto, or a RAG-Anything parser name (mmrag, docling-offline, ...)."),
    output_dir: Optional[Path] = typer.Option(
        None, "--output-dir", help="Where extracted images are written (default: a new temporary folder, kept)."
    ),
) -> None:
    """Parse one file and show its blocks (modality, page, text); nothing is stored.

    ``--json`` prints a list of ``{"modality", "page", "bbox", "text", "image_path"}`` objects on stdout. A file
    that cannot be read exits with code 1 and names the file and the reason on stderr.
    """
    from rich.markup import escape

    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader

    if path.is_dir():
        console.print(f"[red]error:[/red] {escape(str(path))}: this is a folder; `mmrag parse` reads one file (use `mmrag ingest` for folders)")
        raise typer.Exit(1)
    quiet = logging.getLogger().getEffectiveLevel() > logging.INFO
    previous = {name: logging.getLogger(name).level for name in ("raganything", "docling")}
    if quiet:  # their error logs repeat the failure this command reports itself
        for name in previous:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        reader = RAGAnythingReader(parser=parser, output_dir=str(output_dir) if output_dir else None)
        parsed = reader.parse(path)
    except ParseError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc.path))}: {escape(exc.reason)}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        for name, level in previous.items():
            logging.getLogger(name).setLevel(level)
    if as_json:
        records = [
            {
                "modality": block.modality,
                "page": block.page,
                "bbox": block.bbox,
                "text": block.searchable_text,
                "image_path": block.img_path if block.modality == "image" else None,
            }
            for block in parsed.blocks
        ]
        print(json.dumps(records, ensure_ascii=False))
        return
    table = Table(
        "#", "modality", "page", "text / image", title=escape(f"{parsed.doc}: {len(parsed.blocks)} block(s), parser {parsed.parser}")
    )
    for i, block in enumerate(parsed.blocks, start=1):
        text = block.searchable_text.replace("\n", " ").strip()
        shown = text[:80] if block.modality != "image" or text else str(block.img_path)
        table.add_row(str(i), block.modality, "-" if block.page is None else str(block.page), escape(shown or "-"))
    Console().print(table)
    console.print(f"parser {parsed.parser}: {parsed.reason}", soft_wrap=True, highlight=False, markup=False)


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
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
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
    print("\n".join(lines))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=1), encoding="utf-8")


def _require_store(store: Optional[Path]) -> Path:
    """The storage dir a command reads, or exit 2 if there is no store there."""
    from rich.markup import escape

    from llama_index_mmrag.settings import MMRAGSettings

    try:
        folder = (MMRAGSettings(storage_dir=store) if store is not None else MMRAGSettings()).storage_dir
    except ValueError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from exc
    if not folder.is_dir():
        console.print(f"[red]error:[/red] no store at {escape(str(folder))}; ingest files first (`mmrag ingest FILE --store DIR`)")
        raise typer.Exit(2)
    return folder


@app.command()
def delete(
    doc: str = typer.Argument(..., help="The document to remove: its file name, as stored (`mmrag stats` lists them)."),
    store: Optional[Path] = StoreOption,
) -> None:
    """Remove a document: its nodes from Milvus, its chunks, entities and relations from the graph.

    Entities and relations other documents also mention stay, with their other sources. All or nothing, even if
    the command is killed half-way. An unknown document exits with code 1 and names the closest stored one.
    """
    from rich.markup import escape

    from llama_index_mmrag.rag import UnknownDocumentError

    _require_store(store)
    rag = _open(store)
    try:
        record = rag.delete(doc)
    except UnknownDocumentError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        rag.close()
    counts = ", ".join(f"{n} {m}" for m, n in sorted(record.modalities.items())) or "no nodes"
    console.print(f"deleted {escape(record.doc)} ({counts})", soft_wrap=True)


@app.command()
def stats(
    store: Optional[Path] = StoreOption,
    as_json: bool = typer.Option(False, "--json", help='Print {"docs", "nodes": {modality: n}, "entities", "relations"} as JSON.'),
    doc: Optional[str] = typer.Option(None, "--doc", help="Count one document: its nodes, and the entities and relations it sources."),
) -> None:
    """What the store holds, counted in Milvus and in the graph (not read from the manifest).

    An unknown ``--doc`` exits with code 1.
    """
    from rich.markup import escape

    from llama_index_mmrag.rag import UnknownDocumentError

    _require_store(store)
    rag = _open(store)
    try:
        counts = rag.stats(doc=doc)
        documents = rag.documents() if doc is None and not as_json else []
    except UnknownDocumentError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        rag.close()
    if as_json:
        print(json.dumps(counts, ensure_ascii=False))
        return
    title = f"{doc}" if doc is not None else f"store {rag.settings.storage_dir}"
    table = Table("what", "count", title=escape(title))
    table.add_row("documents", str(counts["docs"]))
    for modality, n in counts["nodes"].items():
        table.add_row(f"{modality} nodes", str(n))
    table.add_row("entities", str(counts["entities"]))
    table.add_row("relations", str(counts["relations"]))
    out = Console()
    out.print(table)
    if documents:
        listing = Table("document", "pages", "nodes", "parser", title="documents (manifest)")
        for record in documents:
            listing.add_row(escape(record.doc), str(record.pages), str(len(record.node_ids)), record.parser)
        out.print(listing)


def run() -> None:
    """Entry point that keeps library logs quiet unless asked."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":
    sys.exit(run())
