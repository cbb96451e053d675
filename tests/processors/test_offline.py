"""Offline descriptions: real content from pixels, tables and LaTeX, with no model at all."""

from __future__ import annotations

from pathlib import Path

from llama_index_mmrag.schema import ContentBlock
from llama_index_mmrag.processors import (
    OFFLINE,
    ModalDescriber,
    describe_offline,
    neighbouring_text,
    offline_entity_info,
)
from llama_index_mmrag.schema.tables import table_shape
from tests.processors.conftest import DOC, LATEX, draw_text_png


async def test_image_description_contains_the_words_in_its_pixels(tmp_path: Path) -> None:
    png = draw_text_png(tmp_path / "diagram.png", "QUERY NODE")
    blocks = [
        ContentBlock(modality="text", text="The coordinator routes requests.", page=3, index=0, **DOC),
        ContentBlock(modality="image", img_path=str(png), captions=["Figure 4: Request path"], page=3, index=1, **DOC),
    ]
    describer = ModalDescriber(cache_dir=tmp_path / "cache")

    [result] = await describer.adescribe(blocks)

    assert result.model == OFFLINE and result.error is None
    assert "QUERY NODE" in result.description.upper()
    assert "Figure 4: Request path" in result.description
    assert "The coordinator routes requests." in result.description  # neighbouring text
    assert blocks[1].description == result.description
    assert result.entity_info["entity_name"] == "Figure 4: Request path in milvus_arch.pdf (image)"
    assert "QUERY NODE" in result.entity_info["summary"].upper()
    assert describer.stats.ocr_runs == 1

    again = ModalDescriber(cache_dir=tmp_path / "cache")  # OCR text is cached by image bytes
    [second] = await again.adescribe([blocks[1].model_copy(update={"description": None})])
    assert second.description.upper().count("QUERY NODE") >= 1
    assert again.stats.ocr_runs == 0


async def test_table_description_has_caption_header_and_shape(doc_blocks: list[ContentBlock]) -> None:
    results = await ModalDescriber(ocr=False).adescribe(doc_blocks)
    table = next(r for r in results if r.modality == "table")

    assert table.description.splitlines()[:3] == [
        "Table: Table 1: Index types",
        "Columns: Index, Recall, Latency",
        "2 rows x 3 columns",
    ]
    assert "| HNSW | 0.98 | 2 ms |" in table.description
    assert table.table_headers == ["Index", "Recall", "Latency"]
    assert table.entity_info == {
        "entity_name": "Table 1: Index types in milvus_arch.pdf (table)",
        "entity_type": "table",
        "summary": "A table in milvus_arch.pdf (page 0) with 2 rows and 3 columns: Index, Recall, Latency. "
        "Caption: Table 1: Index types.",
    }


async def test_equation_description_has_latex_and_context(doc_blocks: list[ContentBlock]) -> None:
    results = await ModalDescriber(ocr=False).adescribe(doc_blocks)
    equation = next(r for r in results if r.modality == "equation")

    assert equation.description.startswith(f"Equation: {LATEX}")
    assert "The Query Node serves vector searches." in equation.description
    assert equation.entity_info["entity_type"] == "equation"
    assert LATEX[:20] in equation.entity_info["summary"]
    assert equation.body == LATEX


async def test_unreadable_image_still_gets_a_description_and_the_reason(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")
    block = ContentBlock(modality="image", img_path=str(broken), captions=["Figure 9: Lost"], page=1, index=0, **DOC)

    [result] = await ModalDescriber().adescribe([block])

    assert result.description.startswith("Image: Figure 9: Lost")
    assert result.error is not None and "broken.png" in result.error


def test_html_tables_and_the_facade_helpers_keep_working() -> None:
    html = "<table><tr><th>Index</th><th>Recall</th></tr><tr><td>HNSW</td><td>0.98</td></tr></table>"
    assert table_shape(html) == (["Index", "Recall"], 1, 2)
    blocks = [
        ContentBlock(modality="text", text="Before.", page=0, index=0, **DOC),
        ContentBlock(modality="table", table_body=html, page=0, index=1, **DOC),
        ContentBlock(modality="text", text="After.", page=0, index=2, **DOC),
        ContentBlock(modality="text", text="Next page.", page=1, index=3, **DOC),
    ]
    assert neighbouring_text(blocks, 1) == "Before. After."
    assert "Columns: Index, Recall" in describe_offline(blocks[1], neighbouring_text(blocks, 1))
    assert offline_entity_info(blocks[1])["entity_name"] == "table of Index, Recall in milvus_arch.pdf (table)"
