"""What an ingest costs in model calls and tokens per document, and how each model fault is retried.

1. **Cost.** A two-page PDF with one table, one picture and two formulas (tests/support/pdfs.py ``make_modal_pdf``)
   and a PNG are ingested through the facade with DashScope's qwen-max and qwen-vl-max, over the real SDK, against
   the loopback DashScope server (tests/support/dashscope_server.py). Printed: ``IngestReport.usage`` per document
   (LLM calls, VLM calls, prompt and completion tokens), next to the requests and the token usage the server sent.
2. **Faults.** One ``acomplete`` call of qwen-max (3 retries, 1 ms backoff, 0.3 s timeout) meets each fault kind
   on every attempt, then on the first attempt only: the requests the server received, the retries logged, and
   the outcome.
3. **Fallback.** ``sample/milvus_faq.txt`` ingested through the facade with qwen-max (its default 3 retries and
   1 s backoff) answering, then failing every request with HTTP 500, so that its text graph is built by the
   LLM-free extractor: the qwen-max requests made before falling back, the LLM calls counted, the process's CPU
   seconds and wall seconds of the ingest, and the graph's entities and relations; the same file offline beside.

Usage:
    python benchmarks/model_faults.py [--json OUT] [--only cost|faults|fallback]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "429 + Retry-After 0.05 s": ("status", {"status": 429, "retry_after": 0.05}),
    "500": ("status", {"status": 500}),
    "503": ("status", {"status": 503}),
    "timeout (answer after 1 s)": ("slow", {"seconds": 1.0}),
    "truncated JSON body": ("truncated_json", {}),
    "connection dropped": ("cut", {}),
    "401 bad key": ("status", {"status": 401}),
    "400 bad request": ("status", {"status": 400}),
}


class _Retries(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += " retry " in record.getMessage()


def cost(folder: Path) -> dict[str, Any]:
    """Ingest the PDF and a PNG over loopback; usage per document and what the server answered."""
    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
    from tests.support.dashscope_server import (
        FAKE_API_KEY,
        MULTIMODAL_GENERATION_PATH,
        TEXT_GENERATION_PATH,
        DashScopeFakeServer,
    )
    from tests.support.pdfs import make_modal_pdf

    folder.mkdir(parents=True)
    pdf = make_modal_pdf(folder / "report.pdf")["path"]
    png = ROOT / "sample" / "milvus_architecture.png"
    with DashScopeFakeServer() as server:
        connection = {"api_key": FAKE_API_KEY, "base_url": server.base_url}
        with MultimodalRAG(
            storage_dir=folder / "store", llm=DashScopeLLM(**connection), vlm=DashScopeMultiModalLLM(**connection)
        ) as rag:
            report = rag.ingest([pdf, png], show_progress=False)
            assert report.ok, report.failures
        sent = {
            name: {
                "requests": len(server.requests_to(path)),
                "prompt_tokens": sum(u["input_tokens"] for u in server.usage_returned(path)),
                "completion_tokens": sum(u["output_tokens"] for u in server.usage_returned(path)),
            }
            for name, path in (("qwen-max", TEXT_GENERATION_PATH), ("qwen-vl-max", MULTIMODAL_GENERATION_PATH))
        }
    return {"per_document": {doc: u.as_dict() for doc, u in report.usage.items()},
            "total": report.total_usage.as_dict(), "server": sent}


async def _one_call(server: Any, kind: str, arguments: dict[str, Any], times: int) -> dict[str, Any]:
    from llama_index_mmrag.models.dashscope import DashScopeError, DashScopeLLM
    from tests.support.dashscope_server import FAKE_API_KEY

    server.reset()
    server.inject(kind, times, **arguments)
    retries = _Retries()
    calls_logger = logging.getLogger("llama_index_mmrag.models.dashscope.calls")
    calls_logger.addHandler(retries)
    llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url, timeout=0.3, max_retries=3, retry_backoff=0.001)
    try:
        await llm.acomplete("hello")
        outcome = "answered"
    except DashScopeError as error:
        outcome = f"DashScopeError {error.status_code} {error.code}"
    finally:
        calls_logger.removeHandler(retries)
    return {"requests": len(server.requests), "retries_logged": retries.count, "outcome": outcome}


def faults() -> dict[str, Any]:
    """Each fault kind on every attempt, then on the first only."""
    import dashscope

    from tests.support.dashscope_server import DashScopeFakeServer

    logging.getLogger("llama_index_mmrag.models.dashscope.calls").setLevel(logging.INFO)

    async def run(server: Any) -> dict[str, Any]:
        table = {}
        for name, (kind, arguments) in FAULTS.items():
            table[name] = {
                "every attempt": await _one_call(server, kind, arguments, 10),
                "first attempt": await _one_call(server, kind, arguments, 1),
            }
        await dashscope.close_shared_aio_session()
        return table

    with DashScopeFakeServer() as server:
        return asyncio.run(run(server))


def _ingest_faq(folder: Path, llm: Any) -> dict[str, Any]:
    """Ingest the FAQ into a new store with this LLM (``None``: offline); what it took and what the graph holds."""
    from llama_index_mmrag import MultimodalRAG

    with MultimodalRAG(storage_dir=folder, llm=llm) as rag:
        cpu, wall = time.process_time(), time.perf_counter()
        report = rag.ingest([ROOT / "sample" / "milvus_faq.txt"], show_progress=False)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert report.ok, report.failures
        entities, relations = rag.graph.run(rag.graph.acounts())
    return {
        "llm_calls_counted": report.total_usage.llm_calls, "graph_fallbacks": len(report.graph_fallbacks),
        "cpu_seconds": round(cpu, 2), "wall_seconds": round(wall, 2), "entities": entities, "relations": relations,
    }


def fallback(folder: Path) -> dict[str, Any]:
    """The FAQ with qwen-max answering, with qwen-max failing every request (HTTP 500), and offline."""
    from llama_index_mmrag.models.dashscope import DashScopeLLM
    from tests.support.dashscope_server import FAKE_API_KEY, TEXT_GENERATION_PATH, DashScopeFakeServer

    table: dict[str, Any] = {}
    for case, failing in (("qwen-max answers", False), ("qwen-max fails every request (HTTP 500)", True)):
        with DashScopeFakeServer() as server:
            if failing:
                server.inject("status", 100_000, path=TEXT_GENERATION_PATH, status=500)
            llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url)  # 3 retries, 1 s backoff: the defaults
            figures = _ingest_faq(folder / case.split()[1], llm)
            table[case] = {"qwen_max_requests": len(server.requests_to(TEXT_GENERATION_PATH)), **figures}
    table["offline"] = _ingest_faq(folder / "offline", None)
    return table


SECTIONS = {"cost": lambda tmp: cost(tmp / "cost"), "faults": lambda tmp: faults(), "fallback": lambda tmp: fallback(tmp / "fallback")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    parser.add_argument("--only", choices=sorted(SECTIONS), help="Measure one section only.")
    args = parser.parse_args()
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    with tempfile.TemporaryDirectory() as tmp:
        names = [args.only] if args.only else list(SECTIONS)
        figures = {name: SECTIONS[name](Path(tmp)) for name in names}
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
