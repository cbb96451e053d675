"""What each call a fake text LLM received was for, read from its prompt (for the ingestion call counts).

Example:
    >>> text_call_kind("Table Information: ... Return detailed_description and entity_info")
    'describe table'
    >>> text_call_kind("<Input Text>\\n```\\n[report.pdf, page 1, text]\\nSales rose.\\n```\\n<Output>")
    'extract text'
"""

from __future__ import annotations

import re

_CHUNK_LINE = re.compile(r"\[[^\[\]\n]+, page \d+, (text|image|table|equation)\]")


def text_call_kind(prompt: str) -> str:
    """``describe table`` / ``describe equation`` (RAG-Anything's description prompt), ``extract <modality>`` /
    ``glean <modality>`` (LightRAG's entity extraction and its gleaning pass, with the modality of the chunk they
    read, from its provenance line ``[report.pdf, page 1, table]``), ``keywords`` or ``other``.

    Args:
        prompt: Everything the LLM was given (system prompt, history and user prompt joined).
    """
    if "detailed_description" in prompt and "entity_info" in prompt:
        return "describe " + ("table" if "Table Information:" in prompt else "equation")
    if "high_level_keywords" in prompt and "low_level_keywords" in prompt:
        return "keywords"
    step = "glean" if "missed or incorrectly formatted" in prompt else "extract" if "<Input Text>" in prompt else ""
    if not step:
        return "other"
    chunks = _CHUNK_LINE.findall(prompt)
    return f"{step} {chunks[-1] if chunks else 'text'}"
