"""Start-up cost is what a command imports: `mmrag stats` reads a store without LlamaIndex, LightRAG, RAG-Anything,
Docling or torch, `mmrag delete` without the parsers, RAG-Anything or the embedding model, and both give the same
answers as the facade. (Timings are measured in benchmarks/startup.py, not asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag.doc_names import UnknownDocumentError
from llama_index_mmrag.graph.file_counts import GRAPH_FIELD_SEP, GraphFiles, relation_key, workspace_name
from llama_index_mmrag.lifecycle import PendingWrite
from llama_index_mmrag.manifest import DocRecord
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stats import read_store_stats

FRAMEWORKS = ("llama_index.core", "lightrag", "raganything", "docling", "openai", "torch", "transformers", "sentence_transformers")
"""What a command that only counts must not import (each costs seconds)."""
INGEST_ONLY = ("raganything", "docling", "openai", "torch", "transformers", "sentence_transformers",
               "llama_index_mmrag.readers.rag_anything", "llama_index_mmrag.processors.describer")
"""What deleting a document must not import: parsers, RAG-Anything and the embedding model."""


def _fresh_cli(*args: str) -> dict[str, Any]:
    """Run ``mmrag ARGS`` in a new interpreter; its exit code, output and which heavy modules it imported."""
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from llama_index_mmrag.cli import app\n"
        f"result = CliRunner().invoke(app, {list(args)!r})\n"
        f"heavy = sorted(set(sys.modules) & set({list(FRAMEWORKS + INGEST_ONLY)!r}))\n"
        "print(json.dumps({'code': result.exit_code, 'stdout': result.stdout, 'output': result.output, 'heavy': heavy}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _facade_listing(rag: Any, doc: str | None = None) -> dict[str, Any]:
    from llama_index_mmrag.cli import document_listing

    records = rag.documents() if doc is None else [rag.document(doc)]
    return {**rag.stats(doc=doc), "documents": [document_listing(r) for r in records]}


def test_stats_in_a_fresh_process_imports_no_framework_and_answers_as_the_facade(demo_rag: Any) -> None:
    store = str(demo_rag.settings.storage_dir)
    whole = _fresh_cli("stats", "--store", store, "--json")
    assert whole["code"] == 0, whole["output"]
    assert whole["heavy"] == []
    assert json.loads(whole["stdout"].strip().splitlines()[-1]) == _facade_listing(demo_rag)

    one = _fresh_cli("stats", "--store", store, "--json", "--doc", "MILVUS_FAQ")  # named as people name it
    assert one["code"] == 0, one["output"]
    assert one["heavy"] == []
    assert json.loads(one["stdout"].strip().splitlines()[-1]) == _facade_listing(demo_rag, "milvus_faq.txt")

    unknown = _fresh_cli("stats", "--store", store, "--doc", "milvus_fqa")
    assert unknown["code"] == 1 and "did you mean 'milvus_faq.txt'" in unknown["output"]
    assert unknown["heavy"] == []


@pytest.mark.parametrize("doc", [None, "milvus_faq.txt", "milvus_architecture.png", "Milvus_Architecture", "milvus_faq"])
def test_reading_the_store_directly_counts_what_the_facade_counts(demo_rag: Any, doc: str | None) -> None:
    reading = read_store_stats(demo_rag.settings, doc)
    assert reading is not None
    assert reading.stats == demo_rag.stats(doc=doc)
    expected = demo_rag.documents() if doc is None else [demo_rag.document(doc)]
    assert reading.documents == expected
    assert reading.stats["entities"] > 0 and reading.stats["relations"] > 0  # the graph was read, not skipped


@pytest.mark.parametrize("doc", ["nothing.pdf", "milvus", "\udc80", "x" * 70_000])
def test_reading_the_store_directly_rejects_names_as_the_facade_does(demo_rag: Any, doc: str) -> None:
    with pytest.raises(Exception) as direct:
        read_store_stats(demo_rag.settings, doc)
    with pytest.raises(Exception) as facade:
        demo_rag.stats(doc=doc)
    assert type(direct.value) is type(facade.value)
    assert str(direct.value) == str(facade.value)
    if isinstance(direct.value, UnknownDocumentError):
        assert str(demo_rag.settings.storage_dir) in str(direct.value)


def test_stores_only_the_facade_reads_faithfully_are_left_to_it(tmp_path: Path) -> None:
    """A pending write (opening may recover it), a Neo4j graph, a graph file LightRAG would repair on load."""
    settings = MMRAGSettings(storage_dir=tmp_path / "store")
    assert read_store_stats(MMRAGSettings(storage_dir=tmp_path / "store", graph_storage="Neo4JStorage")) is None

    record = DocRecord(doc="a.txt", doc_id="abc", parser="mmrag")
    journal = settings.storage_dir / "journal" / "pending.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(PendingWrite(op="delete", doc="a.txt", doc_id="abc", record=record).model_dump_json())
    assert read_store_stats(settings) is None
    journal.unlink()

    graph = GraphFiles.of(settings)
    graph.folder.mkdir(parents=True)
    graph.graphml.write_text("<graphml><graph><node id='cut off", encoding="utf-8")  # a torn write
    assert read_store_stats(settings) is None
    assert not settings.milvus_lite_path.exists()  # decided before Milvus was opened


def test_the_graph_files_are_named_and_keyed_as_lightrag_names_and_keys_them(demo_rag: Any) -> None:
    from lightrag.constants import GRAPH_FIELD_SEP as LIGHTRAG_SEP
    from lightrag.utils import make_relation_chunk_key

    assert GRAPH_FIELD_SEP == LIGHTRAG_SEP
    assert relation_key("b", "a") == make_relation_chunk_key("b", "a") == make_relation_chunk_key("a", "b")
    assert workspace_name(demo_rag.settings) == demo_rag.graph.workspace
    assert GraphFiles.of(demo_rag.settings).graphml.is_file()


def test_delete_in_a_fresh_process_loads_no_parser_raganything_or_model(tmp_path: Path, sample_faq: Path) -> None:
    from llama_index_mmrag import MultimodalRAG

    with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
        assert rag.ingest([sample_faq], show_progress=False).ok
    result = _fresh_cli("delete", "Milvus_FAQ", "--store", str(tmp_path / "store"))
    assert result["code"] == 0, result["output"]
    assert "deleted milvus_faq.txt" in result["output"]
    assert not set(result["heavy"]) & set(INGEST_ONLY)
    counted = _fresh_cli("stats", "--store", str(tmp_path / "store"), "--json")
    assert json.loads(counted["stdout"].strip().splitlines()[-1])["docs"] == 0


@pytest.mark.parametrize(
    "name",
    ["llama_index_mmrag.doc_names", "llama_index_mmrag.graph.file_counts", "llama_index_mmrag.retrievers.literals",
     "llama_index_mmrag.parsing", "llama_index_mmrag.stats"],
)
def test_docstring_examples_of_the_light_modules_run(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
