"""Checks of the arguments that scope and size a retrieval, applied where a user hands them over.

A value of the wrong type or an empty scope must never reach Milvus or LightRAG: an empty modality list used to
mean "no modality filter" (every modality came back), ``doc=1`` failed deep inside the store, and
``top_k=30_000_000`` ran for minutes. Each check either returns the value in its one accepted form or raises
:class:`ScopeArgumentError` naming the argument, what it got and what to pass.

Example:
    >>> check_top_k(5)
    5
    >>> check_modalities("image")
    ['image']
    >>> check_modalities([])
    Traceback (most recent call last):
    ...
    llama_index_mmrag.retrievers.arguments.ScopeArgumentError: modalities=[] selects nothing; pass None for every modality, or name at least one of text, image, table, equation
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from llama_index_mmrag.errors import InputError
from llama_index_mmrag.modalities import MODALITIES

__all__ = [
    "MAX_CANDIDATES",
    "MAX_TOP_K",
    "ScopeArgumentError",
    "check_docs",
    "check_filters",
    "check_modalities",
    "check_page_range",
    "check_top_k",
]

MAX_TOP_K = 1000
"""Most nodes one retrieval may return (the command line's ``--top-k`` bound too)."""
MAX_CANDIDATES = 16384
"""Most candidates one Milvus search may fetch (Milvus's own ``topk`` limit)."""


class ScopeArgumentError(InputError, ValueError):
    """A retrieval argument of the wrong type or value; the message names the argument and what to pass.

    Example:
        >>> try:
        ...     rag.as_retriever(top_k=0)
        ... except ScopeArgumentError as exc:
        ...     print(exc)
        top_k must be from 1 to 1000, got 0
    """


def _shown(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.80}"


def check_top_k(value: Any, name: str = "top_k", limit: int = MAX_TOP_K) -> int:
    """A result count: an ``int`` from 1 to ``limit``.

    Args:
        value: What the caller passed.
        name: The argument's name, for the message.
        limit: The largest count allowed (:data:`MAX_TOP_K`; a Milvus search's candidates: :data:`MAX_CANDIDATES`).

    Raises:
        ScopeArgumentError: For a bool, a float, a string, or a number out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScopeArgumentError(f"{name} must be a whole number from 1 to {limit}, got {_shown(value)}")
    if not 1 <= value <= limit:
        raise ScopeArgumentError(f"{name} must be from 1 to {limit}, got {value}")
    return value


def _names(value: Any, name: str, what: str) -> list[str]:
    """One string, or a non-empty sequence of non-empty strings, as a list."""
    items = [value] if isinstance(value, (str, Path)) else value
    if not isinstance(items, Sequence) or isinstance(items, (bytes, bytearray)):
        raise ScopeArgumentError(f"{name} must be {what} or a list of them, got {_shown(value)}")
    names = [str(item) if isinstance(item, Path) else item for item in items]
    bad = [item for item in names if not isinstance(item, str) or not item.strip()]
    if bad or not names:
        shown = f"{name} holds {_shown(bad[0])}" if bad else f"{name}={list(items)!r:.80}"
        raise ScopeArgumentError(f"{shown}: that selects nothing; pass None for no restriction, or {what}")
    return names


def check_modalities(value: Any) -> list[str] | None:
    """``None`` (every modality), or a non-empty list of known modality names.

    Args:
        value: One modality name or a sequence of them.

    Raises:
        ScopeArgumentError: For an empty sequence, a non-string, or an unknown name.
    """
    if value is None:
        return None
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) and len(value) == 0:
        raise ScopeArgumentError(
            f"modalities={list(value)!r} selects nothing; pass None for every modality, or name at least one of "
            f"{', '.join(MODALITIES)}"
        )
    names = _names(value, "modalities", f"a modality name ({', '.join(MODALITIES)})")
    unknown = [m for m in names if m not in MODALITIES]
    if unknown:
        raise ScopeArgumentError(f"unknown modality {unknown[0]!r}; choose from {', '.join(MODALITIES)}")
    return names


def check_docs(value: Any) -> str | list[str] | None:
    """``None`` (every document), one document name, or a non-empty list of names.

    Args:
        value: A name (``str`` or ``Path``) or a sequence of names.

    Raises:
        ScopeArgumentError: For an empty sequence, an empty name or a non-string.
    """
    if value is None:
        return None
    names = _names(value, "doc", "a document's file name")
    return names[0] if isinstance(value, (str, Path)) else names


def check_page_range(value: Any) -> tuple[int, int] | None:
    """``None``, or ``(first, last)``: two whole numbers, 0-based, ``0 <= first <= last``.

    Args:
        value: The page range the caller passed.

    Raises:
        ScopeArgumentError: For anything else, naming what was given.
    """
    if value is None:
        return None
    usage = "page_range must be (first, last), two 0-based page indexes with 0 <= first <= last"
    if not isinstance(value, Sequence) or isinstance(value, (str, bytes)) or len(value) != 2:
        raise ScopeArgumentError(f"{usage}, got {_shown(value)}")
    first, last = value
    if any(isinstance(v, bool) or not isinstance(v, int) for v in (first, last)):
        raise ScopeArgumentError(f"{usage}, got {tuple(value)!r:.80}")
    if first < 0 or first > last:
        raise ScopeArgumentError(f"{usage}, got ({first}, {last})")
    return (first, last)


def check_filters(value: Any) -> Any:
    """``None``, or a LlamaIndex ``MetadataFilters``.

    Args:
        value: The filters the caller passed.

    Raises:
        ScopeArgumentError: For anything else (a dict, a single ``MetadataFilter``, ...), with the way to write it.
    """
    if value is None:
        return None
    from llama_index.core.vector_stores.types import MetadataFilters

    if not isinstance(value, MetadataFilters):
        raise ScopeArgumentError(
            f"filters must be a llama_index MetadataFilters, got {_shown(value)}; e.g. "
            'MetadataFilters(filters=[MetadataFilter(key="page", value=3, operator=FilterOperator.GTE)])'
        )
    return value
