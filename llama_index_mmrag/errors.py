"""The root of every error the package raises, and its three families.

Each error class lives beside the code that raises it (the code that knows the file, the name or the model
it failed on writes the message) and subclasses one family here, plus the builtin it has always been, so an
``except ValueError`` written against an older version keeps catching it:

- :class:`InputError`: something the caller passed is wrong (a file, a document name, an argument, a
  question, a filter); the message says what to pass instead.
- :class:`StoreError`: the store on disk, its lock, its Milvus server or its graph failed.
- :class:`ModelError`: a model or a model service failed, or none is configured for a path that needs one.

Every public error is importable from the package itself.

Example:
    >>> from llama_index_mmrag import InputError, MMRAGError, ParseError
    >>> try:
    ...     raise ParseError("a.pdf", "the file is empty (0 bytes); export it again")
    ... except MMRAGError as exc:
    ...     print(type(exc).__name__, isinstance(exc, InputError), isinstance(exc, ValueError), "|", exc)
    ParseError True True | a.pdf: the file is empty (0 bytes); export it again
"""

from __future__ import annotations

__all__ = ["InputError", "MMRAGError", "ModelError", "StoreError"]


class MMRAGError(Exception):
    """The base of every error raised by llama-index-mmrag: ``except MMRAGError`` catches them all.

    Example:
        >>> from llama_index_mmrag import MMRAGError, UnknownDocumentError
        >>> issubclass(UnknownDocumentError, MMRAGError), issubclass(UnknownDocumentError, LookupError)
        (True, True)
    """


class InputError(MMRAGError):
    """Something the caller passed is wrong: a file, a document name, an argument, a question or a filter.

    Example:
        >>> from llama_index_mmrag import EmptyQuestionError, InputError, ScopeArgumentError
        >>> issubclass(EmptyQuestionError, InputError), issubclass(ScopeArgumentError, ValueError)
        (True, True)
    """


class StoreError(MMRAGError):
    """The store failed: its lock, its files, its Milvus server or its knowledge graph.

    Example:
        >>> from llama_index_mmrag import StoreBusyError, StoreError
        >>> issubclass(StoreBusyError, StoreError), issubclass(StoreBusyError, RuntimeError)
        (True, True)
    """


class ModelError(MMRAGError):
    """A model or model service failed, or a path that needs an LLM ran with none configured.

    Example:
        >>> from llama_index_mmrag import DashScopeError, ModelError
        >>> issubclass(DashScopeError, ModelError), issubclass(DashScopeError, RuntimeError)
        (True, True)
    """
