"""Speech recognition of a recording with DashScope, through its official SDK (``dashscope.audio.asr``).

Used when a recording has no transcript beside it and no subtitles, and ``DASHSCOPE_API_KEY`` is set: the
audio is decoded and resampled by PyAV to 16 kHz mono 16-bit PCM and sent to ``Recognition`` (the real-time
model ``paraformer-realtime-v2`` by default, ``MMRAG_ASR_MODEL`` to change it), which returns sentences with
their begin and end times. ``DASHSCOPE_WEBSOCKET_BASE_URL`` points the SDK at another endpoint.

No offline recognizer is used: none that runs here ships its model inside a package (Vosk, whisper.cpp and
faster-whisper download theirs at run time).

Example:
    >>> import os
    >>> configured() == bool(os.environ.get("DASHSCOPE_API_KEY"))
    True
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from llama_index_mmrag.modalities.audio import Cue
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.media.decode import open_media

DEFAULT_ASR_MODEL = "paraformer-realtime-v2"
"""DashScope's real-time recognizer: sentences with begin and end times, from a local file."""
SAMPLE_RATE = 16_000
"""What the audio is resampled to before it is sent."""


def configured() -> bool:
    """Whether DashScope speech recognition can be called (``DASHSCOPE_API_KEY`` is set)."""
    return bool(os.environ.get("DASHSCOPE_API_KEY"))


def pcm16k(path: str | Path, target: Path) -> float:
    """Decode the first audio stream of a recording to 16 kHz mono signed 16-bit PCM in ``target``.

    Args:
        path: The recording.
        target: The raw PCM file to write.

    Returns:
        The seconds of audio written.
    """
    import av

    written = 0
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    with open_media(path) as container, open(target, "wb") as out:
        stream = container.streams.audio[0]
        for frame in container.decode(stream):
            for chunk in resampler.resample(frame):
                data = bytes(chunk.planes[0])[: chunk.samples * 2]
                out.write(data)
                written += len(data)
        for chunk in resampler.resample(None):
            data = bytes(chunk.planes[0])[: chunk.samples * 2]
            out.write(data)
            written += len(data)
    return written / 2 / SAMPLE_RATE


def transcribe(path: str | Path) -> list[Cue]:
    """What DashScope's speech recognition hears in a recording, sentence by sentence.

    Args:
        path: The recording (its first audio stream is sent).

    Raises:
        ParseError: Naming the file, when the service refuses or fails (the message says what to check).
    """
    from dashscope.audio.asr import Recognition

    model = os.environ.get("MMRAG_ASR_MODEL") or DEFAULT_ASR_MODEL
    with tempfile.TemporaryDirectory(prefix="mmrag-asr-") as folder:
        pcm = Path(folder) / "audio.pcm"
        if pcm16k(path, pcm) <= 0:
            return []
        try:
            recognition = Recognition(model=model, callback=None, format="pcm", sample_rate=SAMPLE_RATE)
            result = recognition.call(str(pcm), api_key=os.environ["DASHSCOPE_API_KEY"])
        except Exception as exc:  # noqa: BLE001  (the SDK raises its own and aiohttp's errors)
            raise ParseError(
                path, f"DashScope speech recognition ({model}) failed: {exc}; check DASHSCOPE_API_KEY and the "
                "network, or put a transcript (.srt, .vtt, .txt) beside the file"
            ) from exc
    if result.status_code != 200:
        raise ParseError(
            path, f"DashScope speech recognition ({model}) failed: {result.code}: {result.message}; check "
            "DASHSCOPE_API_KEY, or put a transcript (.srt, .vtt, .txt) beside the file"
        )
    sentences = result.get_sentence() or []
    if isinstance(sentences, dict):
        sentences = [sentences]
    return [
        Cue(float(s["begin_time"]) / 1000, float(s.get("end_time") or s["begin_time"]) / 1000, str(s["text"]))
        for s in sentences
        if str(s.get("text") or "").strip() and s.get("begin_time") is not None
    ]
