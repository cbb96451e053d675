"""``mmrag eval``: ingest a labelled set, run every answerable question doc-restricted and corpus-wide, compare.

Example:
    >>> report = run_evaluation(Path("eval/mmlongbench-dev"), baseline=True)   # doctest: +SKIP
    >>> report["ours"]["doc_restricted"]["hit@5"], report["baseline"]["doc_restricted"]["hit@5"]  # doctest: +SKIP
"""

from __future__ import annotations

import resource
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle

from llama_index_mmrag.evaluation import (
    EvalQuestion,
    PageRetrievalEvaluator,
    compute_metrics,
    latency_summary,
    load_questions,
)
from llama_index_mmrag.parsing.inputs import expand_paths

HEADLINE = ("hit@1", "hit@5", "hit@10", "recall@5", "recall@10", "mrr@10")


def count_pages(paths: Sequence[Path]) -> int:
    """Pages of the documents: PDF page counts, one page for anything else."""
    import pypdfium2

    total = 0
    for path in paths:
        if path.suffix.lower() == ".pdf":
            try:
                with pypdfium2.PdfDocument(str(path)) as pdf:
                    total += len(pdf)
            except pypdfium2.PdfiumError:
                total += 1
        else:
            total += 1
    return total


class _NothingRetriever(BaseRetriever):
    """Finds nothing: the doc-restricted retriever of a question whose document is not in the store (it failed
    to ingest), so the question counts as a miss instead of stopping the evaluation."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return []

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return []


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _evaluate(
    questions: Sequence[EvalQuestion],
    make_retriever: Callable[[int, str | None], BaseRetriever],
    top_k: int,
    show_progress: bool,
    label: str,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    restricted = PageRetrievalEvaluator(lambda q: make_retriever(top_k, q.doc), show_progress).evaluate_dataset(
        questions, desc=f"{label} doc-restricted"
    )
    corpus = PageRetrievalEvaluator(lambda q: make_retriever(top_k, None), show_progress).evaluate_dataset(
        questions, desc=f"{label} corpus-wide"
    )
    return compute_metrics(restricted), compute_metrics(corpus), latency_summary(restricted + corpus)


def run_evaluation(
    dataset: Path,
    *,
    store: Path | None = None,
    top_k: int = 10,
    baseline: bool = False,
    show_progress: bool = True,
    rag_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Ingest ``dataset/docs`` (or reuse ``store``), evaluate, and optionally run the baseline beside it.

    Args:
        dataset: Folder with ``docs/`` and ``questions.jsonl``.
        store: Storage dir to (re)use; a temporary one when ``None``.
        top_k: Nodes retrieved per question.
        baseline: Also run the plain LlamaIndex pipeline on the same docs.
        show_progress: Show progress bars.
        rag_options: Extra :class:`~llama_index_mmrag.rag.MultimodalRAG` settings.

    Returns:
        ``{"ours": R, "baseline": R | None, "details": {...}}`` where ``R`` has ``doc_restricted``,
        ``corpus_wide``, ``ingest_s_per_page`` and ``query_p50_ms``.

    Raises:
        FileNotFoundError: If the dataset has no ``docs/`` or ``questions.jsonl``.
    """
    from llama_index_mmrag.rag import MultimodalRAG

    docs_dir = dataset / "docs"
    if not docs_dir.is_dir() or not (dataset / "questions.jsonl").is_file():
        raise FileNotFoundError(f"{dataset}: expected a docs/ folder and a questions.jsonl file")
    questions = load_questions(dataset / "questions.jsonl")
    doc_paths = expand_paths(docs_dir)
    pages = count_pages(doc_paths)
    workdir = Path(tempfile.mkdtemp(prefix="mmrag-eval-"))
    details: dict[str, Any] = {"pages": pages, "documents": len(doc_paths), "questions": len(questions)}
    try:
        rag = MultimodalRAG(storage_dir=store or workdir / "ours", **(rag_options or {}))
        try:
            ingest = rag.ingest(doc_paths, show_progress=show_progress)
            details["ingest_seconds"] = round(ingest.seconds, 1)
            details["ingest_failures"] = [f"{f.path.name}: {f.reason}" for f in ingest.failures]
            stored = {r.doc for r in rag.documents()}
            restricted, corpus, latency = _evaluate(
                questions,
                lambda k, doc: rag.as_retriever(top_k=k, doc=doc) if doc is None or doc in stored else _NothingRetriever(),
                top_k, show_progress, "ours",
            )
        finally:
            rag.close()
        details["ours_latency"] = latency
        details["peak_rss_mib_after_ours"] = round(peak_rss_mib())
        report: dict[str, Any] = {
            "ours": {
                "doc_restricted": restricted,
                "corpus_wide": corpus,
                "ingest_s_per_page": round(ingest.seconds / max(pages, 1), 4),
                "query_p50_ms": latency["p50_ms"],
            },
            "baseline": None,
        }
        if baseline:
            report["baseline"], details["baseline_latency"] = _run_baseline(
                rag.embed_model, rag.embed_dim, docs_dir, workdir / "baseline", questions, top_k, show_progress
            )
        details["peak_rss_mib"] = round(peak_rss_mib())
        report["details"] = details
        return report
    finally:
        shutil.rmtree(workdir, ignore_errors=True)  # owned: mkdtemp made it for this run (a --store is never removed)


def _run_baseline(
    embed_model: Any,
    dim: int,
    docs_dir: Path,
    storage_dir: Path,
    questions: Sequence[EvalQuestion],
    top_k: int,
    show_progress: bool,
) -> tuple[dict[str, Any], dict[str, float]]:
    from llama_index_mmrag.baseline import BaselinePipeline

    pipeline = BaselinePipeline(embed_model, storage_dir, dim)
    seconds, pages = pipeline.ingest(docs_dir)
    restricted, corpus, latency = _evaluate(
        questions, lambda k, doc: pipeline.retriever(top_k=k, doc=doc), top_k, show_progress, "baseline"
    )
    return (
        {
            "doc_restricted": restricted,
            "corpus_wide": corpus,
            "ingest_s_per_page": round(seconds / max(pages, 1), 4),
            "query_p50_ms": latency["p50_ms"],
        },
        latency,
    )


def comparison_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """Rows ``(setting, metric, ours, baseline, ratio)`` for printing."""
    rows: list[tuple[str, str, str, str, str]] = []
    base = report.get("baseline")
    for setting in ("doc_restricted", "corpus_wide"):
        ours_m = report["ours"][setting]
        base_m = base[setting] if base else None
        for metric in HEADLINE:
            ours_v = ours_m[metric]
            base_v = base_m[metric] if base_m else None
            ratio = f"{ours_v / base_v:.2f}x" if base_v else "-"
            rows.append((setting, metric, f"{ours_v:.3f}", f"{base_v:.3f}" if base_v is not None else "-", ratio))
        sources = sorted(set(ours_m["by_source"]) | set(base_m["by_source"] if base_m else ()))
        for source in sources:
            ours_s = ours_m["by_source"].get(source, {"hit@5": 0.0, "n": 0})
            base_s = base_m["by_source"].get(source) if base_m else None
            ratio = f"{ours_s['hit@5'] / base_s['hit@5']:.2f}x" if base_s and base_s["hit@5"] else "-"
            rows.append(
                (
                    setting,
                    f"hit@5 {source} (n={ours_s['n']})",
                    f"{ours_s['hit@5']:.3f}",
                    f"{base_s['hit@5']:.3f}" if base_s else "-",
                    ratio,
                )
            )
    return rows
