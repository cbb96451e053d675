"""Ingestion on a busy machine: an in-process embedding never fails on a timeout meant for remote services.

LightRAG wraps the embedding function in its worker pool with a wall-clock timeout (``EMBEDDING_TIMEOUT``,
30 s, doubled for its workers). These tests lower that timeout far below the time an embedding batch takes,
so a store that still applied it to a local model would fail within a second instead of after 60 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.base.embeddings.base import BaseEmbedding

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.store import GraphStore
from llama_index_mmrag.models.adapters import (
    EmbeddingCallPolicy,
    EmbeddingTimeoutError,
    acall_with_policy,
    embedding_call_policy,
    is_remote_embedding,
    lightrag_embedding_func,
)
from llama_index_mmrag.models.dashscope import DashScopeEmbedding
from llama_index_mmrag.settings import MMRAGSettings
from tests.support.pdfs import make_text_pdf

LOWERED_TIMEOUT_S = 0.05  # LightRAG's embedding timeout in these tests (its workers get twice that)
DIM = 16


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    vector = np.frombuffer(digest[: DIM * 2], dtype=np.uint8).astype(np.float32)[:DIM] + 1.0
    return (vector / np.linalg.norm(vector)).tolist()


class SlowEmbedding(BaseEmbedding):
    """An in-process embedding that takes ``delay`` seconds per batch and returns deterministic vectors.

    Like ``HuggingFaceEmbedding``, its async methods compute in a worker thread.
    """

    delay: float = 1.0
    batches: int = 0

    def _embed(self, texts: list[str]) -> list[list[float]]:
        self.batches += 1
        time.sleep(self.delay)
        return [_vector(t) for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return await asyncio.to_thread(self._get_query_embedding, query)  # as HuggingFaceEmbedding does

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embed(texts)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await asyncio.to_thread(self._embed, texts)


class HangingServiceEmbedding(BaseEmbedding):
    """A client of an embedding service (it has a ``base_url``) whose first ``hangs`` calls never answer."""

    base_url: str = "http://127.0.0.1:9/v1"
    hangs: int = 1
    calls: int = 0

    async def _answer(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls <= self.hangs:
            await asyncio.sleep(3600)
        return [_vector(t) for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return _vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._answer([query]))[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return _vector(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return await self._answer(texts)


@pytest.fixture
def lowered_lightrag_timeout(monkeypatch: pytest.MonkeyPatch) -> float:
    """Cap LightRAG's embedding timeout at LOWERED_TIMEOUT_S for LightRAG instances built in this test."""
    import lightrag.lightrag as lightrag_module

    original = lightrag_module.priority_limit_async_func_call

    def capped(max_size: int, llm_timeout: float | None = None, **kwargs: Any) -> Any:
        if kwargs.get("queue_name") == "Embedding func" and llm_timeout is not None:
            llm_timeout = min(llm_timeout, LOWERED_TIMEOUT_S)
        return original(max_size, llm_timeout=llm_timeout, **kwargs)

    monkeypatch.setattr(lightrag_module, "priority_limit_async_func_call", capped)
    return LOWERED_TIMEOUT_S


@pytest.fixture
def busy_cores() -> Iterator[int]:
    """One busy-loop process per core for the duration of the test."""
    hogs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        yield len(hogs)
    finally:
        for hog in hogs:
            hog.kill()
        for hog in hogs:
            hog.wait(timeout=30)


def test_a_slow_local_embedding_ingests_past_lightrags_timeout(
    tmp_path: Path, lowered_lightrag_timeout: float
) -> None:
    doc = tmp_path / "harbour.md"
    doc.write_text(
        "# Harbour report\n\nThe harbour authority added four cranes and a rail spur to the container terminal.\n",
        encoding="utf-8",
    )
    delay = 6 * lowered_lightrag_timeout  # every batch takes 3x LightRAG's worker timeout
    embed = SlowEmbedding(delay=delay, embed_batch_size=64)
    with MultimodalRAG(storage_dir=tmp_path / "store", embed_model=embed, embed_dim=DIM) as rag:
        report = rag.ingest([doc], show_progress=False)
        assert report.ok, report.failures
        assert report.ingested == ["harbour.md"]
        batches_before_graph = embed.batches
        stats = rag.stats()
        hits = rag.as_retriever(top_k=3).retrieve("cranes at the container terminal")
    assert stats["entities"] > 0, "the graph got no entities: LightRAG's embedding step did not run"
    assert embed.batches >= 2 and batches_before_graph >= 2  # the nodes and the graph were both embedded
    assert hits and hits[0].node.metadata["doc"] == "harbour.md"


def test_real_pdfs_ingest_with_every_core_busy(
    tmp_path: Path, lowered_lightrag_timeout: float, busy_cores: int
) -> None:
    files = [tmp_path / "january.pdf", tmp_path / "february.pdf"]
    make_text_pdf(files[0], 5)  # both long enough for the parser's worker processes (forked under load)
    make_text_pdf(files[1], 3)
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        report = rag.ingest(files, show_progress=False)
        assert report.failures == [], report.failures
        assert sorted(report.ingested) == sorted(p.name for p in files)
        assert rag.stats()["entities"] > 0
        assert {d.doc: d.pages for d in rag.documents()} == {"january.pdf": 5, "february.pdf": 3}


def test_in_process_models_get_no_timeout_and_one_call_at_a_time() -> None:
    policy = embedding_call_policy(SlowEmbedding())
    assert policy == EmbeddingCallPolicy(in_process=True, max_async=1, timeout=None)
    assert not is_remote_embedding(SlowEmbedding())


def test_service_models_keep_a_timeout_with_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EMBEDDING_TIMEOUT", raising=False)
    service = HangingServiceEmbedding()
    policy = embedding_call_policy(service)
    assert is_remote_embedding(service)
    assert not policy.in_process and policy.timeout == 30.0 and policy.retries >= 1 and policy.max_async > 1
    dashscope = DashScopeEmbedding(api_key="sk-test", timeout=120.0)
    assert embedding_call_policy(dashscope).timeout == 120.0  # the client's own wait is never cut short
    monkeypatch.setenv("EMBEDDING_TIMEOUT", "45")
    assert embedding_call_policy(service).timeout == 45.0
    assert embedding_call_policy(service, in_process=True).timeout is None  # MMRAG_EMBED_IN_PROCESS=true


def test_a_bad_embedding_timeout_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDING_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="EMBEDDING_TIMEOUT='soon'"):
        embedding_call_policy(HangingServiceEmbedding())


async def test_a_hung_service_call_is_retried_then_answers() -> None:
    service = HangingServiceEmbedding(hangs=2)
    policy = EmbeddingCallPolicy(in_process=False, max_async=8, timeout=0.05, retries=2, backoff=0.0)
    func = lightrag_embedding_func(service, DIM, policy=policy)
    vectors = await func(["a crane", "a berth"])
    assert vectors.shape == (2, DIM)
    assert service.calls == 3


async def test_a_service_that_never_answers_fails_with_a_clear_timeout() -> None:
    attempts = 0

    async def never() -> list[float]:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(3600)
        return []

    policy = EmbeddingCallPolicy(in_process=False, max_async=8, timeout=0.02, retries=2, backoff=0.0)
    with pytest.raises(EmbeddingTimeoutError, match="EMBEDDING_TIMEOUT"):
        await acall_with_policy(never, policy, "HangingServiceEmbedding")
    assert attempts == 3


async def test_an_error_that_is_not_a_timeout_is_not_retried() -> None:
    attempts = 0

    async def refuse() -> list[float]:
        nonlocal attempts
        attempts += 1
        raise PermissionError("invalid API key")

    policy = EmbeddingCallPolicy(in_process=False, max_async=8, timeout=1.0, retries=2, backoff=0.0)
    with pytest.raises(PermissionError):
        await acall_with_policy(refuse, policy, "HangingServiceEmbedding")
    assert attempts == 1


def test_the_graph_retries_a_hung_service_embedding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBEDDING_TIMEOUT", "0.2")
    service = HangingServiceEmbedding(hangs=1)
    graph = GraphStore(MMRAGSettings(storage_dir=tmp_path / "store"), service, DIM)
    try:
        rag = graph.run(graph._rag_instance())
        vectors = graph.run(rag.embedding_func(["container terminal"]))
    finally:
        graph.close()
    assert np.asarray(vectors).shape == (1, DIM)
    assert service.calls == 2  # the hung first call was cut at EMBEDDING_TIMEOUT and retried
