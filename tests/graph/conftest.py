"""Fixtures of the graph tests: the modal-processor tests' small document (a figure, a table, an equation) and
their deterministic multimodal LLM, for the modal items' graph fragments."""

from __future__ import annotations

from tests.processors.conftest import blue_png, doc_blocks, fake_vlm

__all__ = ["blue_png", "doc_blocks", "fake_vlm"]
