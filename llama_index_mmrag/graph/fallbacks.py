"""When the model fails LightRAG's extraction of a document's text: which failure it was, what LightRAG left of
the attempt, and which documents' graphs were built without the model.

* **Which failure.** :func:`recording_model_failures` wraps LightRAG's LLM function (the one its extraction
  calls, LightRAG's own concurrency limit and timeout included); inside :func:`recorded_model_failures`, every
  exception the model raised (after its own retries) is kept. LightRAG records a failed document as a doc-status
  message only; :func:`model_failure_behind` tells whether that message is one of those exceptions (a model
  failure, which falls back) or something else (a bug, a full disk: still an error).
* **Calls still running.** LightRAG cancels a failed document's other extraction calls, but its workers finish
  the model calls they started (retries included) and log their errors: :class:`ModelCallsInFlight` counts them,
  so the fallback waits for them, and holds back their error records (:func:`held_lightrag_errors`).
* **What LightRAG left.** Before it extracts, LightRAG stores the document (``full_docs``), its chunks
  (``text_chunks``, ``chunks_vdb``) and a doc status listing them; a failure while merging also leaves the
  entities and relations merged so far, which its doc status does not list yet. :func:`adiscard_attempt` removes
  all of it.
* **Which documents.** :func:`graph_fallbacks` collects, for the code it wraps (an ingest's write of one file),
  the documents whose text graph was built without the model and why (:func:`record_graph_fallback`).

Example:
    >>> import asyncio
    >>> async def down(prompt: str, **kwargs: object) -> str:
    ...     raise ConnectionError("HTTP 500 after 3 retries")
    >>> async def extract() -> list[Exception]:
    ...     with recorded_model_failures() as failures:
    ...         try:
    ...             await recording_model_failures(down)("Extract entities from ...")
    ...         except ConnectionError:
    ...             pass
    ...     return failures
    >>> failures = asyncio.run(extract())
    >>> failures
    [ConnectionError('HTTP 500 after 3 retries')]
    >>> model_failure_behind("C[1/2]: chunk-9f: HTTP 500 after 3 retries", failures)
    ConnectionError('HTTP 500 after 3 retries')
    >>> model_failure_behind("No space left on device", failures) is None
    True
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightrag import LightRAG

logger = logging.getLogger(__name__)

_failures: ContextVar[list[Exception] | None] = ContextVar("mmrag_graph_model_failures", default=None)
_fallbacks: ContextVar[dict[str, str] | None] = ContextVar("mmrag_graph_fallbacks", default=None)


def recording_model_failures(func: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """Wrap an LLM function so that what it raises is kept by the enclosing :func:`recorded_model_failures`.

    A plain function (LightRAG copies its configuration with ``dataclasses.asdict``, which keeps a function as it
    is). A cancelled call is not a failure: LightRAG cancels a document's other calls once one has failed.

    Args:
        func: LightRAG's LLM function.
    """

    async def llm_model_func(*args: Any, **kwargs: Any) -> str:
        try:
            return await func(*args, **kwargs)
        except Exception as exc:
            failures = _failures.get()
            if failures is not None:
                failures.append(exc)
            raise

    return llm_model_func


@contextmanager
def recorded_model_failures() -> Iterator[list[Exception]]:
    """Keep the exceptions the model raises in this block and the tasks it starts (LightRAG's extraction workers).

    Yields:
        The list they are appended to, first failure first.
    """
    failures: list[Exception] = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)


class ModelCallsInFlight:
    """The model calls LightRAG's workers are running (they finish even when LightRAG cancels their callers).

    Example:
        >>> async def model(prompt: str, **kwargs: object) -> str:
        ...     await asyncio.sleep(0.05)
        ...     return "ok"
        >>> async def run() -> tuple[int, int]:
        ...     calls = ModelCallsInFlight()
        ...     task = asyncio.ensure_future(calls.tracking(model)("Extract entities from ..."))
        ...     await asyncio.sleep(0.01)
        ...     running = calls.count
        ...     task.cancel()            # the caller gives up; in LightRAG the worker's call goes on
        ...     await calls.await_idle()
        ...     return running, calls.count
        >>> asyncio.run(run())
        (1, 0)
    """

    def __init__(self) -> None:
        self.count = 0

    def tracking(self, func: Callable[..., Awaitable[str]]) -> Callable[..., Awaitable[str]]:
        """Wrap the LLM function LightRAG's workers call so that its running calls are counted.

        Args:
            func: The LLM function given to LightRAG.
        """

        async def llm_model_func(*args: Any, **kwargs: Any) -> str:
            self.count += 1
            try:
                return await func(*args, **kwargs)
            finally:
                self.count -= 1

        return llm_model_func

    async def await_idle(self, poll_s: float = 0.05) -> None:
        """Return once no call is running.

        Args:
            poll_s: Seconds between looks.
        """
        while self.count:
            await asyncio.sleep(poll_s)


class _HeldErrors(logging.Filter):
    """Holds back the error records of the logger it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        self.records.append(record)
        return False


@contextmanager
def held_lightrag_errors() -> Iterator[list[logging.LogRecord]]:
    """Hold back LightRAG's error records in this block (its traceback and ``Failed to extract document``): a
    model failure that falls back is reported by one warning instead. They are logged after all when the block
    raises, or when the caller passes them to :func:`release_records` (a failure that is not the model's).

    Yields:
        The records held.
    """
    held = _HeldErrors()
    lightrag_logger = logging.getLogger("lightrag")
    lightrag_logger.addFilter(held)
    try:
        yield held.records
    except BaseException:
        lightrag_logger.removeFilter(held)
        release_records(held.records)
        raise
    finally:
        lightrag_logger.removeFilter(held)


def release_records(records: Iterable[logging.LogRecord]) -> None:
    """Log records held by :func:`held_lightrag_errors` after all.

    Args:
        records: The records.
    """
    lightrag_logger = logging.getLogger("lightrag")
    for record in records:
        lightrag_logger.callHandlers(record)  # the logger's filters passed them already


def model_failure_behind(error: str, failures: Sequence[Exception]) -> Exception | None:
    """The model failure that an error LightRAG reported is (LightRAG prefixes the chunk and the progress), if any.

    Args:
        error: LightRAG's message (a failed doc status's ``error_msg``, or what ``ainsert`` raised).
        failures: The model's failures recorded meanwhile.
    """
    return next((f for f in failures if (str(f) or type(f).__name__) in error), None)


@contextmanager
def graph_fallbacks() -> Iterator[dict[str, str]]:
    """Collect the documents whose text graph was built without the model in this block, with the reason.

    Yields:
        ``{file name: the model's failure}``, filled by :func:`record_graph_fallback`.

    Example:
        >>> with graph_fallbacks() as fallbacks:
        ...     record_graph_fallback("faq.txt", "HTTP 500 after 3 retries")
        >>> fallbacks
        {'faq.txt': 'HTTP 500 after 3 retries'}
    """
    fallbacks: dict[str, str] = {}
    token = _fallbacks.set(fallbacks)
    try:
        yield fallbacks
    finally:
        _fallbacks.reset(token)


def record_graph_fallback(doc: str, reason: str) -> None:
    """Note that ``doc``'s text graph was built without the model (nothing is kept outside :func:`graph_fallbacks`).

    Args:
        doc: The document's file name.
        reason: The model's failure.
    """
    fallbacks = _fallbacks.get()
    if fallbacks is not None:
        fallbacks[doc] = reason


async def _sourced_from(rag: LightRAG, chunk_ids: set[str]) -> dict[str, Any]:
    """The graph's entities and relations that name one of ``chunk_ids`` as a source, as a kg ``adelete_kg`` takes."""
    from llama_index_mmrag.graph.file_counts import split_sources  # (imports networkx: not when an ingest starts)

    graph = rag.chunk_entity_relation_graph
    entities = [
        {"entity_name": str(n["id"]), "description": "", "file_path": ""}
        for n in await graph.get_all_nodes()
        if not chunk_ids.isdisjoint(split_sources(n.get("source_id")))
    ]
    pairs = {
        tuple(sorted((str(e["source"]), str(e["target"]))))
        for e in await graph.get_all_edges()
        if not chunk_ids.isdisjoint(split_sources(e.get("source_id")))
    }
    relationships = [
        {"src_id": a, "tgt_id": b, "description": "", "file_path": "", "source_id": "", "weight": 0.0}
        for a, b in sorted(pairs)
    ]
    return {"chunks": [{"source_id": i} for i in sorted(chunk_ids)], "entities": entities, "relationships": relationships}


async def adiscard_attempt(rag: LightRAG, doc_id: str, chunk_ids: Iterable[str]) -> str | None:
    """Remove what LightRAG kept of a document whose extraction failed: its doc status, stored text, chunks, and
    any entity or relation a failure while merging left sourced from its chunks.

    Args:
        rag: The LightRAG instance.
        doc_id: LightRAG's id of the document.
        chunk_ids: Its chunks' ids (our node ids).

    Returns:
        ``None`` when all of it is gone, else why LightRAG could not delete the document.
    """
    from llama_index_mmrag.graph.kg_loader import adelete_kg

    result = await rag.adelete_by_doc_id(doc_id)
    if result.status not in ("success", "not_found"):
        return str(result.message)
    leftovers = await _sourced_from(rag, set(chunk_ids))
    if leftovers["entities"] or leftovers["relationships"]:
        await adelete_kg(rag, leftovers)
    return None
