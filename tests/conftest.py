"""Shared fixtures of the tests: the demo's store, one for the session, and a store of the demo's FAQ to copy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.store_copies import copy_store, wait_until_closed

# The offline environment, the demo's sample files (``sample_faq``, ``sample_diagram``) and the release of bare
# stores after each test are set up in the top-level conftest.py, for the docstring examples too.


@pytest.fixture(scope="session")
def demo_rag(doctest_rag: Any) -> Any:
    """A store with the demo's FAQ and diagram ingested, offline: the one the docstring examples query, built once
    for the session (tests only read it; one that changes a setting restores it)."""
    return doctest_rag


@pytest.fixture
def dashscope_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh loopback DashScope API on 127.0.0.1 (tests/support/dashscope_server.py), bypassing any proxy
    from the environment."""
    from tests.support.dashscope_server import DashScopeFakeServer

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with DashScopeFakeServer() as server:
        yield server


@pytest.fixture
async def aio_sessions() -> AsyncIterator[None]:
    """Close the DashScope SDK's per-event-loop aiohttp session before the test's loop goes away."""
    import dashscope

    yield
    await dashscope.close_shared_aio_session()


@pytest.fixture(scope="session")
def faq_store(tmp_path_factory: pytest.TempPathFactory, sample_faq: Path) -> Path:
    """A closed store holding only the demo's FAQ, ingested offline once; tests take copies (``faq_store_copy``)."""
    from llama_index_mmrag import MultimodalRAG

    folder = tmp_path_factory.mktemp("faq") / "store"
    with MultimodalRAG(storage_dir=folder) as rag:
        report = rag.ingest([sample_faq], show_progress=False)
        assert report.ok and report.ingested == [sample_faq.name], report.failures
    wait_until_closed(folder)
    return folder


@pytest.fixture()
def faq_store_copy(faq_store: Path, tmp_path: Path) -> Path:
    """``tmp_path / "store"``: a copy of a store holding only the demo's FAQ, as ``MultimodalRAG(storage_dir=...)``
    and ``ingest([sample_faq])`` leave it, for a test that starts from one."""
    return copy_store(faq_store, tmp_path / "store")
