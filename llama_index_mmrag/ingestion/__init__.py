"""The one ingestion pipeline: check -> parse -> describe -> nodes -> fit -> embed -> write.

==================  ==========================================================================================
``pipeline.py``     :class:`DocumentPipeline`: the stages; ``aprepare`` (check, parse, describe, nodes, fit)
                    and ``acommit`` (embed, write all or nothing through :mod:`llama_index_mmrag.index`)
``batch.py``        :func:`aingest_files`: a batch, one file ahead, a bad file reported and the rest ingested
``describe.py``     the describe stage, through the same call as the modal transforms of an ``IngestionPipeline``
``embed.py``        the embed stage, batch by batch, with the pages embedded on the progress bar
``report.py``       :class:`IngestReport`
==================  ==========================================================================================

Used by ``MultimodalRAG.ingest`` / ``aingest`` and by the benchmarks.

Example:
    >>> from llama_index_mmrag.ingestion import IngestReport
    >>> IngestReport().summary()
    'ingested 0 document(s) (no nodes), 0 unchanged, 0 failed, in 0.0 s'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.ingestion.batch import aingest_files
    from llama_index_mmrag.ingestion.describe import adescribe_blocks
    from llama_index_mmrag.ingestion.embed import embed_nodes
    from llama_index_mmrag.ingestion.pipeline import DocumentPipeline, DocumentWriter, PreparedFile
    from llama_index_mmrag.ingestion.report import IngestReport

_EXPORTS = {
    "DocumentPipeline": "llama_index_mmrag.ingestion.pipeline",
    "DocumentWriter": "llama_index_mmrag.ingestion.pipeline",
    "IngestReport": "llama_index_mmrag.ingestion.report",
    "PreparedFile": "llama_index_mmrag.ingestion.pipeline",
    "adescribe_blocks": "llama_index_mmrag.ingestion.describe",
    "aingest_files": "llama_index_mmrag.ingestion.batch",
    "embed_nodes": "llama_index_mmrag.ingestion.embed",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
__all__ = sorted(_EXPORTS)
