"""Count the LLM and VLM calls an ingestion costs on the LLM path, per modal item and per text chunk.

A two-page PDF with one table, one picture and two formulas (tests/support/pdfs.py ``make_modal_pdf``) is ingested
through the facade twice:

1. with the deterministic fakes (tests/support/fake_llm.py, fake_mm_llm.py: the real LlamaIndex LLM interface, every
   call recorded); each text-LLM call is classified by its prompt: RAG-Anything's description prompt of a table or
   an equation, LightRAG's entity extraction or its gleaning pass, and for those two the chunk they read (a text
   chunk, or an image / table / equation chunk by the chunk's provenance line ``[report.pdf, page 1, table]``);
2. through the real DashScope SDK against the loopback DashScope server (tests/support/dashscope_server.py), the same
   PDF plus a PNG, counting the requests per model (qwen-max, qwen-vl-max).

Usage:
    python benchmarks/ingest_llm_calls.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def with_fakes(folder: Path) -> dict[str, Any]:
    """Ingest the PDF with the counting fakes; the calls by kind."""
    from llama_index_mmrag import MultimodalRAG
    from tests.support.fake_llm import FakeLLM
    from tests.support.fake_mm_llm import FakeMultiModalLLM
    from tests.support.llm_calls import text_call_kind
    from tests.support.pdfs import make_modal_pdf

    folder.mkdir(parents=True)
    facts = make_modal_pdf(folder / "report.pdf")
    llm, vlm = FakeLLM(), FakeMultiModalLLM()
    with MultimodalRAG(storage_dir=folder / "store", llm=llm, vlm=vlm) as rag:
        report = rag.ingest([facts["path"]], show_progress=False)
        assert report.ok, report.failures
    text = Counter(text_call_kind(prompt) for prompt in llm.calls)
    return {"text_llm": dict(sorted(text.items())), "vlm": dict(vlm.kinds), "text_total": len(llm.calls),
            "vlm_total": len(vlm.calls)}


def with_dashscope(folder: Path) -> dict[str, Any]:
    """Ingest the PDF and a PNG through DashScope's SDK on the loopback server; requests per model."""
    import os

    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.models.dashscope import DashScopeLLM, DashScopeMultiModalLLM
    from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer
    from tests.support.pdfs import make_modal_pdf

    folder.mkdir(parents=True)
    facts = make_modal_pdf(folder / "report.pdf")
    with DashScopeFakeServer() as server:
        llm = DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0)
        vlm = DashScopeMultiModalLLM(api_key=FAKE_API_KEY, base_url=server.base_url, retry_backoff=0.0)
        with MultimodalRAG(storage_dir=folder / "store", llm=llm, vlm=vlm) as rag:
            report = rag.ingest([facts["path"], ROOT / "sample" / "milvus_architecture.png"], show_progress=False)
            assert report.ok, report.failures
        models = Counter(str(request.model) for request in server.requests)
    return {"requests_by_model": dict(sorted(models.items()))}


def main() -> None:
    """Run both ingests and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        fakes = with_fakes(Path(tmp) / "fakes")
        dashscope = with_dashscope(Path(tmp) / "dashscope")
    print("fake text LLM calls by kind:", json.dumps(fakes["text_llm"]), f"(total {fakes['text_total']})")
    print("fake VLM calls by kind:", json.dumps(fakes["vlm"]), f"(total {fakes['vlm_total']})")
    print("DashScope requests by model (PDF + PNG):", json.dumps(dashscope["requests_by_model"]))
    if args.json:
        args.json.write_text(json.dumps({"fakes": fakes, "dashscope": dashscope}, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
