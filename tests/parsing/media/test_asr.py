"""Speech recognition with DashScope for a recording with no transcript: the official SDK's real-time
recognizer, over a loopback server that speaks its WebSocket protocol (tests/support/dashscope_asr_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.media import parse_media_file
from tests.support.dashscope_asr_server import DashScopeASRServer
from tests.support.dashscope_server import FAKE_API_KEY
from tests.support.media import STANDUP_CUES, make_silent_wav

HEARD = [(round(c.start_s * 1000), round(c.end_s * 1000), c.text) for c in STANDUP_CUES]


@pytest.fixture
def recognizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[DashScopeASRServer]:
    import dashscope

    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    with DashScopeASRServer([*HEARD, (90_000, 95_000, "said after the recording ended")]) as server:
        monkeypatch.setenv("DASHSCOPE_WEBSOCKET_BASE_URL", server.url)
        monkeypatch.setattr(dashscope, "base_websocket_api_url", server.url)
        yield server


def test_a_recording_without_transcript_is_recognized_by_dashscope_sentence_by_sentence(
    recognizer: DashScopeASRServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
    recording = tmp_path / "standup.wav"
    make_silent_wav(recording, 75.0, rate=44_100)  # resampled to 16 kHz mono before it is sent
    items = parse_media_file(recording, tmp_path / "out")
    assert [(i["start_s"], i["end_s"], i["text"]) for i in items] == [(c.start_s, c.end_s, c.text) for c in STANDUP_CUES]
    [task] = recognizer.tasks
    assert task.model == "paraformer-realtime-v2" and task.parameters == {"format": "pcm", "sample_rate": 16000}
    assert len(task.audio) == 75 * 16_000 * 2  # the whole recording arrived


def test_a_refused_key_fails_the_file_with_what_to_check(recognizer: DashScopeASRServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-expired")
    recording = make_silent_wav(tmp_path / "memo.wav", 2.0)
    with pytest.raises(ParseError) as caught:
        parse_media_file(recording, tmp_path / "out")
    assert caught.value.path == recording
    assert "DashScope speech recognition" in caught.value.reason and "DASHSCOPE_API_KEY" in caught.value.reason


def test_without_a_key_a_recording_without_transcript_says_both_ways_to_add_its_words(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    recording = make_silent_wav(tmp_path / "memo.wav", 2.0)
    with pytest.raises(ParseError, match=r"memo\.srt, memo\.vtt or memo\.txt\), or set DASHSCOPE_API_KEY"):
        parse_media_file(recording, tmp_path / "out")
