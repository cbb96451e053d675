"""IngestReport: what an ingest did, file by file.

Example:
    >>> report = IngestReport(ingested=["faq.txt"], nodes={"text": 3}, seconds=1.25)
    >>> report.ok, report.summary()
    (True, 'ingested 1 document(s) (3 text), 0 unchanged, 0 failed, in 1.2 s')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_index_mmrag.parsing.inputs import LoadFailure


@dataclass
class IngestReport:
    """What an ingest did.

    Args:
        ingested: Documents added or replaced.
        unchanged: Documents skipped because their content hash is already stored.
        failures: Files that could not be ingested, each with its reason.
        nodes: Nodes added, per modality.
        seconds: Wall time of the ingest.

    Example:
        >>> report = rag.ingest(["milvus_faq.txt", "missing.pdf"], show_progress=False)
        >>> report.ok, report.unchanged
        (False, ['milvus_faq.txt'])
        >>> [(f.path.name, f.reason) for f in report.failures]
        [('missing.pdf', 'no such file; check the path')]
    """

    ingested: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failures

    def summary(self) -> str:
        """One line for humans."""
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.nodes.items())) or "no nodes"
        return (
            f"ingested {len(self.ingested)} document(s) ({counts}), {len(self.unchanged)} unchanged, "
            f"{len(self.failures)} failed, in {self.seconds:.1f} s"
        )
