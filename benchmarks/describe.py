"""Benchmark the modal describers: model calls per item, and concurrency.

1. **Calls per item.** One image, one table and one equation described by ``ModalDescriber`` with a counting
   fake multimodal LLM (``tests/support/fake_mm_llm.py``), then described again (cache). For comparison,
   RAG-Anything's full ``process_multimodal_content`` path on a throwaway LightRAG with the same fake (its
   count is a lower bound: with a real model, entity and relation summaries add calls; upstream measured
   about 24 per image).
2. **Concurrency.** ``N`` table nodes (distinct bodies, so no cache hits) through
   ``TableModalPostprocessor.acall`` with a fake that sleeps ``delay`` seconds per call, at concurrency ``C``:
   the ideal is ``ceil(N / C) x delay`` (200 / 8 x 50 ms = 1.25 s), a serial run ``N x delay`` (10 s).
   Prints the ideal, the measured time, their ratio, and (unless ``--skip-serial``) the measured serial time.

Usage:
    python benchmarks/describe.py [--nodes 200] [--concurrency 8] [--delay 0.05] [--skip-serial]
                                  [--skip-upstream] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from llama_index.core.schema import TextNode  # noqa: E402
from PIL import Image  # noqa: E402

from llama_index_mmrag.schema import ContentBlock  # noqa: E402
from llama_index_mmrag.processors import ModalDescriber, TableModalPostprocessor  # noqa: E402
from tests.support.fake_mm_llm import FakeMultiModalLLM  # noqa: E402

DOC = {"doc": "bench.pdf", "doc_id": "bench", "parser": "mmrag", "page": 0}


def _sample_blocks(folder: Path) -> list[ContentBlock]:
    png = folder / "figure.png"
    Image.new("RGB", (64, 48), (40, 80, 220)).save(png)
    return [
        ContentBlock(modality="text", text="Milvus separates storage and compute.", index=0, **DOC),
        ContentBlock(modality="image", img_path=str(png), captions=["Figure 1: Architecture"], index=1, **DOC),
        ContentBlock(modality="table", table_body="| Index | Recall |\n|---|---|\n| HNSW | 0.98 |", index=2, **DOC),
        ContentBlock(modality="equation", latex=r"\cos(a,b)=\frac{a\cdot b}{\|a\|\|b\|}", index=3, **DOC),
    ]


async def calls_per_item(folder: Path) -> dict[str, Any]:
    """Model calls per modality for one description, and for a second (cached) one."""
    fake = FakeMultiModalLLM()
    describer = ModalDescriber(llm=fake, vlm=fake, cache_dir=folder / "cache")
    await describer.adescribe(_sample_blocks(folder))
    first = fake.kinds
    await ModalDescriber(llm=fake, vlm=fake, cache_dir=folder / "cache").adescribe(_sample_blocks(folder))
    return {"first_run": dict(first), "second_run_new_instance": sum((fake.kinds - first).values())}


async def upstream_calls_per_item(folder: Path) -> dict[str, int]:
    """Calls RAG-Anything's full process_multimodal_content makes with the same fake (it writes a graph)."""
    import numpy as np
    from lightrag import LightRAG
    from lightrag.kg.shared_storage import initialize_pipeline_status
    from lightrag.utils import EmbeddingFunc
    from raganything.modalprocessors import EquationModalProcessor, ImageModalProcessor, TableModalProcessor

    from llama_index_mmrag.models.adapters import lightrag_llm_func, lightrag_vision_func
    from llama_index_mmrag.models.tokenizer import offline_tokenizer

    async def embed(texts: list[str], **_: Any) -> np.ndarray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")
            vector = np.random.default_rng(seed).normal(size=32)
            rows.append(vector / np.linalg.norm(vector))
        return np.asarray(rows, dtype=np.float32)

    fake = FakeMultiModalLLM()
    rag = LightRAG(
        working_dir=str(folder / "upstream"),
        workspace="bench",
        tokenizer=offline_tokenizer(),
        embedding_func=EmbeddingFunc(embedding_dim=32, max_token_size=256, func=embed),
        llm_model_func=lightrag_llm_func(fake),
    )
    await rag.initialize_storages()
    await initialize_pipeline_status()
    blocks = _sample_blocks(folder)
    counts: dict[str, int] = {}
    try:
        for processor, block in (
            (ImageModalProcessor(rag, lightrag_vision_func(fake)), blocks[1]),
            (TableModalProcessor(rag, lightrag_llm_func(fake)), blocks[2]),
            (EquationModalProcessor(rag, lightrag_llm_func(fake)), blocks[3]),
        ):
            before = len(fake.calls)
            await processor.process_multimodal_content(block.to_content_item(), block.modality, file_path="bench.pdf")
            counts[block.modality] = len(fake.calls) - before
    finally:
        await rag.finalize_storages()
    return counts


async def concurrency_run(nodes: int, concurrency: int, delay: float) -> dict[str, Any]:
    """Describe ``nodes`` table nodes at ``concurrency`` with a fake sleeping ``delay`` per call."""
    fake = FakeMultiModalLLM(delay=delay)
    processor = TableModalPostprocessor(llm=fake, concurrency=concurrency)
    batch = [
        TextNode(
            id_=f"n{i}",
            text=f"| Shard | Rows |\n|---|---|\n| s{i} | {i * 17} |",
            metadata={"doc": "bench.pdf", "page": i // 10, "modality": "table"},
        )
        for i in range(nodes)
    ]
    started = time.perf_counter()
    await processor.acall(batch)
    elapsed = time.perf_counter() - started
    assert len(fake.calls) == nodes, f"{len(fake.calls)} calls for {nodes} nodes"
    return {"seconds": elapsed, "calls": len(fake.calls), "max_in_flight": fake.max_in_flight}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--delay", type=float, default=0.05, help="Seconds the fake LLM sleeps per call.")
    parser.add_argument("--skip-serial", action="store_true", help="Do not measure the serial (concurrency 1) run.")
    parser.add_argument("--skip-upstream", action="store_true", help="Do not measure RAG-Anything's full path.")
    parser.add_argument("--json", type=Path, help="Write the figures here as JSON.")
    args = parser.parse_args(argv)

    figures: dict[str, Any] = {"nodes": args.nodes, "concurrency": args.concurrency, "delay_s": args.delay}
    with tempfile.TemporaryDirectory(prefix="mmrag-describe-bench-") as tmp:
        folder = Path(tmp)
        figures["calls_per_item"] = asyncio.run(calls_per_item(folder))
        print(f"model calls per item (ModalDescriber): {figures['calls_per_item']['first_run']}")
        second = figures["calls_per_item"]["second_run_new_instance"]
        print(f"model calls on a second run (new instance, same cache_dir): {second}")
        if not args.skip_upstream:
            figures["upstream_calls_per_item"] = asyncio.run(upstream_calls_per_item(folder))
            print(
                "model calls per item (RAG-Anything process_multimodal_content, same fake; a lower bound): "
                f"{figures['upstream_calls_per_item']}"
            )

    ideal = math.ceil(args.nodes / args.concurrency) * args.delay
    serial_bound = args.nodes * args.delay
    run = asyncio.run(concurrency_run(args.nodes, args.concurrency, args.delay))
    figures.update(
        ideal_s=ideal, serial_bound_s=serial_bound, measured_s=run["seconds"], max_in_flight=run["max_in_flight"]
    )
    figures["measured_over_ideal"] = run["seconds"] / ideal
    print(
        f"{args.nodes} nodes at concurrency {args.concurrency}, {args.delay * 1000:.0f} ms per call: "
        f"ideal {ideal:.2f} s, measured {run['seconds']:.2f} s (ratio {figures['measured_over_ideal']:.2f}), "
        f"max in flight {run['max_in_flight']}; serial bound {serial_bound:.2f} s"
    )
    if not args.skip_serial:
        serial = asyncio.run(concurrency_run(args.nodes, 1, args.delay))
        figures["serial_measured_s"] = serial["seconds"]
        figures["speedup_vs_serial"] = serial["seconds"] / run["seconds"]
        print(
            f"serial (concurrency 1): measured {serial['seconds']:.2f} s, speed-up {figures['speedup_vs_serial']:.1f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
