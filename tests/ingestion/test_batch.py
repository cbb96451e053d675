"""A batch through the ingestion pipeline: one file ahead, bad files reported while the rest goes in, what was
written sealed, and the async twin from a running event loop."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from llama_index_mmrag import MultimodalRAG


def test_a_batch_parses_one_file_ahead_reports_bad_files_and_seals_what_it_wrote(
    tmp_path: Path, sample_faq: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The Query Node serves searches. The Data Node persists inserted data.", encoding="utf-8")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj <<")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    unknown = tmp_path / "data.xyz"
    unknown.write_text("something")
    events: list[str] = []
    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        reader_class, commit = type(rag.reader), rag.pipeline.acommit
        parse = reader_class.aparse

        async def traced_parse(reader, path):  # type: ignore[no-untyped-def]
            events.append(f"parse {Path(path).name}")
            return await parse(reader, path)

        async def traced_commit(prepared, report):  # type: ignore[no-untyped-def]
            events.append(f"write {prepared.path.name} begins")
            await asyncio.sleep(0.2)  # a write long enough for the next parse to start inside it
            result = await commit(prepared, report)
            events.append(f"write {prepared.path.name} ends")
            return result

        monkeypatch.setattr(reader_class, "aparse", traced_parse)
        rag.pipeline.acommit = traced_commit  # type: ignore[method-assign]
        client = rag.vector_store.client
        flushed: list[str] = []
        flush = client.flush
        client.flush = lambda name, *a, **k: (flushed.append(name), flush(name, *a, **k))[1]  # type: ignore[method-assign]

        report = rag.ingest([empty, sample_faq, broken, notes, unknown], show_progress=False)

        assert report.ingested == ["milvus_faq.txt", "notes.txt"]
        reasons = {f.path.name: f.reason for f in report.failures}
        assert set(reasons) == {"empty.txt", "broken.pdf", "data.xyz"}
        assert "empty" in reasons["empty.txt"] and ".xyz" in reasons["data.xyz"]
        assert {r.doc for r in rag.documents()} == {"milvus_faq.txt", "notes.txt"}
        graph_collections = rag.graph.run(rag.graph.avector_collections())
        assert sorted(flushed) == sorted([rag.vector_store.collection_name, *graph_collections])  # once, for the batch
        assert len(graph_collections) == 3 and all(client.has_collection(n) for n in graph_collections)
        flushed.clear()
        assert rag.ingest([sample_faq], show_progress=False).unchanged == ["milvus_faq.txt"]
        assert flushed == []  # nothing written, nothing to seal
    assert events.index("parse broken.pdf") < events.index("write milvus_faq.txt ends")
    assert events.index("parse notes.txt") > events.index("write milvus_faq.txt begins")  # one file ahead, not all


def test_aingest_runs_from_a_running_event_loop(tmp_path: Path, sample_faq: Path) -> None:
    async def main() -> list[str]:
        with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
            report = await rag.aingest([sample_faq], show_progress=False)
            nodes = await rag.as_retriever(top_k=2).aretrieve("Milvus Lite")
            assert nodes[0].node.metadata["doc"] == "milvus_faq.txt"
            return report.ingested

    assert asyncio.run(main()) == ["milvus_faq.txt"]
