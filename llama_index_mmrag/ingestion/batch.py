"""A batch of files through the pipeline: the next file is parsed while one is embedded and written, a file
that fails is reported and the rest goes on.

Example:
    >>> from llama_index_mmrag.runtime import engine_loop
    >>> report = engine_loop().run(aingest_files(rag.pipeline, ["milvus_faq.txt", "missing.pdf"]))
    >>> report.unchanged, [f.path.name for f in report.failures]     # stored already; not there
    (['milvus_faq.txt'], ['missing.pdf'])
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.ingestion.report import IngestReport

if TYPE_CHECKING:
    from llama_index_mmrag.ingestion.pipeline import DocumentPipeline, PreparedFile

logger = logging.getLogger(__name__)


def _discard(future: asyncio.Future[Any] | None) -> None:
    """Cancel a prefetch nobody will await (the batch stopped), and consume its outcome if it has one."""
    if future is None:
        return
    if future.done():
        if not future.cancelled():
            future.exception()
    else:
        future.cancel()


async def aingest_files(
    pipeline: DocumentPipeline, paths: str | Path | Iterable[str | Path], show_progress: bool = False
) -> IngestReport:
    """Ingest files and folders; failures are reported at the end, the rest goes on.

    Args:
        pipeline: The stages.
        paths: Files or folders (a folder given twice is read once).
        show_progress: Draw a bar of files, and the bars of each file's stages.

    Returns:
        What was ingested, skipped as unchanged, and which files failed with which reason.

    Raises:
        StoreBusyError: If another process holds the store's write lock for longer than the wait (the batch
            stops: no later file could be written either).
    """
    from tqdm.auto import tqdm

    from llama_index_mmrag.index.lock import StoreBusyError
    from llama_index_mmrag.parsing.inputs import expand_inputs
    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.parsing.inputs import LoadFailure

    started = time.perf_counter()
    report = IngestReport()
    files, skipped = await asyncio.to_thread(expand_inputs, paths)
    report.failures.extend(skipped)
    counts: Counter[str] = Counter()

    def prepare(index: int) -> asyncio.Future[PreparedFile | None] | None:
        if index >= len(files):
            return None
        return asyncio.ensure_future(pipeline.aprepare(Path(files[index]), report, show_progress))

    upcoming = prepare(0)
    with contextlib.ExitStack() as cleanup, tqdm(total=len(files), desc="ingest", unit="file", disable=not show_progress) as bar:
        cleanup.callback(lambda: _discard(upcoming))
        for index, path in enumerate(files):
            bar.set_postfix_str(Path(path).name[:40])
            try:
                try:
                    prepared = await upcoming  # type: ignore[misc]
                finally:
                    # The next file is parsed (in the parser's worker processes) while this one is
                    # embedded and written, so neither the workers nor the main process wait for the other.
                    upcoming = prepare(index + 1)
                added = await pipeline.acommit(prepared, report) if prepared is not None else Counter()
                counts.update(added)
            except ParseError as exc:
                report.failures.append(LoadFailure(Path(path), exc.reason))
            except StoreBusyError:
                raise
            except Exception as exc:  # noqa: BLE001  (reported per file, with the reason; the batch goes on)
                logger.warning("ingesting %s failed; the store is unchanged for it", path, exc_info=True)
                message = " ".join(str(exc).split())[:500] or type(exc).__name__
                report.failures.append(
                    LoadFailure(Path(path), f"ingest failed ({type(exc).__name__}: {message}); the store is unchanged for this file")
                )
            bar.update(1)
    if report.ingested:
        await pipeline.writer.aflush()
    report.nodes = dict(counts)
    report.seconds = time.perf_counter() - started
    return report
