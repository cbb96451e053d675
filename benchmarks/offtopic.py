"""Off-topic questions answered "no evidence", and on-topic questions still answered, through the query engine.

1. Generates off-topic questions from templates (cooking, sports, geography, celebrities, greetings and small
   talk, weather, animals, music, health, travel, technology trivia), each template filled from its own
   lists, shuffled with a fixed seed: questions nobody wrote for the documents of the store.
2. Opens the store and asks each of them through ``rag.as_query_engine()`` (the facade's defaults: the
   composite retriever, the relevance floor, the modal postprocessors, extractive answers offline); an
   answer with no source node is "no evidence".
3. With ``--dataset``, asks the dataset's answerable questions the same way, corpus-wide and restricted to
   their document (``as_query_engine(doc=...)``): those answered "no evidence" are the floor's false refusals.
4. With ``--sweep``, also records each question's evidence (the floor's own two measures, best cosine
   similarity and the share of the question's words found, on what the retriever returned) and the refusal
   rates of both sets for a grid of floors and coverage weights.

Usage:
    python benchmarks/offtopic.py --store /tmp/devstore --dataset ../shared/eval/mmlongbench-dev \\
        --json benchmarks/out/offtopic.json [--sweep] [--floor 0.3]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from itertools import product
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TEMPLATES: dict[str, tuple[list[str], list[str]]] = {
    "cooking": (
        ["How long should I boil {}?", "What is a good recipe for {}?", "Which spices go well with {}?",
         "Can I freeze {} after cooking?"],
        ["eggs", "spaghetti carbonara", "banana bread", "roast chicken", "lentil soup", "pancakes"],
    ),
    "sports": (
        ["Who won the {} final last year?", "How many players are on a {} team?", "What are the basic rules of {}?",
         "Who is the best {} player of all time?"],
        ["football", "basketball", "ice hockey", "cricket", "volleyball", "water polo"],
    ),
    "geography": (
        ["What is the capital of {}?", "What is the highest mountain in {}?", "Which language is spoken in {}?",
         "How many people live in {}?"],
        ["Peru", "Norway", "Kenya", "Mongolia", "New Zealand", "Portugal"],
    ),
    "celebrities": (
        ["How old is {}?", "Who is {} married to?", "Which films has {} starred in?", "Where was {} born?"],
        ["Taylor Swift", "Tom Hanks", "Beyonce", "Leonardo DiCaprio", "Shakira", "Keanu Reeves"],
    ),
    "greetings": (
        ["{}", "{}!", "{}, how are you?"],
        ["hello", "hi there", "good morning", "hey", "good evening", "greetings"],
    ),
    "weather": (
        ["Will it rain in {} tomorrow?", "What is the weather like in {} in winter?", "How hot does {} get in summer?"],
        ["Madrid", "Oslo", "Cairo", "Lima", "Hanoi", "Dublin"],
    ),
    "animals": (
        ["How long do {} live?", "What do {} eat?", "How fast can {} run?", "Are {} good pets?"],
        ["giraffes", "penguins", "hamsters", "elephants", "parrots", "tortoises"],
    ),
    "music": (
        ["Who wrote the song {}?", "What key is {} in?", "When was {} released?"],
        ["Bohemian Rhapsody", "Hey Jude", "Imagine", "Billie Jean", "Hotel California", "Yesterday"],
    ),
    "health": (
        ["How much {} should I have each day?", "Is {} good for my health?", "What are the side effects of too much {}?"],
        ["sleep", "coffee", "vitamin C", "sugar", "water", "exercise"],
    ),
    "travel": (
        ["What should I pack for a trip to {}?", "What are the best sights in {}?", "Do I need a visa to visit {}?"],
        ["Iceland", "Bali", "Morocco", "Patagonia", "Kyoto", "Tuscany"],
    ),
    "small talk": (
        ["{}"],
        ["tell me a joke", "what is your favourite colour", "what time is it", "thank you", "who are you",
         "what is the meaning of life", "do you like pizza", "goodbye"],
    ),
}


WEIGHTS = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4)
FLOORS = tuple(round(0.05 * i, 2) for i in range(2, 13))


def offtopic_questions(per_category: int = 10, seed: int = 7) -> list[dict[str, str]]:
    """Generate off-topic questions: each category's templates crossed with its fillers, sampled with a seed.

    Args:
        per_category: How many questions each category gives at most.
        seed: The sampling seed.

    Returns:
        ``[{"category", "question"}, ...]``.
    """
    rng = random.Random(seed)
    questions: list[dict[str, str]] = []
    for category, (templates, fillers) in TEMPLATES.items():
        pool = sorted({t.format(f) for t, f in product(templates, fillers)})
        rng.shuffle(pool)
        questions.extend({"category": category, "question": q} for q in pool[:per_category])
    return questions


def ontopic_questions(dataset: Path) -> list[dict[str, Any]]:
    """The answerable questions of an eval dataset (``questions.jsonl``)."""
    rows = [json.loads(line) for line in (dataset / "questions.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if r.get("answerable", True)]


def ask(rag: Any, question: str, doc: str | None, floor: Any | None) -> dict[str, Any]:
    """Ask one question through ``rag.as_query_engine(doc=doc)``.

    Without ``floor``: the engine answers, and an answer with no source node is "no evidence". With
    ``floor`` (the engine's own floor turned off): the nodes the engine would hand to synthesis are measured
    by it, so one retrieval gives the evidence for every floor of the sweep.
    """
    engine = rag.as_query_engine(doc=doc)
    if floor is None:
        response = engine.query(question)
        return {"no_evidence": not response.source_nodes, "answer": str(response.response)[:300]}
    from llama_index.core.schema import QueryBundle

    from llama_index_mmrag.relevance import finds_named_item

    nodes = engine.retrieve(QueryBundle(question))
    measured = floor.evidence(question, nodes)
    named = finds_named_item(question, nodes[: floor.top_n])
    return {
        "no_evidence": not floor.passes(measured, question, nodes),
        "names_found": named,
        "similarity": round(measured.similarity, 4),
        "coverage": round(measured.coverage, 4),
        "chunks": [[round(sim, 4), round(cov, 4)] for sim, cov in measured.chunks],
        "pictures": [round(sim, 4) for sim in measured.pictures],  # with an image field: by the image model
    }


def refusals(rows: list[dict[str, Any]], floor: float, weight: float, picture_floor: float | None = None) -> float:
    """The share of questions whose evidence is below ``floor`` with coverage weighted by ``weight`` (and no
    picture at ``picture_floor``, the image model's, in a store with an image field)."""
    from llama_index_mmrag.relevance import Evidence

    def refused(row: dict[str, Any]) -> bool:
        evidence = Evidence(tuple(map(tuple, row["chunks"])), tuple(row.get("pictures", ())))
        return not (evidence.passes(floor, weight, picture_floor) or row["names_found"])

    return round(sum(refused(r) for r in rows) / max(len(rows), 1), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", type=Path, required=True, help="An ingested store of documents.")
    parser.add_argument("--dataset", type=Path, help="An eval dataset whose answerable questions are asked too.")
    parser.add_argument("--per-category", type=int, default=10, help="Off-topic questions per category.")
    parser.add_argument("--floor", type=float, help="The relevance floor (the setting's value by default).")
    parser.add_argument("--sweep", action="store_true", help="Measure the evidence; refusal rates per floor and weight.")
    parser.add_argument("--json", type=Path, help="Write the report here.")
    args = parser.parse_args()

    from llama_index_mmrag import MultimodalRAG

    overrides = {"relevance_floor": args.floor} if args.floor is not None else {}
    rag = MultimodalRAG(storage_dir=args.store, **overrides)
    report: dict[str, Any] = {"store": str(args.store), "floor": rag.settings.relevance_floor, "load_avg": os.getloadavg()}
    floor = None
    if args.sweep:
        floor = rag.relevance_floor()
        rag.settings.relevance_floor = 0.0  # the engine passes everything; the floor above measures it
    started = time.perf_counter()
    try:
        offtopic = offtopic_questions(args.per_category)
        for item in offtopic:
            item.update(ask(rag, item["question"], None, floor))
        report["offtopic"] = {
            "n": len(offtopic),
            "no_evidence_rate": round(sum(i["no_evidence"] for i in offtopic) / len(offtopic), 4),
            "by_category": {
                c: round(statistics.mean(i["no_evidence"] for i in offtopic if i["category"] == c), 3) for c in TEMPLATES
            },
            "questions": offtopic,
        }
        if args.dataset is not None:
            ontopic = ontopic_questions(args.dataset)
            for scope in ("corpus_wide", "doc_restricted"):
                answers = []
                for q in ontopic:
                    doc = q["doc"] if scope == "doc_restricted" else None
                    answers.append({"qid": q["qid"], **ask(rag, q["question"], doc, floor)})
                report[f"ontopic_{scope}"] = {
                    "n": len(answers),
                    "no_evidence_rate": round(sum(a["no_evidence"] for a in answers) / len(answers), 4),
                    "questions": answers,
                }
        if args.sweep:
            sets = {"offtopic": offtopic}
            sets.update({s: report[f"ontopic_{s}"]["questions"] for s in ("corpus_wide", "doc_restricted") if f"ontopic_{s}" in report})
            report["sweep"] = {
                f"w={weight:.2f} floor={level:.2f}": {
                    name: refusals(rows, level, weight, floor.picture_floor) for name, rows in sets.items()
                }
                for weight in WEIGHTS
                for level in FLOORS
            }
    finally:
        rag.close()
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["load_avg_end"] = os.getloadavg()
    summary = {k: v["no_evidence_rate"] for k, v in report.items() if isinstance(v, dict) and "no_evidence_rate" in v}
    print(json.dumps({"floor": report["floor"], "no_evidence_rate": summary, "seconds": report["seconds"]}))
    for setting, by_set in (report.get("sweep") or {}).items():
        print(setting, " ".join(f"{name}={rate:.3f}" for name, rate in by_set.items()))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
