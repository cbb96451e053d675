r"""Milvus string literals: a value written into a filter expression so that it decodes back to itself.

Milvus Lite supports no filter templates, so values are written into the expression string; this module is the
one place that quotes them. It imports nothing beyond the standard library, so commands that only count
(``mmrag stats``) can filter by document without importing LlamaIndex.

Example:
    >>> print(escape_string('a"b'))
    "a\"b"
"""

from __future__ import annotations

from typing import Any

from llama_index_mmrag.errors import InputError

__all__ = ["MAX_STRING_BYTES", "STRING_ESCAPES", "FilterError", "check_string", "escape_string", "show_value"]

MAX_STRING_BYTES = 65_535
"""Longest string value accepted, in UTF-8 bytes (the Milvus VARCHAR cap)."""

STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
"""What :func:`escape_string` escapes inside the quotes (a ``str.translate`` table)."""


class FilterError(InputError, ValueError):
    """A metadata filter that cannot be compiled safely.

    The message names the offending key or value and says what to do instead.

    Example:
        >>> try:
        ...     escape_string("x" * 70_000)
        ... except FilterError as err:
        ...     print(str(err).split(" is ")[1].split(",")[0])
        70
    """


def show_value(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters (with the length of a longer string or list), for messages.

    Args:
        value: Anything.
        limit: Longest ``repr`` shown.

    Example:
        >>> show_value("a" * 100, limit=5)
        "'aaaa... (100 chars)"
    """
    text = repr(value)
    if len(text) > limit:
        size = f" ({len(value):,} chars)" if isinstance(value, (str, list, tuple)) else ""
        return text[:limit] + "..." + size
    return text


def check_string(value: str, *, where: str) -> None:
    """Reject a string no stored value can equal: one with a lone surrogate, or over the VARCHAR cap.

    Args:
        value: The string.
        where: What it is, for the message (``"String value"``, ``"Filter on 'doc'"``).

    Raises:
        FilterError: Naming the value and what to do.
    """
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise FilterError(
            f"{where} {show_value(value)} is not valid Unicode text (it contains a lone surrogate); "
            "decode the input properly before filtering."
        ) from None
    if size > MAX_STRING_BYTES:
        raise FilterError(
            f"{where} {show_value(value)} is {size:,} UTF-8 bytes, over the {MAX_STRING_BYTES:,}-byte "
            "Milvus VARCHAR cap, so no stored value can match it; shorten the value."
        )


def escape_string(value: str) -> str:
    r"""Return ``value`` as a double-quoted Milvus string literal that decodes back to ``value``.

    Backslash, double quote, LF, CR and TAB are escaped (``\\``, ``\"``, ``\n``, ``\r``, ``\t``);
    every other code point is written raw, which both Milvus Lite and the Milvus server parse
    literally.

    Args:
        value: Any string of valid UTF-8 (no lone surrogates), at most 65,535 UTF-8 bytes.

    Returns:
        The quoted literal, e.g. ``"a\"b"`` for ``a"b``.

    Raises:
        TypeError: ``value`` is not a ``str``.
        FilterError: ``value`` is not valid UTF-8 or is longer than 65,535 bytes.

    Example:
        >>> print(escape_string('a"b'))
        "a\"b"
        >>> print(escape_string("back\\slash\nnext line"))
        "back\\slash\nnext line"
    """
    if not isinstance(value, str):
        raise TypeError(f"escape_string expects a str, got {type(value).__name__}: {show_value(value)}")
    check_string(value, where="String value")
    return '"' + value.translate(STRING_ESCAPES) + '"'
