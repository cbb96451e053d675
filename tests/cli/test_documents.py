"""Documents are named as people name them (without extension, in any case) everywhere a name is taken, and
`mmrag stats --json` lists each document: name, pages, nodes per modality, ingested at, parser."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from llama_index_mmrag.doc_names import AmbiguousDocumentError, UnknownDocumentError, match_document
from llama_index_mmrag.manifest import DocRecord, Manifest
from llama_index_mmrag.rag import MultimodalRAG
from tests.cli.conftest import MARKUP_NAME, invoke, last_json

STORED = ["milvus_architecture.png", "milvus_faq.txt", MARKUP_NAME]


@pytest.mark.parametrize(
    ("asked", "expected"),
    [
        ("milvus_faq.txt", ["milvus_faq.txt"]),
        ("MILVUS_FAQ.TXT", ["milvus_faq.txt"]),
        ("milvus_faq", ["milvus_faq.txt"]),
        ("Milvus_Architecture", ["milvus_architecture.png"]),
        ("/home/me/docs/milvus_faq.txt", ["milvus_faq.txt"]),
        ("milvus_faq.pdf", []),  # another extension is another document
        ("milvus", []),
        ("", []),
    ],
)
def test_a_name_matches_by_exact_name_then_case_then_stem(asked: str, expected: list[str]) -> None:
    assert match_document(asked, STORED) == expected


def test_exact_beats_case_beats_stem_and_a_shared_stem_is_ambiguous() -> None:
    assert match_document("Report.pdf", ["report.pdf", "Report.pdf"]) == ["Report.pdf"]
    assert match_document("report", ["report", "report.pdf"]) == ["report"]
    assert match_document("report", ["report.docx", "report.pdf"]) == ["report.docx", "report.pdf"]
    error = AmbiguousDocumentError("report", Path("s"), ["report.docx", "report.pdf"])
    assert isinstance(error, UnknownDocumentError) and "'report.docx', 'report.pdf'" in str(error)


def test_stats_json_lists_every_document(cli_store: Path) -> None:
    result = invoke("stats", "--store", str(cli_store), "--json")
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert {"docs", "nodes", "entities", "relations", "documents"} <= set(payload)
    listed = {d["doc"]: d for d in payload["documents"]}
    assert sorted(listed) == sorted(STORED)
    for item in listed.values():
        assert set(item) == {"doc", "pages", "nodes", "ingested_at", "parser"}
        assert item["pages"] == 1 and item["parser"]
        assert datetime.fromisoformat(item["ingested_at"]).tzinfo is not None
    assert listed["milvus_architecture.png"]["nodes"]["image"] == 1
    assert listed["milvus_faq.txt"]["nodes"]["text"] >= 1 and listed["milvus_faq.txt"]["nodes"]["image"] == 0
    assert sum(n for d in listed.values() for n in d["nodes"].values()) == sum(payload["nodes"].values())


def test_stats_of_one_document_by_its_stem_lists_that_document(cli_store: Path) -> None:
    result = invoke("stats", "--store", str(cli_store), "--json", "--doc", "MILVUS_ARCHITECTURE")
    assert result.exit_code == 0, result.output
    payload = last_json(result.stdout)
    assert payload["docs"] == 1 and payload["nodes"]["image"] == 1 and payload["nodes"]["text"] == 0
    assert [d["doc"] for d in payload["documents"]] == ["milvus_architecture.png"]


@pytest.mark.parametrize("asked", ["milvus_faq", "MILVUS_FAQ.TXT", "Milvus_Faq.txt"])
def test_query_doc_finds_the_document_without_extension_or_in_another_case(cli_store: Path, asked: str) -> None:
    result = invoke("query", "How does Milvus search?", "--store", str(cli_store), "--doc", asked, "--json")
    assert result.exit_code == 0, result.output
    sources = last_json(result.stdout)["sources"]
    assert sources and {s["doc"] for s in sources} == {"milvus_faq.txt"}


@pytest.mark.parametrize("command", [["query", "How does Milvus search?", "--doc"], ["stats", "--doc"], ["delete"]])
def test_an_unknown_document_is_an_error_naming_the_closest(cli_store: Path, command: list[str]) -> None:
    result = invoke(*command, "milvus_fqa", "--store", str(cli_store))
    assert result.exit_code == 1, result.output
    assert "no document named 'milvus_fqa'" in result.output and "did you mean 'milvus_faq.txt'" in result.output
    assert "Traceback" not in result.output


def test_the_python_api_resolves_names_the_same_way(tmp_path: Path, faq_store_copy: Path, sample_faq: Path) -> None:
    notes = tmp_path / "Notes.md"
    notes.write_text("# Notes\n\nThe Proxy routes every request to the Query Node.\n")
    with MultimodalRAG(storage_dir=faq_store_copy, top_k=3) as rag:  # the FAQ is in already
        assert rag.ingest([sample_faq, notes], show_progress=False).ok
        nodes = rag.as_retriever(doc="MILVUS_FAQ").retrieve("How does Milvus search?")
        assert nodes and {n.node.metadata["doc"] for n in nodes} == {"milvus_faq.txt"}
        response = rag.as_query_engine(doc=["notes"]).query("Where does the Proxy route requests?")
        assert {n.node.metadata["doc"] for n in response.source_nodes} == {"Notes.md"}
        assert rag.stats(doc="notes")["docs"] == 1
        assert rag.document("notes.MD").doc == "Notes.md"
        with pytest.raises(UnknownDocumentError, match="did you mean 'Notes.md'"):
            rag.as_retriever(doc="note")
        assert rag.delete("notes").doc == "Notes.md"
        assert [r.doc for r in rag.documents()] == ["milvus_faq.txt"]


def test_a_manifest_written_before_ingested_at_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    old = {"doc": "a.txt", "doc_id": "h1", "parser": "mmrag", "node_ids": ["chunk-1"], "modalities": {"text": 1}, "pages": 1}
    path.write_text(json.dumps({"version": 1, "docs": {"a.txt": old}}))
    manifest = Manifest(path)
    assert manifest.get("a.txt") is not None and manifest.get("a.txt").ingested_at is None
    manifest.record(DocRecord(doc="b.txt", doc_id="h2", parser="mmrag"))
    stamped = Manifest(path).get("b.txt")
    assert stamped is not None and datetime.fromisoformat(stamped.ingested_at).tzinfo is not None
    assert Manifest(path).get("a.txt").ingested_at is None
