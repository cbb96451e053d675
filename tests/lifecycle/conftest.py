"""Shared fixtures of the lifecycle tests: a three-document corpus and the states of clean stores built from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag import MultimodalRAG
from tests.lifecycle.store_state import store_state
from tests.readers.documents import make_png
from tests.support.store_copies import copy_store, wait_until_closed

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
def reference(corpus: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """One clean store of the whole corpus, closed (its local Milvus Lite server stopped), and its states after
    ingesting none, the first, the first two and all three documents."""
    folder = tmp_path_factory.mktemp("reference") / "store"
    with MultimodalRAG(storage_dir=folder) as rag:
        states = [store_state(rag)]
        for path in corpus:
            report = rag.ingest([path], show_progress=False)
            assert report.ok and report.ingested == [path.name], report.failures
            states.append(store_state(rag))
    wait_until_closed(folder)
    return folder, states


@pytest.fixture(scope="package")
def reference_states(reference: tuple[Path, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """States of one clean store after ingesting none, the first, the first two and all three documents."""
    return reference[1]


@pytest.fixture()
def full_store_copy(reference: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> Path:
    """``tmp_path / "store"``: a copy of the clean store of the whole corpus (state ``reference_states[-1]``), for a
    test that starts from it, instead of ingesting the corpus again."""
    return copy_store(reference[0], tmp_path / "store")
