"""The ``mmrag`` command line: ingest, query --json, demo."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from llama_index_mmrag.cli import app

runner = CliRunner()
SOURCE_KEYS = {"doc", "page", "page_number", "modality", "score", "text", "image_path"}


def test_ingest_then_query_json_has_the_documented_schema(tmp_path: Path, sample_faq: Path, sample_diagram: Path) -> None:
    store = tmp_path / "store"
    result = runner.invoke(app, ["ingest", str(sample_faq), str(sample_diagram), "--store", str(store)])
    assert result.exit_code == 0, result.output
    assert "ingested 2 document(s)" in result.output

    result = runner.invoke(
        app, ["query", "What are the key components of the Milvus architecture?", "--store", str(store), "--json", "--top-k", "3"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(payload) == {"answer", "sources"}
    assert isinstance(payload["answer"], str) and payload["answer"]
    assert 1 <= len(payload["sources"]) <= 3
    for source in payload["sources"]:
        assert set(source) == SOURCE_KEYS
        assert isinstance(source["page"], int) and source["page"] >= 0 and source["page_number"] == source["page"] + 1
    images = [s for s in payload["sources"] if s["modality"] == "image"]
    assert images and Path(images[0]["image_path"]).name == "milvus_architecture.png"

    result = runner.invoke(app, ["query", "Milvus Lite", "--store", str(store), "--json", "--modality", "image"])
    assert {s["modality"] for s in json.loads(result.stdout.strip().splitlines()[-1])["sources"]} == {"image"}


def test_ingest_of_a_bad_file_exits_non_zero_and_names_it(tmp_path: Path, sample_faq: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png at all")
    result = runner.invoke(app, ["ingest", str(bad), str(sample_faq), "--store", str(tmp_path / "s")])
    assert result.exit_code == 1
    assert "broken.png" in result.output and "ingested 1 document(s)" in result.output


def test_query_with_an_unknown_modality_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "x", "--store", str(tmp_path / "s"), "--modality", "video"])
    assert result.exit_code == 2
    assert "unknown modality 'video'" in result.output
