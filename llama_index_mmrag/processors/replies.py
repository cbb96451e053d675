"""A model's description reply: RAG-Anything's JSON, checked, and the item's fallback when it is not usable.

RAG-Anything's modal prompts ask for ``{"detailed_description": ..., "entity_info": {"entity_name", "entity_type",
"summary"}}``. Its own parser accepts much (JSON in a code fence or in prose, smart quotes, trailing commas, LaTeX
backslashes, and at last fields found by a regex) and, when nothing usable is found, keeps the raw reply as the
description and names the entity ``<type>_<hash of the reply>``; when the regex finds a description but no name,
the entity is called ``unknown_entity``. Neither is an entity of the item. :func:`parse_description_reply` applies
RAG-Anything's own parser with the stricter check, and :func:`reply_fallback` gives the item its deterministic
offline entity (named from its caption, columns, OCR text or LaTeX, and its document) with the best description
the reply holds: its ``detailed_description``, else its prose, else the offline description.

Example:
    >>> entity = '{"entity_name": "Recall table", "entity_type": "table", "summary": "Recall"}'
    >>> parse_description_reply('{"detailed_description": "Recall per index.", "entity_info": ' + entity + '}')
    ('Recall per index.', {'entity_name': 'Recall table', 'entity_type': 'table', 'summary': 'Recall'})
    >>> try:
    ...     parse_description_reply("The table lists the recall of each index.")
    ... except DescriptionReplyError as exc:
    ...     print(exc)
    the reply is not RAG-Anything's JSON: no detailed_description
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar
from functools import cache
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.errors import ModelError
from llama_index_mmrag.processors.offline import describe_offline, offline_entity_info

if TYPE_CHECKING:
    from llama_index_mmrag.processors.items import ModalItem

ENTITY_KEYS = ("entity_name", "entity_type", "summary")
"""The keys of RAG-Anything's ``entity_info``."""
_NO_NAME = {"", "unknown_entity"}  # RAG-Anything's regex fallback names a missing entity "unknown_entity"
# The placeholder of RAG-Anything's prompt template: a reply that repeats the template names no item (and would
# merge every such item of every document into one entity)
_PLACEHOLDER = re.compile(r"(unique )?descriptive name for this \w+", re.IGNORECASE)
_THINKING = re.compile(r"<think(?:ing)?>.*?</think(?:ing)?>", re.DOTALL | re.IGNORECASE)


class DescriptionReplyError(ModelError, ValueError):
    """A model's description reply is not RAG-Anything's JSON, or lacks the item's entity.

    Example:
        >>> try:
        ...     parse_description_reply('{"detailed_description": "A bar chart."}')
        ... except DescriptionReplyError as exc:
        ...     print(exc)
        the reply is not RAG-Anything's JSON: no entity_info with entity_name, entity_type and summary
    """


_PARSING: ContextVar[bool] = ContextVar("mmrag_reply_parsing", default=False)


class _QuietWhileParsing(logging.Filter):
    """Drops RAG-Anything's records while this module re-reads a reply (it logged them once already)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _PARSING.get()


@cache
def _parser() -> Any:
    """RAG-Anything's reply parser, without a LightRAG instance (its parsing methods use nothing else)."""
    from raganything.modalprocessors import BaseModalProcessor
    from raganything.modalprocessors import logger as rag_anything_logger

    class _ReplyParser(BaseModalProcessor):  # type: ignore[misc]
        def __init__(self) -> None:  # the parsing methods need none of the processor's storages
            pass

    rag_anything_logger.addFilter(_QuietWhileParsing())
    return _ReplyParser()


def _parse(reply: str) -> dict[str, Any]:
    """RAG-Anything's reading of a reply (``{}`` for an empty one), thinking tags removed."""
    text = _THINKING.sub("", reply or "").strip()
    if not text:
        return {}
    parser = _parser()
    token = _PARSING.set(True)
    try:
        data = parser._robust_json_parse(text)
    finally:
        _PARSING.reset(token)
    return data if isinstance(data, dict) else {}


def parse_description_reply(reply: str) -> tuple[str, dict[str, str]]:
    """The description and entity of a model's reply to a RAG-Anything modal prompt.

    The reply is read by RAG-Anything's own parser (so whatever it accepts, a code fence, prose around the JSON,
    LaTeX backslashes, is accepted here too); it must hold a non-empty ``detailed_description`` and an
    ``entity_info`` with ``entity_name`` (a real name), ``entity_type`` and ``summary``.

    Args:
        reply: The model's answer text.

    Returns:
        ``(detailed_description, {"entity_name", "entity_type", "summary"})`` as the model wrote them.

    Raises:
        DescriptionReplyError: When the reply is not that JSON (prose, cut off, empty) or lacks the entity.
    """
    data = _parse(reply)
    description = str(data.get("detailed_description") or "").strip()
    if not description:
        raise DescriptionReplyError("the reply is not RAG-Anything's JSON: no detailed_description")
    entity = data.get("entity_info")
    if not isinstance(entity, dict) or not all(key in entity for key in ENTITY_KEYS) or not _named(entity):
        raise DescriptionReplyError(
            "the reply is not RAG-Anything's JSON: no entity_info with entity_name, entity_type and summary"
        )
    if _echoed(entity):
        raise DescriptionReplyError("the reply repeats RAG-Anything's prompt template instead of describing the item")
    return description, {key: str(entity[key]) for key in ENTITY_KEYS}


def _named(entity: dict[str, Any]) -> bool:
    return str(entity.get("entity_name") or "").strip() not in _NO_NAME


def _echoed(entity: Any) -> bool:
    return isinstance(entity, dict) and bool(_PLACEHOLDER.fullmatch(str(entity.get("entity_name") or "").strip()))


def reply_fallback(item: ModalItem, reply: str) -> tuple[str, dict[str, str]]:
    """What an item gets from a reply that :func:`parse_description_reply` refuses: never a lost item.

    The entity is the item's offline one (:func:`~llama_index_mmrag.processors.offline.offline_entity_info`:
    named from its caption, columns, OCR text or LaTeX, and its document). The description is the reply's
    ``detailed_description`` when it has one, else the reply itself when it is prose (the model did describe the
    item), else (empty, JSON cut off or without a description, or the prompt's template repeated) the offline
    description.

    Args:
        item: The item the reply describes.
        reply: The model's answer text.

    Returns:
        ``(description, entity_info)``.

    Example:
        >>> from llama_index_mmrag.processors.items import items_from_blocks
        >>> from llama_index_mmrag.schema import ContentBlock
        >>> table = ContentBlock(modality="table", doc="bench.pdf", doc_id="h", parser="mmrag", page=2,
        ...                      table_body="| Index | Recall |\\n|---|---|\\n| HNSW | 0.98 |",
        ...                      captions=["Table 1: Recall"])
        >>> [item] = items_from_blocks([table])
        >>> description, entity = reply_fallback(item, "HNSW has the best recall.")
        >>> description, entity["entity_name"]
        ('HNSW has the best recall.', 'Table 1: Recall in bench.pdf (table)')
        >>> reply_fallback(item, '{"detailed_description": "HNSW')[0].splitlines()[0]      # cut off: offline
        'Table: Table 1: Recall'
    """
    text = _THINKING.sub("", reply or "").strip()
    data = _parse(text)
    echoed = _echoed(data.get("entity_info"))  # the template's placeholders describe nothing
    description = "" if echoed else str(data.get("detailed_description") or "").strip()
    if not description and text and not echoed and not text.startswith(("{", "[", "```")):
        description = text
    if not description:
        description = describe_offline(item.block, item.neighbour_text)
    return description, offline_entity_info(item.block)
