"""Shared fixtures of the lifecycle tests: a three-document corpus and the states of clean stores built from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from tests.lifecycle.store_state import store_state
from tests.readers.documents import make_png

A_TEXT = (
    "Milvus stores vectors in segments.\n\n"
    "The Query Node searches sealed segments, and Milvus Lite runs the same engine in process.\n"
)
C_TEXT = (
    "The Query Node and the Data Node talk to Milvus through the Proxy.\n\n"
    "Segments are sealed by the Data Coordinator and indexed by the Index Node.\n"
)


@pytest.fixture(scope="package")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """``a.txt``, ``b.png`` (a diagram whose OCR reads QUERY NODE) and ``c.txt``: entities shared across all three."""
    folder = tmp_path_factory.mktemp("corpus")
    a = folder / "a.txt"
    a.write_text(A_TEXT)
    b = make_png(folder / "b.png", ("QUERY", "NODE"))
    c = folder / "c.txt"
    c.write_text(C_TEXT)
    return [a, b, c]


@pytest.fixture(scope="package")
def reference_states(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """States of one clean store after ingesting none, the first, the first two and all three documents."""
    with MultimodalRAG(storage_dir=tmp_path_factory.mktemp("reference")) as rag:
        states = [store_state(rag)]
        for path in corpus:
            report = rag.ingest([path], show_progress=False)
            assert report.ok and report.ingested == [path.name], report.failures
            states.append(store_state(rag))
    return states
