"""Shared fixtures: the demo's sample files and fresh stores."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _var in ("DASHSCOPE_API_KEY", "MILVUS_URI", "MILVUS_TOKEN", "OPENAI_API_KEY", "MMRAG_LITE_SERVER"):
    os.environ.pop(_var, None)
# Each test store gets its own local Milvus Lite server process; it stops a few seconds after its last user
# instead of a minute, so that a suite's hundreds of stores never have many servers up at once.
os.environ.setdefault("MMRAG_LITE_IDLE_S", "3")

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample"


@pytest.fixture(autouse=True)
def _release_anonymous_store_holds() -> Iterator[None]:
    """Stores a test opened without a ``MultimodalRAG`` (a bare vector store, a graph) are let go after it."""
    yield
    from llama_index_mmrag.stores.lite_server import release_anonymous_holds

    release_anonymous_holds()


@pytest.fixture(scope="session")
def sample_faq() -> Path:
    return SAMPLE_DIR / "milvus_faq.txt"


@pytest.fixture(scope="session")
def sample_diagram() -> Path:
    return SAMPLE_DIR / "milvus_architecture.png"


@pytest.fixture(scope="module")
def demo_rag(tmp_path_factory: pytest.TempPathFactory, sample_faq: Path, sample_diagram: Path) -> Iterator["object"]:
    """A store with the demo's FAQ and diagram ingested, offline (shared by a test module)."""
    from llama_index_mmrag import MultimodalRAG

    rag = MultimodalRAG(storage_dir=tmp_path_factory.mktemp("store"), top_k=5)
    report = rag.ingest([sample_faq, sample_diagram], show_progress=False)
    assert report.ok, report.failures
    yield rag
    rag.close()
