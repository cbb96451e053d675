"""Pictures whose only link to a question is their pixels: where the ranking puts them, and whether they are answered.

Builds a store with an image field (``ColourEmbedding``, the offline stand-in that knows colours only) holding the
demo's FAQ, six reports of business words, three one-colour scans and four busy many-coloured pictures, named so that
neither a file name nor OCR says anything of colours. Then, for questions naming a scan's colour, it records the
scan's rank in ``rag.as_retriever(top_k=...)`` for several ``top_k`` and whether ``rag.as_query_engine()`` answers
from it; and it asks off-topic questions, which must get "no evidence".

Usage:
    python benchmarks/image_evidence.py [--json benchmarks/out/image_evidence.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUESTIONS = {"which chart is red?": "scan-001.png", "the green one": "scan-002.png", "a blue picture": "scan-003.png"}
OFF_TOPIC = ["How old is Taylor Swift?", "what is your favourite colour", "hello"]
TOP_KS = (3, 5, 10)
FAQ = Path(__file__).resolve().parents[1] / "sample" / "milvus_faq.txt"


def measure(folder: Path) -> dict[str, Any]:
    """Ingest the files into a store in ``folder``, then rank and answer every question."""
    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.models.colour import ColourEmbedding
    from tests.support.pictures import write_pixel_only_evidence

    report: dict[str, Any] = {"questions": [], "off_topic": []}
    with MultimodalRAG(storage_dir=folder / "store", image_embed_model=ColourEmbedding()) as rag:
        ingested = rag.ingest([FAQ, *write_pixel_only_evidence(folder, reports=6)], show_progress=False)
        if not ingested.ok:
            raise RuntimeError(f"ingest failed: {ingested.failures}")
        for question, scan in QUESTIONS.items():
            ranks: dict[str, int | None] = {}
            for top_k in TOP_KS:
                docs = [n.node.metadata["doc"] for n in rag.as_retriever(top_k=top_k).retrieve(question)]
                ranks[f"top_{top_k}"] = docs.index(scan) + 1 if scan in docs else None
            answer = str(rag.as_query_engine().query(question).response)
            report["questions"].append(
                {"question": question, "scan": scan, "rank": ranks, "answered_from_it": f"[{scan}" in answer,
                 "answer": answer[:200]}
            )
        for question in OFF_TOPIC:
            response = rag.as_query_engine().query(question)
            report["off_topic"].append({"question": question, "no_evidence": not response.source_nodes})
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="Write the report here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="image-evidence-") as folder:
        report = measure(Path(folder))
    report["load_avg"] = os.getloadavg()
    for row in report["questions"]:
        print(f"{row['question']!r}: rank {row['rank']}, answered from {row['scan']}: {row['answered_from_it']}")
    print("off-topic answered 'no evidence':", sum(r["no_evidence"] for r in report["off_topic"]), "/", len(OFF_TOPIC))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
