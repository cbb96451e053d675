"""IngestReport: what an ingest did, file by file.

Example:
    >>> report = IngestReport(ingested=["faq.txt"], nodes={"text": 3}, seconds=1.25)
    >>> report.ok, report.summary()
    (True, 'ingested 1 document(s) (3 text), 0 unchanged, 0 failed, in 1.2 s')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llama_index_mmrag.models.usage import ModelUsage

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
        usage: Model calls and tokens per document (:class:`~llama_index_mmrag.models.usage.ModelUsage`): its
            descriptions and, on the LLM path, its graph extraction. Every file that reached the write stage is
            listed, one that failed there too (what it cost); offline, every count is 0.

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
    usage: dict[str, ModelUsage] = field(default_factory=dict)

    @property
    def total_usage(self) -> ModelUsage:
        """Model calls and tokens of the whole ingest.

        Example:
            >>> report = IngestReport(usage={"a.pdf": ModelUsage(llm_calls=2, prompt_tokens=50, completion_tokens=9),
            ...                              "b.png": ModelUsage(vlm_calls=1, prompt_tokens=120, completion_tokens=30)})
            >>> report.total_usage.summary()
            '2 LLM + 1 VLM calls, 209 tokens (170 prompt, 39 completion)'
        """
        total = ModelUsage()
        for usage in self.usage.values():
            total.add(usage)
        return total

    @property
    def ok(self) -> bool:
        """True when no file failed."""
        return not self.failures

    def summary(self) -> str:
        """One line for humans."""
        counts = ", ".join(f"{n} {m}" for m, n in sorted(self.nodes.items())) or "no nodes"
        line = (
            f"ingested {len(self.ingested)} document(s) ({counts}), {len(self.unchanged)} unchanged, "
            f"{len(self.failures)} failed, in {self.seconds:.1f} s"
        )
        total = self.total_usage
        return f"{line}; models: {total.summary()}" if total.calls else line

    def usage_lines(self) -> list[str]:
        """One line per document that called a model: its LLM and VLM calls and tokens.

        Example:
            >>> IngestReport(usage={"a.pdf": ModelUsage(llm_calls=2, prompt_tokens=50, completion_tokens=9)}).usage_lines()
            ['a.pdf: 2 LLM + 0 VLM calls, 59 tokens (50 prompt, 9 completion)']
        """
        return [f"{doc}: {usage.summary()}" for doc, usage in sorted(self.usage.items()) if usage.calls]
