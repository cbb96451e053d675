"""Shared fixtures of the tests: a store with the demo's files, per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# The offline environment, the demo's sample files (``sample_faq``, ``sample_diagram``) and the release of bare
# stores after each test are set up in the top-level conftest.py, for the docstring examples too.


@pytest.fixture(scope="module")
def demo_rag(tmp_path_factory: pytest.TempPathFactory, sample_faq: Path, sample_diagram: Path) -> Iterator["object"]:
    """A store with the demo's FAQ and diagram ingested, offline (shared by a test module)."""
    from llama_index_mmrag import MultimodalRAG

    rag = MultimodalRAG(storage_dir=tmp_path_factory.mktemp("store"), top_k=5)
    report = rag.ingest([sample_faq, sample_diagram], show_progress=False)
    assert report.ok, report.failures
    yield rag
    rag.close()
