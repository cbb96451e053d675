"""A loopback WebSocket server that speaks DashScope's real-time speech recognition protocol, for tests.

``dashscope.audio.asr.Recognition.call(file)`` opens a WebSocket to ``DASHSCOPE_WEBSOCKET_BASE_URL``, sends a
``run-task`` action (model, format, sample rate), waits for ``task-started``, streams the audio as binary
messages, sends ``finish-task``, and reads ``result-generated`` events (one ``sentence`` each, times in
milliseconds) until ``task-finished``. This server answers that exchange: it checks the bearer key, records
each task (its parameters and the audio bytes it received) and, when the audio is over, "hears" the
:attr:`DashScopeASRServer.sentences` it was given, those that start within the audio it received, so a test
proves the whole recording arrived. It listens on 127.0.0.1 only, on a free port, until its ``with`` ends.

Example:
    >>> with DashScopeASRServer([(5000, 9000, "Budget is flat.")]) as server:
    ...     server.url.startswith("ws://127.0.0.1:")
    True
"""

from __future__ import annotations

import asyncio
import json
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import WSMsgType, web

from tests.support.dashscope_server import FAKE_API_KEY


@dataclass
class ASRTask:
    """One recognition task the server ran: its ``run-task`` parameters and the audio it received."""

    parameters: dict[str, Any]
    model: str
    audio: bytearray = field(default_factory=bytearray)


class DashScopeASRServer:
    """The loopback recognizer (see the module's docstring).

    Args:
        sentences: ``(begin_ms, end_ms, text)`` the recognizer hears, in order.
    """

    def __init__(self, sentences: list[tuple[int, int, str]]) -> None:
        self.sentences = sentences
        self.tasks: list[ASRTask] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        if request.headers.get("Authorization") != f"Bearer {FAKE_API_KEY}":
            raise web.HTTPUnauthorized(text="Invalid API-key provided.")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        task: ASRTask | None = None
        task_id = ""
        async for message in ws:
            if message.type == WSMsgType.BINARY and task is not None:
                task.audio.extend(message.data)
            elif message.type == WSMsgType.TEXT:
                body = json.loads(message.data)
                action, task_id = body["header"]["action"], body["header"]["task_id"]
                if action == "run-task":
                    payload = body["payload"]
                    task = ASRTask(parameters=payload.get("parameters", {}), model=payload.get("model", ""))
                    self.tasks.append(task)
                    await ws.send_str(json.dumps({"header": {"event": "task-started", "task_id": task_id}, "payload": {}}))
                elif action == "finish-task" and task is not None:
                    await self._answer(ws, task, task_id)
                    break
        await ws.close()
        return ws

    async def _answer(self, ws: web.WebSocketResponse, task: ASRTask, task_id: str) -> None:
        rate = int(task.parameters.get("sample_rate") or 16000)
        heard_ms = len(task.audio) / 2 / rate * 1000
        for index, (begin, end, text) in enumerate(s for s in self.sentences if s[0] < heard_ms):
            sentence = {"sentence_id": index + 1, "begin_time": begin, "end_time": end, "text": text, "words": [],
                        "sentence_end": True}
            await ws.send_str(json.dumps({
                "header": {"event": "result-generated", "task_id": task_id},
                "payload": {"output": {"sentence": sentence}, "usage": {"duration": max(1, round((end - begin) / 1000))}},
            }))
        await ws.send_str(json.dumps({"header": {"event": "task-finished", "task_id": task_id}, "payload": {"output": {}}}))

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/api-ws/v1/inference", self._handle)
        app.router.add_get("/api-ws/v1/inference/", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"ws://127.0.0.1:{port}/api-ws/v1/inference"

    def __enter__(self) -> DashScopeASRServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
