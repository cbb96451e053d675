"""A deterministic multimodal LLM for tests: the real LlamaIndex ``LLM`` interface, chat with ``ImageBlock``.

``FakeMultiModalLLM`` answers RAG-Anything's modal prompts the way a careful vision model would, from what
it was actually given, in RAG-Anything's JSON (``detailed_description`` + ``entity_info``):

- an image (``ImageBlock`` in the user message): its format, size, dominant colour and a SHA-256 prefix of
  the bytes it received, plus the captions and surrounding context the prompt carried;
- a table prompt: the caption, the header cells and the number of data rows parsed from ``Body:``;
- an equation prompt: the equation and the single-letter variables in it;
- anything else: ``"FAKE-VLM ANSWER: <first line>"``.

Every call is recorded (:attr:`calls`), ``delay`` seconds are spent per call (``asyncio.sleep`` in the async
methods, ``time.sleep`` in the sync ones), the highest number of calls in flight at once is tracked
(:attr:`max_in_flight`), and ``fail_with`` / ``non_json`` make calls fail or answer in prose.

Example:
    >>> llm = FakeMultiModalLLM()
    >>> prompt = "Equation Information:\\nEquation: E = mc^2\\nFormat: latex"
    >>> answer = json.loads(llm.chat([ChatMessage(role="user", content=prompt)]).message.content)
    >>> answer["entity_info"]["entity_type"], answer["detailed_description"]
    ('equation', 'The equation E = mc^2 relates the variables E, c, m.')
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    ImageBlock,
    LLMMetadata,
    MessageRole,
    TextBlock,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from PIL import Image
from pydantic import Field, PrivateAttr

ANSWER_PREFIX = "FAKE-VLM ANSWER:"
_COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 80, 220),
    "white": (250, 250, 250),
    "black": (10, 10, 10),
    "yellow": (240, 220, 40),
    "grey": (128, 128, 128),
}


@dataclass
class FakeCall:
    """One call the fake received.

    Args:
        kind: ``image``, ``table``, ``equation`` or ``other``.
        prompt: The user text.
        system_prompt: The system message, if any.
        images: The image bytes received, in order.
    """

    kind: str
    prompt: str
    system_prompt: str | None
    images: list[bytes] = field(default_factory=list)


def _colour_name(rgb: tuple[int, int, int]) -> str:
    return min(_COLOURS, key=lambda name: sum((a - b) ** 2 for a, b in zip(_COLOURS[name], rgb)))


def describe_picture(data: bytes) -> dict[str, str]:
    """What the fake 'sees' in image bytes: format, size, dominant colour, a digest of the bytes."""
    with Image.open(BytesIO(data)) as image:
        rgb = image.convert("RGB")
        colours = rgb.resize((16, 16)).getcolors(256) or [(1, (0, 0, 0))]
        dominant = max(colours)[1]
        return {
            "format": (image.format or "unknown").lower(),
            "size": f"{image.width}x{image.height}",
            "colour": _colour_name(dominant),
            "sha": hashlib.sha256(data).hexdigest()[:12],
        }


def _field(prompt: str, name: str) -> str:
    match = re.search(rf"^\s*-?\s*{name}:\s*(.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else ""


def _captions(raw: str) -> list[str]:
    """Captions as RAG-Anything prints them: a Python list (``['Figure 1: ...']``), a string, or ``None``."""
    if not raw or raw == "None":
        return []
    quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", raw)
    return [a or b for a, b in quoted] if quoted else [raw]


def _context(prompt: str) -> str:
    match = re.search(r"Context from surrounding content:\s*\n(.*?)\n\s*\n", prompt, re.DOTALL)
    return " ".join(match.group(1).split()) if match else ""


def _answer(description: str, name: str, entity_type: str, summary: str) -> str:
    return json.dumps(
        {
            "detailed_description": description,
            "entity_info": {"entity_name": name, "entity_type": entity_type, "summary": summary},
        }
    )


def _image_answer(prompt: str, images: list[bytes]) -> str:
    seen = describe_picture(images[0])
    captions = _captions(_field(prompt, "Captions"))
    context = _context(prompt)
    name = captions[0] if captions else f"Picture {seen['sha'][:8]}"
    description = (
        f"A {seen['format']} image of {seen['size']} pixels, mostly {seen['colour']} (sha256:{seen['sha']})."
        + (f" Caption: {'; '.join(captions)}." if captions else "")
        + (f" Context: {context[:160]}" if context else "")
    )
    return _answer(description, name, "image", f"A {seen['colour']} picture {name}.")


def _table_answer(prompt: str) -> str:
    caption = _captions(_field(prompt, "Caption"))
    body_match = re.search(r"Body:\s*(.*?)\n\s*Footnotes:", prompt, re.DOTALL)
    body = body_match.group(1) if body_match else ""
    rows = [r for r in body.splitlines() if r.strip().startswith("|") and not re.match(r"^\|[\s:|-]+\|$", r.strip())]
    header = [c.strip() for c in rows[0].strip().strip("|").split("|")] if rows else []
    name = caption[0] if caption else "Table of " + ", ".join(header)
    description = f"The table {name} has the columns {', '.join(header)} and {max(len(rows) - 1, 0)} data rows." + (
        f" First row: {rows[1].strip()}" if len(rows) > 1 else ""
    )
    return _answer(description, name, "table", f"Columns {', '.join(header)}.")


def _equation_answer(prompt: str) -> str:
    equation = _field(prompt, "Equation")
    variables = sorted(set(re.findall(r"[A-Za-z]", re.sub(r"\\[A-Za-z]+", " ", equation))))
    description = f"The equation {equation} relates the variables {', '.join(variables)}."
    return _answer(description, f"Equation {equation[:40]}", "equation", f"Relates {', '.join(variables)}.")


class FakeMultiModalLLM(CustomLLM):
    """A deterministic vision-capable LLM for tests (see the module docstring).

    Args:
        model_name: Reported in metadata (and so in cache keys).
        delay: Seconds spent per call.
        fail_with: When set, every call raises ``RuntimeError(fail_with)``.
        non_json: Answer in prose instead of JSON.
    """

    model_name: str = "fake-vlm"
    delay: float = Field(default=0.0, ge=0.0)
    fail_with: str | None = None
    non_json: bool = False

    _calls: list[FakeCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _in_flight: int = PrivateAttr(default=0)
    _max_in_flight: int = PrivateAttr(default=0)

    @property
    def calls(self) -> list[FakeCall]:
        """Every call, in order."""
        return self._calls

    @property
    def kinds(self) -> Counter[str]:
        """Calls per kind."""
        return Counter(call.kind for call in self._calls)

    @property
    def max_in_flight(self) -> int:
        """The most calls that were running at the same time."""
        return self._max_in_flight

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=32000, num_output=1024, is_chat_model=True, model_name=self.model_name)

    # -- answering -------------------------------------------------------------------------------------

    def _read(self, messages: Sequence[ChatMessage]) -> FakeCall:
        system: str | None = None
        texts: list[str] = []
        images: list[bytes] = []
        for message in messages:
            if message.role == MessageRole.SYSTEM:
                system = message.content or ""
                continue
            for block in message.blocks:
                if isinstance(block, TextBlock):
                    texts.append(block.text)
                elif isinstance(block, ImageBlock):
                    images.append(block.resolve_image(as_base64=False).read())
        prompt = "\n".join(texts)
        if images:
            kind = "image"
        elif "Table Information:" in prompt:
            kind = "table"
        elif "Equation Information:" in prompt:
            kind = "equation"
        else:
            kind = "other"
        return FakeCall(kind=kind, prompt=prompt, system_prompt=system, images=images)

    def _respond(self, call: FakeCall) -> str:
        with self._lock:
            self._calls.append(call)
        if self.fail_with is not None:
            raise RuntimeError(self.fail_with)
        if self.non_json or call.kind == "other":
            first = next((line for line in call.prompt.splitlines() if line.strip()), "")
            return f"{ANSWER_PREFIX} {first.strip()[:200]}"
        if call.kind == "image":
            return _image_answer(call.prompt, call.images)
        if call.kind == "table":
            return _table_answer(call.prompt)
        return _equation_answer(call.prompt)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    # -- LlamaIndex LLM interface ----------------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._read(messages)
        self._enter()
        try:
            if self.delay:
                time.sleep(self.delay)
            text = self._respond(call)
        finally:
            self._leave()
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._read(messages)
        self._enter()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            text = self._respond(call)
        finally:
            self._leave()
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=text))

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = self.chat([ChatMessage(role=MessageRole.USER, content=prompt)])
        return CompletionResponse(text=response.message.content or "")

    @llm_completion_callback()
    async def acomplete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        response = await self.achat([ChatMessage(role=MessageRole.USER, content=prompt)])
        return CompletionResponse(text=response.message.content or "")

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self.complete(prompt).text

        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=text, delta=text)

        return gen()
