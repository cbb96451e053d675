"""DashScope faults over real HTTP: which are retried, how often, after which wait, and what the caller gets when
the retries run out. The loopback server scripts each fault per request; waits are kept tiny by the settings, and
the backoff is checked by the retries the client logs (count and announced wait), never by a clock."""

from __future__ import annotations

import logging
import re
from typing import Any

import dashscope
import pytest

from llama_index_mmrag.models.dashscope import DashScopeError, DashScopeLLM, DashScopeMultiModalLLM
from llama_index_mmrag.models.factory import build_models
from llama_index_mmrag.settings import MMRAGSettings
from tests.support.dashscope_server import FAKE_API_KEY, TEXT_GENERATION_PATH, DashScopeFakeServer

CALLS_LOGGER = "llama_index_mmrag.models.dashscope.calls"
_RETRY = re.compile(r"retry (\d+) of (\d+) in ([\d.]+) s")

# (fault kind, inject() arguments): each one fails a request in its own way
FAULTS: dict[str, tuple[str, dict[str, Any]]] = {
    "429 with Retry-After": ("status", {"status": 429, "retry_after": 0.05}),
    "500": ("status", {"status": 500}),
    "503": ("status", {"status": 503}),
    "timeout": ("slow", {"seconds": 1.0}),
    "truncated JSON": ("truncated_json", {}),
}


@pytest.fixture
def server(dashscope_server: DashScopeFakeServer) -> DashScopeFakeServer:
    """The shared loopback DashScope (tests/conftest.py)."""
    return dashscope_server


def llm(server: DashScopeFakeServer, **kwargs: Any) -> DashScopeLLM:
    """qwen-max on the loopback server: 0.3 s per request, a millisecond of backoff, 2 retries unless told."""
    settings: dict[str, Any] = {"timeout": 0.3, "retry_backoff": 0.001, "max_retries": 2, **kwargs}
    return DashScopeLLM(api_key=FAKE_API_KEY, base_url=server.base_url, **settings)


def retries_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[int, int, float]]:
    """(retry number, retries allowed, announced wait in seconds) of every retry the client logged."""
    found = [_RETRY.search(r.getMessage()) for r in caplog.records if r.name == CALLS_LOGGER]
    return [(int(m[1]), int(m[2]), float(m[3])) for m in found if m]


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.usefixtures("aio_sessions")
async def test_a_transient_fault_is_retried_with_backoff_then_answered(
    fault: str, server: DashScopeFakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    kind, arguments = FAULTS[fault]
    caplog.set_level(logging.INFO, logger=CALLS_LOGGER)
    server.inject(kind, 2, **arguments)  # the first two attempts fail, the third is answered

    assert llm(server).complete("sync survives").text == "ANSWER: sync survives"
    server.inject(kind, 2, **arguments)
    assert (await llm(server).acomplete("async survives")).text == "ANSWER: async survives"

    assert len(server.requests) == 6  # 3 attempts per call
    retries = retries_logged(caplog)
    assert [(n, allowed) for n, allowed, _ in retries] == [(1, 2), (2, 2)] * 2
    for number, _, wait in retries:  # exponential backoff with jitter: between half and all of 1 ms * 2**(n-1)
        floor = 0.05 if fault == "429 with Retry-After" else 0.001 * 2 ** (number - 1) / 2
        assert floor <= wait <= max(floor, 0.001 * 2 ** (number - 1)), retries


@pytest.mark.usefixtures("aio_sessions")
async def test_when_retries_run_out_the_error_says_how_many_and_what_to_do(
    server: DashScopeFakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=CALLS_LOGGER)
    server.fail_next(10, status=503)

    with pytest.raises(DashScopeError, match=r"qwen-max' failed after 3 retries: HTTP 503.*retry later") as caught:
        await llm(server, max_retries=3).acomplete("never")

    assert caught.value.retryable and caught.value.retries == 3
    assert len(server.requests) == 4 and len(retries_logged(caplog)) == 3


def test_a_retry_after_beyond_the_wait_budget_is_not_waited_for(server: DashScopeFakeServer) -> None:
    server.fail_next(3, status=429, retry_after=30)

    with pytest.raises(DashScopeError, match=r"would pass max_retry_wait.*HTTP 429 Throttling"):
        llm(server, max_retry_wait=5.0).complete("later")

    assert len(server.requests) == 1  # no 30 s sleep: the call gives up at once


@pytest.mark.parametrize(("status", "hint"), [(401, "DASHSCOPE_API_KEY"), (400, "check the model name and the inputs")])
def test_a_bad_key_or_a_bad_request_is_not_retried_and_says_what_to_do(
    status: int, hint: str, server: DashScopeFakeServer
) -> None:
    server.fail_next(1, status=status)

    with pytest.raises(DashScopeError, match=hint) as caught:
        llm(server).complete("x")

    assert not caught.value.retryable and caught.value.retries == 0
    assert len(server.requests) == 1


@pytest.mark.usefixtures("aio_sessions")
async def test_a_dropped_connection_is_retried(server: DashScopeFakeServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=CALLS_LOGGER)
    server.inject("cut", 3, path=TEXT_GENERATION_PATH)  # more drops than the SDK's own single resend absorbs

    assert (await llm(server, max_retries=3).acomplete("reconnect")).text == "ANSWER: reconnect"

    assert len(server.requests) == 4
    assert 1 <= len(retries_logged(caplog)) <= 3  # the rest were resent by the SDK itself


@pytest.mark.usefixtures("aio_sessions")
async def test_a_stream_cut_mid_way_raises_instead_of_passing_for_a_short_answer(server: DashScopeFakeServer) -> None:
    model = llm(server)
    server.inject("cut", 1)
    with pytest.raises(DashScopeError, match="IncompleteStream.*ended before the model finished") as caught:
        _ = [chunk.delta for chunk in model.stream_complete("one two three four five six")]
    assert caught.value.retryable

    server.inject("cut", 1)
    received = []
    with pytest.raises(DashScopeError, match="IncompleteStream"):
        async for chunk in await model.astream_complete("one two three four five six"):
            received.append(chunk.delta)
    assert 0 < len(received) < 7  # it had delivered part of the answer when the connection dropped

    # an uncut stream still ends normally
    assert [c.text for c in model.stream_complete("whole")][-1] == "ANSWER: whole"


def test_the_settings_set_every_dashscope_model_s_timeout_and_retries() -> None:
    settings = MMRAGSettings(
        storage_dir="unused", dashscope_api_key=FAKE_API_KEY, embed_model="text-embedding-v3", embed_dim=1024,
        llm_timeout=7, llm_max_retries=5, llm_retry_backoff=0.25, llm_retry_max_wait=9,
    )
    models = build_models(settings, embed_dim=1024)

    for model in (models.llm, models.vlm, models.embed_model):
        assert (model.timeout, model.max_retries, model.retry_backoff, model.max_retry_wait) == (7, 5, 0.25, 9)
    assert isinstance(models.vlm, DashScopeMultiModalLLM)
