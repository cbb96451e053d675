"""Where an ingest's CPU goes: a py-spy profile of ``mmrag ingest`` split into the pipeline's stages.

Record the profile with py-spy (raw format, every process: the parse workers and the Milvus Lite server too),
then give the file to this script with the ingest's CPU-seconds (``/usr/bin/time -v``: user + system). Each
sample is put in the first stage whose marker appears in its stack (the most specific first: OCR before parse,
node embedding before the graph's embeddings); samples of threads waiting for work (a pool's idle worker, an
event loop's select) are left out. The CPU-seconds per stage are the total shared out by sample counts.

py-spy samples every Python thread that is not waiting; on a busy machine a thread waiting for a core counts as
running, so the shares are those of the time each stage was ready to run, not exactly its CPU.

Usage:
    /usr/bin/time -v py-spy record -r 50 --subprocesses -f raw -o prof.txt -- mmrag ingest DOCS --store /tmp/s
    python benchmarks/ingest_profile.py prof.txt --cpu-s USER_PLUS_SYSTEM

Example:
    python benchmarks/ingest_profile.py /tmp/prof.txt --cpu-s 532
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

IDLE_LEAVES = ("_worker", "_serve", "select", "wait", "run_forever", "_run_once", "sleep")
"""Leaf frames of a thread waiting for work."""
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("start-up (imports, opening the store)", ("<module>", "_open_lite", "_open (llama_index_mmrag/cli.py")),
    ("OCR (RapidOCR)", ("ocr_image", "_ocr_blocks", "ocr_text")),
    ("parse (PDF pages, figures, tables)", ("parsing/pdf", "parsing/parser.py", "readers/rag_anything.py")),
    ("describe (offline descriptions)", ("adescribe_blocks", "processors/describer", "describe/")),
    ("node embedding", ("embed_nodes",)),
    ("graph embeddings (entities, relations, chunks)", ("MiniLMEncoder", "_get_text_embeddings")),
    ("nodes (chunking, annotation, fitting)", ("DocumentPipeline.nodes", "blocks_to_nodes", "fit_nodes")),
    ("graph extraction (LLM-free)", ("graph/extract.py",)),
    ("journal copies", ("index/journal.py",)),
    ("graph save (GraphML, JSON)", ("graph/file_storage.py", "write_graphml", "index_done_callback")),
    ("graph upsert (LightRAG, KG loader)", ("graph/kg_loader.py", "graph/store.py", "lightrag/")),
    ("Milvus writes (client)", ("pymilvus/", "stores/milvus", "vector_stores/milvus")),
    ("Milvus Lite server (insert, flush, index)", ("lite_server",)),
    ("flush, manifest", ("aflush", "manifest.py")),
]
"""Stage names and the frame markers that place a sample in them, most specific first."""


def stage_samples(profile: Path) -> tuple[Counter[str], int]:
    """Samples per stage in a py-spy raw profile, and the samples left out as waiting.

    Args:
        profile: py-spy's ``-f raw`` output (one ``frame;frame;... count`` line per distinct stack).
    """
    counts: Counter[str] = Counter()
    waiting = 0
    for line in profile.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        leaf = stack.split(";")[-1].split(" (")[0]
        if leaf.endswith(IDLE_LEAVES) or leaf.startswith("process "):
            waiting += int(count)
            continue
        stage = next((name for name, marks in STAGES if any(m in stack for m in marks)), "other")
        counts[stage] += int(count)
    return counts, waiting


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path, help="py-spy raw profile of the ingest")
    parser.add_argument("--cpu-s", type=float, default=0.0, help="the ingest's CPU-seconds (user + system)")
    args = parser.parse_args()
    counts, waiting = stage_samples(args.profile)
    total = sum(counts.values())
    print(f"samples: {total} running, {waiting} waiting (left out)\n")
    print("| stage | CPU-s | % |\n|---|---:|---:|")
    for name in [*(n for n, _ in STAGES), "other"]:
        print(f"| {name} | {args.cpu_s * counts[name] / total:.0f} | {100 * counts[name] / total:.1f} |")


if __name__ == "__main__":
    main()
