"""IngestReport: what an ingest did, file by file.

Example:
    >>> report = IngestReport(ingested=["faq.txt"], nodes={"text": 3}, seconds=1.25)
    >>> report.ok, report.summary()
    (True, 'ingested 1 document(s) (3 text), 0 unchanged, 0 failed, in 1.2 s')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_index_mmrag.models.usage import ModelUsage

if TYPE_CHECKING:
    from llama_index_mmrag.manifest import DocRecord
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
        records: The manifest record of each document ingested (its nodes per modality, its pages).
        graph_fallbacks: Documents whose text graph was built without the model, because the model failed
            LightRAG's extraction after its retries (LLM path only), each with the model's failure.

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
    records: dict[str, DocRecord] = field(default_factory=dict)
    graph_fallbacks: dict[str, str] = field(default_factory=dict)

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
        if self.graph_fallbacks:
            line += f"; {len(self.graph_fallbacks)} graph(s) built without the model"
        total = self.total_usage
        return f"{line}; models: {total.summary()}" if total.calls else line

    def usage_lines(self) -> list[str]:
        """One line per document that called a model: its LLM and VLM calls and tokens.

        Example:
            >>> IngestReport(usage={"a.pdf": ModelUsage(llm_calls=2, prompt_tokens=50, completion_tokens=9)}).usage_lines()
            ['a.pdf: 2 LLM + 0 VLM calls, 59 tokens (50 prompt, 9 completion)']
        """
        return [f"{doc}: {usage.summary()}" for doc, usage in sorted(self.usage.items()) if usage.calls]

    def fallback_lines(self) -> list[str]:
        """One line per document whose text graph was built without the model, with the model's failure.

        Example:
            >>> IngestReport(graph_fallbacks={"faq.txt": "HTTP 500 after 3 retries"}).fallback_lines()
            ['faq.txt: graph of its text built without the model (HTTP 500 after 3 retries)']
        """
        return [f"{doc}: graph of its text built without the model ({why})" for doc, why in sorted(self.graph_fallbacks.items())]

    def as_dict(self, warnings: Iterable[str] = ()) -> dict[str, Any]:
        """The report as one JSON-ready dict: each document (``ingested``, ``unchanged`` or ``failed``) and the totals.

        A document has its ``doc`` (file name), ``status`` and ``usage`` (LLM/VLM calls and tokens); an ingested one
        its ``nodes``, ``modalities`` (nodes per modality), ``pages`` and ``graph_fallback`` (the model's failure
        when its text graph was built without the model, else ``None``); a failed one its ``path`` and ``error``.
        Each also lists the ``warnings`` that name it.

        Args:
            warnings: The warnings logged during the ingest (``mmrag ingest --json`` collects them).

        Example:
            >>> report = IngestReport(ingested=["faq.txt"], nodes={"text": 3}, graph_fallbacks={"faq.txt": "HTTP 500"},
            ...                       usage={"faq.txt": ModelUsage(llm_calls=1, prompt_tokens=40, completion_tokens=5)})
            >>> data = report.as_dict(["faq.txt: the graph of its text was built without the model ..."])
            >>> [(d["doc"], d["status"], d["graph_fallback"], len(d["warnings"])) for d in data["documents"]]
            [('faq.txt', 'ingested', 'HTTP 500', 1)]
            >>> data["totals"]["graph_fallbacks"], data["totals"]["usage"]["llm_calls"], data["ok"]
            (1, 1, True)
        """
        warnings = list(warnings)
        no_usage = ModelUsage()

        def cost(doc: str) -> dict[str, Any]:
            return {"usage": self.usage.get(doc, no_usage).as_dict(), "warnings": [w for w in warnings if doc in w]}

        documents = []
        for doc in self.ingested:
            record = self.records.get(doc)
            documents.append({
                "doc": doc, "status": "ingested", "nodes": len(record.node_ids) if record else None,
                "modalities": dict(record.modalities) if record else {}, "pages": record.pages if record else None,
                "graph_fallback": self.graph_fallbacks.get(doc), **cost(doc),
            })
        documents += [{"doc": doc, "status": "unchanged", **cost(doc)} for doc in self.unchanged]
        documents += [
            {"doc": f.path.name, "status": "failed", "path": str(f.path), "error": f.reason, **cost(f.path.name)}
            for f in self.failures
        ]
        totals = {
            "ingested": len(self.ingested), "unchanged": len(self.unchanged), "failed": len(self.failures),
            "nodes": dict(self.nodes), "graph_fallbacks": len(self.graph_fallbacks),
            "usage": self.total_usage.as_dict(),
        }
        return {
            "ok": self.ok, "seconds": round(self.seconds, 3), "documents": documents, "totals": totals,
            "warnings": warnings,
        }
