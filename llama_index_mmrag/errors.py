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
        >>> from llama_index_mmrag.modalities import MODALITIES
        >>> try:
        ...     MODALITIES.get("video")
        ... except MMRAGError as exc:                     # any error of the package
        ...     print(type(exc).__name__, "|", exc)
        UnknownModalityError | unknown modality 'video'...
    """


class InputError(MMRAGError):
    """Something the caller passed is wrong: a file, a document name, an argument, a question or a filter.

    Example:
        >>> from llama_index_mmrag.parsing.select import choose_parser
        >>> try:
        ...     choose_parser("notes.xyz")
        ... except InputError as exc:                     # a file, name, argument, question or filter
        ...     print(type(exc).__name__, "|", exc)
        ParseError | notes.xyz: unsupported file type .xyz; supported: .aac, .avi, .bmp, .csv, .docx, ...
    """


class StoreError(MMRAGError):
    """The store failed: its lock, its files, its Milvus server or its knowledge graph.

    Example:
        >>> import asyncio
        >>> from pathlib import Path
        >>> from llama_index_mmrag.index.lock import StoreLock
        >>> writer = StoreLock(Path("write.lock"))      # another writer holds the store
        >>> writer.try_acquire()
        True
        >>> try:
        ...     asyncio.run(StoreLock(Path("write.lock")).acquire(timeout=0.1))
        ... except StoreError as exc:
        ...     print(type(exc).__name__, isinstance(exc, RuntimeError))
        StoreBusyError True
        >>> writer.release()
    """


class ModelError(MMRAGError):
    """A model or model service failed, or a path that needs an LLM ran with none configured.

    Example:
        >>> import asyncio
        >>> from llama_index_mmrag.models.adapters import no_llm_func
        >>> try:
        ...     asyncio.run(no_llm_func("Summarise this"))     # what LightRAG gets as its LLM offline
        ... except ModelError as exc:
        ...     print(type(exc).__name__, "|", str(exc).split(".")[0])
        NoLLMConfiguredError | No LLM is configured, and this step needs one
    """
