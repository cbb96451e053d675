"""Why Figure and Chart questions miss their page: each branch's ranked list, captured once, then read offline.

1. ``capture``: opens a store (a copy: Milvus Lite admits one process) and runs every answerable question of a
   dataset through the facade's retriever restricted to its document (``rag.as_retriever(top_k=10, doc=...)``,
   as ``mmrag eval`` does), one branch at a time, then fuses the branches' lists exactly as the composite does.
   It writes, per question, each branch's ranked chunks (id, doc, page, modality, image kind, score), the fused
   pages, and every stored node of the question's relevant pages (modality, image kind, text), to JSON.
2. ``misses``: reads that JSON and prints each question of the chosen evidence sources whose relevant page is
   not in the first 5: the question, its relevant pages, what ranked above them (doc, page, the modalities
   that matched, the branches that brought it and at which rank), where each branch ranked the relevant pages,
   and what the relevant pages' image, page-image and text nodes hold.
3. ``score``: reads one or more captures and prints hit@1/5/10 and MRR@10 overall, per evidence source and on
   each half of the documents (sorted by name, split 12/12), so a rule is checked on both halves.

Usage:
    python benchmarks/figure_misses.py capture --store COPY --dataset ../shared/eval/mmlongbench-dev --json cap.json
    python benchmarks/figure_misses.py misses cap.json [--sources Figure Chart]
    python benchmarks/figure_misses.py score cap.json [other.json ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TOP_K = 10
TEXT_CHARS = 240


def _chunk(nws: Any) -> dict[str, Any]:
    meta = nws.node.metadata
    return {
        "id": nws.node.node_id,
        "doc": str(meta.get("doc") or ""),
        "page": int(meta["page"]) if meta.get("page") is not None else -1,
        "modality": str(meta.get("modality", "text")),
        "image_kind": meta.get("image_kind"),
        "caption": meta.get("caption"),
        "score": round(float(nws.score or 0.0), 6),
    }


def _page_nodes(rag: Any, doc: str, pages: Sequence[int]) -> list[dict[str, Any]]:
    from llama_index.core.schema import MetadataMode
    from llama_index.core.vector_stores.types import FilterOperator, MetadataFilter, MetadataFilters

    filters = MetadataFilters(
        filters=[
            MetadataFilter(key="doc", value=[doc], operator=FilterOperator.IN),
            MetadataFilter(key="page", value=list(pages), operator=FilterOperator.IN),
        ]
    )
    nodes = rag.vector_store.get_nodes(filters=filters)
    return [
        {
            "id": node.node_id,
            "page": int(node.metadata.get("page", -1)),
            "modality": str(node.metadata.get("modality", "text")),
            "image_kind": node.metadata.get("image_kind"),
            "caption": node.metadata.get("caption"),
            "text": node.get_content(metadata_mode=MetadataMode.NONE),
        }
        for node in sorted(nodes, key=lambda n: (n.metadata.get("page", -1), n.metadata.get("modality", "")))
    ]


def _image_search(rag: Any, doc: str, candidates: int) -> Any:
    """The vector branch's search restricted to the image nodes of one document (figures and page images)."""
    from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever

    mode = "hybrid" if rag.vector_store.enable_sparse else "dense"
    return MilvusModalRetriever(
        rag.vector_store, rag.embed_model, similarity_top_k=candidates, mode=mode, modalities=["image"], doc=doc
    )


def capture(store: Path, dataset: Path, out: Path, qids: set[str] | None = None, corpus_wide: bool = False) -> None:
    """Run every answerable question doc-restricted, branch by branch, and write the lists to ``out``.

    Args:
        store: A copy of a built store.
        dataset: The labelled set (``questions.jsonl``).
        out: The JSON file to write.
        qids: Only these questions (all when ``None``).
        corpus_wide: Search the whole store instead of the question's document.
    """
    from llama_index_mmrag.evaluation import load_questions
    from llama_index_mmrag.rag import MultimodalRAG

    questions = [q for q in load_questions(dataset / "questions.jsonl") if qids is None or q.qid in qids]
    rag = MultimodalRAG(storage_dir=store)
    records: list[dict[str, Any]] = []
    try:
        stored = {r.doc for r in rag.documents()}
        for number, question in enumerate(questions, start=1):
            record: dict[str, Any] = {
                "qid": question.qid,
                "question": question.question,
                "doc": question.doc,
                "sources": list(question.evidence_sources),
                "relevant": sorted([d, p] for d, p in question.relevant_pages),
                "branches": {},
                "fused": [],
                "relevant_nodes": [],
            }
            if question.doc in stored:
                retriever = rag.as_retriever(top_k=TOP_K, doc=None if corpus_wide else question.doc)
                ranked = [branch.retrieve(question.question) for branch in retriever.retrievers]
                for branch, nodes in zip(retriever.retrievers, ranked):
                    record["branches"][type(branch).__name__] = [_chunk(n) for n in nodes]
                record["fused"] = [_chunk(n) for n in retriever._fuse(ranked, question.question)]
                images = _image_search(rag, question.doc, retriever.retrievers[0].similarity_top_k)
                record["extra"] = {"image_search": [_chunk(n) for n in images.retrieve(question.question)]}
                pages = sorted({p for d, p in question.relevant_pages if d == question.doc})
                record["relevant_nodes"] = _page_nodes(rag, question.doc, pages)
            records.append(record)
            print(f"{number}/{len(questions)} {question.qid}", file=sys.stderr, flush=True)
    finally:
        rag.close()
    out.write_text(json.dumps({"store": str(store), "questions": records}, indent=1), encoding="utf-8")


def _first_rank(pages: Sequence[tuple[str, int]], relevant: set[tuple[str, int]]) -> int | None:
    return next((rank for rank, page in enumerate(pages, start=1) if page in relevant), None)


def _branch_pages(chunks: Sequence[dict[str, Any]]) -> dict[tuple[str, int], tuple[int, list[str]]]:
    """Page -> (rank of its first chunk in the branch, modalities of its chunks there)."""
    found: dict[tuple[str, int], tuple[int, list[str]]] = {}
    for rank, chunk in enumerate(chunks, start=1):
        key = (chunk["doc"], chunk["page"])
        kind = chunk["modality"] + (f"/{chunk['image_kind']}" if chunk.get("image_kind") else "")
        if key in found:
            found[key][1].append(kind)
        else:
            found[key] = (rank, [kind])
    return found


def _wanted(record: dict[str, Any], sources: Sequence[str]) -> bool:
    return not sources or any(s in sources for s in record["sources"])


def misses(path: Path, sources: Sequence[str], k: int = 5) -> None:
    """Print every question of ``sources`` whose relevant page is not in the first ``k`` fused pages.

    Args:
        path: A capture.
        sources: Evidence sources to look at (all when empty).
        k: The cut-off.
    """
    records = [r for r in json.loads(path.read_text(encoding="utf-8"))["questions"] if _wanted(r, sources)]
    missed = 0
    for record in records:
        relevant = {(d, p) for d, p in record["relevant"]}
        fused = [(c["doc"], c["page"]) for c in record["fused"]]
        rank = _first_rank(fused, relevant)
        if rank is not None and rank <= k:
            continue
        missed += 1
        branches = {name: _branch_pages(chunks) for name, chunks in record["branches"].items()}
        print(f"\n=== {record['qid']} {record['sources']} first hit: {rank}\nQ: {record['question']}")
        print(f"relevant (0-based): {[p for _, p in sorted(relevant)]} of {record['doc']}")
        for position, chunk in enumerate(record["fused"][:k], start=1):
            key = (chunk["doc"], chunk["page"])
            brought = ", ".join(
                f"{name}#{found[key][0]}({'+'.join(found[key][1])})" for name, found in branches.items() if key in found
            )
            print(f"  {position}. page {chunk['page']} {chunk['modality']}/{chunk.get('image_kind') or '-'}  by {brought}")
        for name, found in branches.items():
            where = {p: found[(d, p)][0] for d, p in sorted(relevant) if (d, p) in found}
            print(f"  {name}: {len(record['branches'][name])} chunks; relevant pages at ranks {where or 'none'}")
        for node in record["relevant_nodes"]:
            text = " ".join(node["text"].split())[:TEXT_CHARS]
            print(f"    p{node['page']} {node['modality']}/{node.get('image_kind') or '-'}: {text}")
    print(f"\n{missed} of {len(records)} questions ({', '.join(sources) or 'all'}) miss at {k}")


def _metrics(records: Sequence[dict[str, Any]]) -> dict[str, float]:
    ranks = []
    for record in records:
        relevant = {(d, p) for d, p in record["relevant"]}
        ranks.append(_first_rank([(c["doc"], c["page"]) for c in record["fused"]], relevant))
    n = max(len(ranks), 1)
    out = {f"hit@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in (1, 5, 10)}
    out["mrr@10"] = sum(1 / r for r in ranks if r is not None and r <= 10) / n
    out["n"] = len(ranks)
    return out


def halves(records: Sequence[dict[str, Any]], docs: Sequence[str] | None = None) -> dict[str, list[dict[str, Any]]]:
    """The records split by document into two halves (documents sorted by name, first half and second half).

    Args:
        records: Captured questions.
        docs: The documents to split (those of ``records`` by default; give the whole set's to split a subset
            the same way).
    """
    names = sorted(set(docs) if docs is not None else {r["doc"] for r in records})
    first = set(names[: len(names) // 2])
    return {"half A": [r for r in records if r["doc"] in first], "half B": [r for r in records if r["doc"] not in first]}


def score(paths: Sequence[Path]) -> None:
    """Print hit@1/5/10 and MRR@10 of each capture: overall, per evidence source and on each half of the documents.

    Args:
        paths: Captures.
    """
    for path in paths:
        records = json.loads(path.read_text(encoding="utf-8"))["questions"]
        groups: dict[str, list[dict[str, Any]]] = {"all": records, **halves(records)}
        by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            for source in record["sources"]:
                by_source[source].append(record)
        groups.update(sorted(by_source.items()))
        groups["Figure+Chart"] = [r for r in records if _wanted(r, ("Figure", "Chart"))]
        for half, subset in halves(groups["Figure+Chart"], [r["doc"] for r in records]).items():
            groups[f"Figure+Chart {half}"] = subset
        print(f"\n{path}")
        for name, subset in groups.items():
            m = _metrics(subset)
            print(f"  {name:34s} n={m['n']:3d}  hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}  "
                  f"hit@10 {m['hit@10']:.3f}  MRR@10 {m['mrr@10']:.3f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("capture", help="run the questions branch by branch and write the lists")
    run.add_argument("--store", type=Path, required=True, help="a copy of a built store")
    run.add_argument("--dataset", type=Path, required=True, help="folder with questions.jsonl")
    run.add_argument("--json", type=Path, required=True, help="where the capture goes")
    run.add_argument("--qids", nargs="*", help="only these questions")
    run.add_argument("--corpus-wide", action="store_true", help="search the whole store, not the question's document")
    show = commands.add_parser("misses", help="print the misses of a capture")
    show.add_argument("capture", type=Path)
    show.add_argument("--sources", nargs="*", default=["Figure", "Chart"], help="evidence sources (none: all)")
    show.add_argument("-k", type=int, default=5)
    rate = commands.add_parser("score", help="score captures overall, per source and per half")
    rate.add_argument("captures", type=Path, nargs="+")
    args = parser.parse_args(argv)
    if args.command == "capture":
        capture(args.store, args.dataset, args.json, set(args.qids) if args.qids else None, args.corpus_wide)
    elif args.command == "misses":
        misses(args.capture, args.sources, args.k)
    else:
        score(args.captures)


if __name__ == "__main__":
    main()
