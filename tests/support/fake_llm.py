"""Deterministic fakes that implement the real LlamaIndex LLM interface (no network, no weights).

``FakeLLM`` answers like a careful model would, from the prompt alone: LightRAG keyword prompts get the JSON
LightRAG expects, RAG-Anything modal prompts get RAG-Anything's JSON, and question-answering prompts get an
answer quoting the context. Every call is recorded.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms import CustomLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from pydantic import PrivateAttr

ANSWER_PREFIX = "FAKE-LLM ANSWER:"
TUPLE = "<|#|>"
COMPLETE = "<|COMPLETE|>"
_EXTRACTION_INPUT = re.compile(r"<Input Text>\s*```\s*(.*?)\s*```\s*<Output>", re.S)
_NAME = re.compile(r"\b[A-Z][a-zA-Z]{3,}(?:\s+[A-Z][a-zA-Z]{3,})*\b")


def extraction_records(text: str, limit: int = 5) -> str:
    """LightRAG's extraction output for a text: its capitalised names as entities, consecutive ones related."""
    names: list[str] = []
    for name in _NAME.findall(text):
        if name not in names:
            names.append(name)
    names = names[:limit]
    lines = [f"entity{TUPLE}{n}{TUPLE}concept{TUPLE}{n} is mentioned in the text." for n in names]
    lines += [f"relation{TUPLE}{a}{TUPLE}{b}{TUPLE}co-mention{TUPLE}{a} is mentioned with {b}." for a, b in zip(names, names[1:])]
    return "\n".join(lines + [COMPLETE])


def _first_context_sentence(prompt: str) -> str:
    match = re.search(r"Context information is below\.\s*-+\s*(.+?)\s*-{3,}", prompt, re.S)
    context = match.group(1) if match else prompt
    lines = [ln.strip() for ln in context.splitlines() if ln.strip() and ":" not in ln[:20]]
    return lines[0][:200] if lines else ""


class FakeLLM(CustomLLM):
    """A deterministic text LLM for tests; ``calls`` holds every prompt it was given."""

    model_name: str = "fake-llm"
    _calls: list[str] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> list[str]:
        return self._calls

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=32000, num_output=512, is_chat_model=False, model_name=self.model_name)

    def respond(self, prompt: str) -> str:
        self._calls.append(prompt)
        if "missed or incorrectly formatted" in prompt:
            return COMPLETE
        extraction = _EXTRACTION_INPUT.findall(prompt)
        if extraction:  # the last one is the data; earlier ones are the prompt's worked examples
            return extraction_records(extraction[-1])
        if "high_level_keywords" in prompt and "low_level_keywords" in prompt:
            match = re.search(r"User Query:\s*(.+)", prompt)
            query = match.group(1) if match else prompt
            words = [w for w in re.findall(r"[A-Za-z]{4,}", query) if w.lower() not in {"which", "what", "does", "when", "where"}]
            return json.dumps({"high_level_keywords": [" ".join(words)], "low_level_keywords": words})
        if "detailed_description" in prompt and "entity_info" in prompt:
            return json.dumps(
                {
                    "detailed_description": "FAKE description of the item: " + prompt[-200:].replace("\n", " "),
                    "entity_info": {"entity_name": "Fake Item", "entity_type": "item", "summary": "a fake summary"},
                }
            )
        return f"{ANSWER_PREFIX} {_first_context_sentence(prompt)}"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self.respond(prompt))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self.respond(prompt)

        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=text, delta=text)

        return gen()

    @llm_chat_callback()
    def chat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        prompt = "\n".join(str(m.content or "") for m in messages)
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=self.respond(prompt)))

    @llm_chat_callback()
    async def achat(self, messages: Any, **kwargs: Any) -> ChatResponse:
        return self.chat(messages, **kwargs)
