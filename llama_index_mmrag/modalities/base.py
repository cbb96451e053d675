"""What a modality is: everything the package needs to know about one kind of content, in one record.

Example:
    >>> audio = Modality(name="audio", label="recording", entity_type="RECORDING", intent=r"\\b(recordings?|audio)\\b")
    >>> audio.is_modal, audio.named_in("What does the recording say?")
    (True, True)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal


@dataclass(frozen=True)
class Modality:
    """One modality: its node type, graph entity type, question words, file suffixes and description hookups.

    Args:
        name: The ``modality`` metadata value, the content-list ``type`` and the CLI's ``--modality`` choice.
        label: The word for one item in graph names and offline descriptions (``"figure"``).
        entity_type: The graph entity type of an item (``"FIGURE"``); ``None`` for plain text, which has no
            item entity.
        caption_labels: Words a caption of this modality starts with (``"fig"``), so a graph name is not
            prefixed twice.
        intent: A case-insensitive regular expression that matches a question naming this modality (its
            nodes are lifted at query time); ``None``: never targeted.
        suffixes: File suffixes whose whole file is one item of this modality (images: ``.png`` ...).
        node: ``"image"``: its nodes are ``ImageNode`` with an ``image_path``; ``"text"``: ``TextNode``.
        body_key: The content-list and metadata key of its structured body (``"table_body"``, ``"latex"``).
        processor: The RAG-Anything modal processor class (in ``raganything.modalprocessors``) that describes
            an item with a model; ``None``: described offline only.
        vision: Whether that processor needs a vision model (it gets the image).
        describe_offline: ``(block, context) -> str``, the offline description of an item; ``None``: the
            generic one (caption, text and the neighbouring text).

    Example:
        >>> audio = Modality(name="audio", label="recording", entity_type="RECORDING",
        ...                  intent=r"\b(recordings?|audio)\b", suffixes=frozenset({".wav"}))
        >>> audio.is_modal, audio.node
        (True, 'text')
        >>> Modality(name="Audio", label="recording")
        Traceback (most recent call last):
        ValueError: modality name 'Audio': use a lower-case identifier such as 'audio'
    """

    name: str
    label: str
    entity_type: str | None = None
    caption_labels: tuple[str, ...] = ()
    intent: str | None = None
    suffixes: frozenset[str] = frozenset()
    node: Literal["text", "image"] = "text"
    body_key: str | None = None
    processor: str | None = None
    vision: bool = False
    describe_offline: Callable[[Any, str], str] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"modality name {self.name!r}: use a lower-case identifier such as 'audio'")
        if any(not s.startswith(".") or s != s.lower() for s in self.suffixes):
            raise ValueError(f"modality {self.name!r}: suffixes must be lower-case and start with '.', got {sorted(self.suffixes)}")

    @property
    def is_modal(self) -> bool:
        """Whether items of this modality are described and get an item entity (everything but text)."""
        return self.entity_type is not None

    @cached_property
    def _intent(self) -> re.Pattern[str] | None:
        return re.compile(self.intent, re.IGNORECASE) if self.intent else None

    def named_in(self, question: str) -> bool:
        """Whether a question names this modality (see ``intent``).

        Args:
            question: The user's question.
        """
        return self._intent is not None and self._intent.search(question or "") is not None
