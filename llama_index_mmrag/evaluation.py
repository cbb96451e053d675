"""Page-level retrieval metrics: does the retriever find the right page?

A labelled set is a folder with ``docs/`` and ``questions.jsonl`` (one object a line: ``qid``, ``question``,
``doc``, ``relevant_pages`` as ``[doc, page]`` pairs with 0-based pages, ``evidence_sources``, ``answerable``).
A hit at k: one of the first k retrieved nodes has a relevant ``(doc, page)``.

Example:
    >>> from llama_index.core.schema import NodeWithScore, TextNode
    >>> q = EvalQuestion(qid="q1", question="?", doc="a.pdf", relevant_pages=frozenset({("a.pdf", 2)}))
    >>> nodes = [NodeWithScore(node=TextNode(text="x", metadata={"doc": "a.pdf", "page": p})) for p in (0, 2)]
    >>> r = score_question(q, nodes, latency_ms=1.0)
    >>> r.first_hit_rank
    2
    >>> compute_metrics([r])["mrr@10"]
    0.5
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.schema import NodeWithScore
from tqdm.auto import tqdm

KS = (1, 5, 10)
Page = tuple[str, int]


@dataclass(frozen=True)
class EvalQuestion:
    """One labelled question.

    Args:
        qid: Question id.
        question: The question text.
        doc: The document it is about (file name).
        relevant_pages: ``(doc, page)`` pairs that hold the evidence (0-based pages).
        evidence_sources: Kinds of evidence, e.g. ``Table``, ``Chart``, ``Pure-text (Plain-text)``.
        answerable: ``False`` for questions the document cannot answer (skipped in recall).

    Example:
        >>> question = EvalQuestion(qid="q1", question="Which region moved the most containers?", doc="report.pdf",
        ...                         relevant_pages=frozenset({("report.pdf", 2)}), evidence_sources=("Table",))
        >>> ("report.pdf", 2) in question.relevant_pages, question.answerable
        (True, True)
    """

    qid: str
    question: str
    doc: str
    relevant_pages: frozenset[Page]
    evidence_sources: tuple[str, ...] = ()
    answerable: bool = True


@dataclass
class QuestionResult:
    """What the retriever returned for one question.

    Args:
        question: The question.
        retrieved: ``(doc, page)`` of each retrieved node, in rank order (page ``-1`` where unknown).
        latency_ms: Retrieval wall time.

    Example:
        >>> question = EvalQuestion("q1", "Which region moved the most containers?", "report.pdf",
        ...                         frozenset({("report.pdf", 2)}))
        >>> result = QuestionResult(question, retrieved=[("report.pdf", 0), ("report.pdf", 2)])
        >>> result.first_hit_rank, result.hit_at(1), result.hit_at(5), result.recall_at(5)
        (2, False, True, 1.0)
    """

    question: EvalQuestion
    retrieved: list[Page] = field(default_factory=list)
    latency_ms: float = 0.0

    @property
    def first_hit_rank(self) -> int | None:
        """1-based rank of the first node on a relevant page, ``None`` when there is none."""
        for rank, page in enumerate(self.retrieved, start=1):
            if page in self.question.relevant_pages:
                return rank
        return None

    def hit_at(self, k: int) -> bool:
        """Whether one of the first ``k`` nodes is on a relevant page."""
        rank = self.first_hit_rank
        return rank is not None and rank <= k

    def recall_at(self, k: int) -> float:
        """Share of the relevant pages found among the first ``k`` nodes."""
        if not self.question.relevant_pages:
            return 0.0
        found = set(self.retrieved[:k]) & self.question.relevant_pages
        return len(found) / len(self.question.relevant_pages)


def load_questions(path: str | Path, answerable_only: bool = True) -> list[EvalQuestion]:
    """Read ``questions.jsonl``.

    Args:
        path: The JSONL file (or the folder holding it).
        answerable_only: Skip questions marked ``answerable: false``.

    Raises:
        ValueError: Naming the line that is not a valid question.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "questions.jsonl"
    questions: list[EvalQuestion] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question = EvalQuestion(
                qid=str(item["qid"]),
                question=str(item["question"]),
                doc=str(item["doc"]),
                relevant_pages=frozenset((str(d), int(p)) for d, p in item.get("relevant_pages", [])),
                evidence_sources=tuple(item.get("evidence_sources") or ()),
                answerable=bool(item.get("answerable", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}:{number}: not a valid question ({exc}); see the format in the docs") from exc
        if question.answerable or not answerable_only:
            questions.append(question)
    return questions


def node_page(nws: NodeWithScore) -> Page:
    """``(doc, page)`` of a retrieved node (page ``-1`` where unknown)."""
    meta = nws.node.metadata
    page = meta.get("page")
    return str(meta.get("doc") or meta.get("file_name") or ""), int(page) if page is not None else -1


def score_question(question: EvalQuestion, nodes: Sequence[NodeWithScore], latency_ms: float) -> QuestionResult:
    """Record the pages a retriever returned for a question.

    Args:
        question: The question.
        nodes: The retrieved nodes, best first.
        latency_ms: Retrieval wall time.
    """
    return QuestionResult(question=question, retrieved=[node_page(n) for n in nodes], latency_ms=latency_ms)


def compute_metrics(results: Sequence[QuestionResult]) -> dict[str, Any]:
    """hit@1/5/10, recall@5/10, MRR@10 and n, overall and hit@5 per evidence source.

    Args:
        results: One result per answerable question.
    """
    n = len(results)

    def mean(values: Iterable[float]) -> float:
        values = list(values)
        return round(sum(values) / len(values), 4) if values else 0.0

    metrics: dict[str, Any] = {f"hit@{k}": mean(float(r.hit_at(k)) for r in results) for k in KS}
    metrics["recall@5"] = mean(r.recall_at(5) for r in results)
    metrics["recall@10"] = mean(r.recall_at(10) for r in results)
    metrics["mrr@10"] = mean(
        1.0 / r.first_hit_rank if r.first_hit_rank is not None and r.first_hit_rank <= 10 else 0.0 for r in results
    )
    metrics["n"] = n
    by_source: dict[str, list[QuestionResult]] = defaultdict(list)
    for r in results:
        for source in r.question.evidence_sources or ("unknown",):
            by_source[source].append(r)
    metrics["by_source"] = {
        source: {"hit@5": mean(float(r.hit_at(5)) for r in rs), "n": len(rs)} for source, rs in sorted(by_source.items())
    }
    return metrics


def latency_summary(results: Sequence[QuestionResult]) -> dict[str, float]:
    """p50 and p95 of retrieval latency in milliseconds."""
    latencies = sorted(r.latency_ms for r in results)
    if not latencies:
        return {"p50_ms": 0.0, "p95_ms": 0.0}
    p95_index = min(len(latencies) - 1, max(0, round(0.95 * len(latencies)) - 1))
    return {"p50_ms": round(statistics.median(latencies), 2), "p95_ms": round(latencies[p95_index], 2)}


RetrieverFactory = Callable[[EvalQuestion], BaseRetriever]


class PageRetrievalEvaluator:
    """Runs labelled questions through a retriever and scores pages, in the style of LlamaIndex's ``RetrieverEvaluator``.

    Args:
        retriever_factory: Returns the retriever for a question (e.g. one restricted to its document).
        show_progress: Show a progress bar.

    Example:
        >>> question = EvalQuestion(qid="q1", question="What does the architecture diagram show?",
        ...                         doc="milvus_architecture.png", relevant_pages=frozenset({("milvus_architecture.png", 0)}))
        >>> evaluator = PageRetrievalEvaluator(lambda q: rag.as_retriever(top_k=10, doc=q.doc), show_progress=False)
        >>> results = evaluator.evaluate_dataset([question])  # or load_questions("eval/questions.jsonl")
        >>> compute_metrics(results)["hit@5"]
        1.0
    """

    def __init__(self, retriever_factory: RetrieverFactory, show_progress: bool = True) -> None:
        self.retriever_factory = retriever_factory
        self.show_progress = show_progress

    def evaluate(self, question: EvalQuestion) -> QuestionResult:
        """Retrieve for one question and record the pages."""
        retriever = self.retriever_factory(question)
        started = time.perf_counter()
        nodes = retriever.retrieve(question.question)
        return score_question(question, nodes, (time.perf_counter() - started) * 1000)

    async def aevaluate(self, question: EvalQuestion) -> QuestionResult:
        """Async twin of :meth:`evaluate`."""
        retriever = self.retriever_factory(question)
        started = time.perf_counter()
        nodes = await retriever.aretrieve(question.question)
        return score_question(question, nodes, (time.perf_counter() - started) * 1000)

    def evaluate_dataset(self, questions: Sequence[EvalQuestion], desc: str = "eval") -> list[QuestionResult]:
        """Evaluate questions one after another (latencies are per question, undisturbed)."""
        return [self.evaluate(q) for q in tqdm(questions, desc=desc, disable=not self.show_progress)]

    async def aevaluate_dataset(
        self, questions: Sequence[EvalQuestion], workers: int = 4, desc: str = "eval"
    ) -> list[QuestionResult]:
        """Evaluate questions concurrently, at most ``workers`` at a time."""
        semaphore = asyncio.Semaphore(workers)

        async def one(question: EvalQuestion) -> QuestionResult:
            async with semaphore:
                return await self.aevaluate(question)

        tasks: list[Awaitable[QuestionResult]] = [one(q) for q in questions]
        return list(await asyncio.gather(*tasks))
