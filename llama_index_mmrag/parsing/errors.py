"""Errors raised while reading documents: each names the file, the reason and what to do."""

from __future__ import annotations

from pathlib import Path

from llama_index_mmrag.errors import InputError


class ParseError(InputError, ValueError):
    """A file could not be parsed.

    Args:
        path: The file that failed.
        reason: Why it failed and what the user can do about it.

    Example:
        >>> str(ParseError("a.pdf", "the file is empty; re-export it"))
        'a.pdf: the file is empty; re-export it'
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")
