"""Big web pages and Markdown files are bounded by design: a page over the size limit, or holding more table
cells than the limit, is refused before any parsing, with an error naming the file and the limit; a Markdown table of 10,000 rows is parsed into one table
whose every row reaches the index, in parts of whole rows that each fit a Milvus row."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index_mmrag import limits
from llama_index_mmrag.schema import blocks_to_nodes
from llama_index_mmrag.limits import fit_nodes, fits
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
from tests.support.big_markup import make_big_html, make_markdown_table, row_code


def _conversions(output: Path) -> list[Path]:
    """Folders the Docling parser made for documents it converted under ``output``."""
    return [p for p in output.rglob("docling") if p.is_dir()] if output.exists() else []


def test_a_20_mb_web_page_is_refused_before_parsing_naming_the_file_and_the_limit(tmp_path: Path) -> None:
    page = make_big_html(tmp_path / "handbook.html", target_bytes=20_000_000)
    output = tmp_path / "parsed"
    with pytest.raises(ParseError) as caught:
        RAGAnythingReader(output_dir=str(output)).parse(page)
    assert caught.value.path.name == "handbook.html"
    reason = caught.value.reason
    assert "20.0 MB" in reason and f"{limits.MAX_HTML_BYTES / 1e6:,.1f} MB limit" in reason
    assert "MAX_HTML_BYTES" in reason and "split it" in reason
    assert _conversions(output) == []  # Docling never ran on it


def test_a_markdown_file_over_its_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    rows = limits.MAX_MARKDOWN_BYTES // 40  # about 60 bytes a row: well over the limit
    big = make_markdown_table(tmp_path / "inventory.md", rows=rows)
    assert big.stat().st_size > limits.MAX_MARKDOWN_BYTES
    output = tmp_path / "parsed"
    with pytest.raises(ParseError) as caught:
        RAGAnythingReader(output_dir=str(output)).parse(big)
    assert "MAX_MARKDOWN_BYTES" in caught.value.reason and "Markdown file" in caught.value.reason
    assert _conversions(output) == []


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_a_file_under_the_size_limit_with_too_many_table_cells_is_refused_before_parsing(tmp_path: Path, suffix: str) -> None:
    rows = limits.MAX_MARKUP_TABLE_CELLS // 4  # five (Markdown) or four (HTML) columns: over the cell limit
    if suffix == ".md":
        big = make_markdown_table(tmp_path / f"cells{suffix}", rows=rows)
    else:
        big = tmp_path / f"cells{suffix}"
        body = "".join(f"<tr><td>{row_code(i)}</td><td>a</td><td>b</td><td>{i}</td></tr>" for i in range(rows))
        big.write_text(f"<html><body><table><tr><th>Code</th><th>A</th><th>B</th><th>N</th></tr>{body}</table></body></html>")
    assert big.stat().st_size < min(limits.MAX_HTML_BYTES, limits.MAX_MARKDOWN_BYTES)
    output = tmp_path / "parsed"
    with pytest.raises(ParseError) as caught:
        RAGAnythingReader(output_dir=str(output)).parse(big)
    reason = caught.value.reason
    assert "table cells" in reason and f"{limits.MAX_MARKUP_TABLE_CELLS:,}" in reason
    assert "MAX_MARKUP_TABLE_CELLS" in reason and caught.value.path.name == big.name
    assert _conversions(output) == []


def test_a_page_under_the_limit_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = make_big_html(tmp_path / "small.html", target_bytes=30_000)
    monkeypatch.setattr(limits, "MAX_HTML_BYTES", page.stat().st_size)  # exactly at the limit is allowed
    parsed = RAGAnythingReader(output_dir=str(tmp_path / "parsed")).parse(page)
    tables = [b for b in parsed.blocks if b.modality == "table"]
    assert tables and row_code(0) in tables[0].table_body
    assert sum(1 for b in parsed.blocks if b.modality == "text") > 10


def test_a_10000_row_markdown_table_keeps_every_row_in_parts_that_fit(tmp_path: Path) -> None:
    source = make_markdown_table(tmp_path / "inventory.md", rows=10_000)
    parsed = RAGAnythingReader(output_dir=str(tmp_path / "parsed")).parse(source)
    tables = [b for b in parsed.blocks if b.modality == "table"]
    assert len(tables) == 1
    body = tables[0].table_body
    assert body.splitlines()[0] == "| Code | Collection | Replicas | Size MiB | State |"
    assert len(body.splitlines()) == 10_002  # header, rule, rows

    parts = fit_nodes(blocks_to_nodes(tables), tmp_path / "overflow")  # as ingest cuts and fits them
    assert len(parts) > 1 and all(fits(part) for part in parts)
    seen: list[str] = []
    for part in parts:
        lines = str(part.metadata["table_body"]).splitlines()
        assert lines[0] == "| Code | Collection | Replicas | Size MiB | State |"  # the header in every part
        seen.extend(line.split("|")[1].strip() for line in lines[2:])
    assert seen == [row_code(i) for i in range(10_000)]  # every row once, in order
