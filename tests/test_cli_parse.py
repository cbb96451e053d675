"""``mmrag parse PATH [--json]``: a table of blocks, a JSON list with a fixed schema, exit 1 on a bad file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app
from tests.readers.documents import HTML_TABLE, make_html, make_pdf

runner = CliRunner()
BLOCK_KEYS = {"modality", "page", "page_number", "bbox", "text", "image_path"}


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_html(tmp_path_factory.mktemp("web"))


@pytest.mark.filterwarnings("ignore:Could not process an image")
def test_parse_prints_a_table_of_blocks(page: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", str(page), "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for modality in ("text", "table", "image"):
        assert f" {modality} " in result.stdout
    assert "Milvus Guide" in result.stdout and "docling-offline" in result.stdout
    assert "| Component | Role |" in result.stdout
    assert "without any model" in result.stderr  # why this parser


@pytest.mark.filterwarnings("ignore:Could not process an image")
def test_parse_json_is_one_list_with_the_documented_keys(page: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", str(page), "--json", "--output-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    blocks = json.loads(result.stdout)
    assert isinstance(blocks, list) and blocks
    for block in blocks:
        assert set(block) == BLOCK_KEYS
        assert isinstance(block["page"], int) and block["page"] == 0
        assert block["bbox"] is None or len(block["bbox"]) == 4
    assert [b["modality"] for b in blocks].count("table") == 1
    table = next(b for b in blocks if b["modality"] == "table")
    assert table["text"].startswith("Table 1: components\n| " + " | ".join(HTML_TABLE[0]) + " |")
    images = [b for b in blocks if b["modality"] == "image"]
    assert len(images) == 1 and Path(images[0]["image_path"]).is_file()
    assert all(b["image_path"] is None for b in blocks if b["modality"] != "image")


def test_parse_json_of_a_pdf_has_pages_and_boxes(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "paper.pdf")
    result = runner.invoke(app, ["parse", str(pdf), "--json", "--output-dir", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    blocks = json.loads(result.stdout)
    assert [b["page"] for b in blocks] == [0, 1]
    assert all(len(b["bbox"]) == 4 for b in blocks)


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("empty.pdf", b"", "empty (0 bytes)"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog", "truncated"),
        ("notes.zip", b"PK\x05\x06", "unsupported file type .zip"),
    ],
)
def test_parse_of_a_bad_file_exits_1_naming_file_and_reason(tmp_path: Path, name: str, content: bytes, words: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    for args in (["parse", str(bad)], ["parse", str(bad), "--json"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert name in result.stderr and words in " ".join(result.stderr.split())


def test_parse_of_a_folder_or_a_missing_file_exits_1(tmp_path: Path) -> None:
    result = runner.invoke(app, ["parse", str(tmp_path)])
    assert result.exit_code == 1 and "is a folder" in " ".join(result.stderr.split())
    result = runner.invoke(app, ["parse", str(tmp_path / "missing.docx")])
    assert result.exit_code == 1 and "no such file" in result.stderr
