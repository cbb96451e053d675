"""Docling, offline, through RAG-Anything's registry: DOCX, HTML, Markdown (and PPTX) in our content-list shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from raganything.parser import get_parser

from llama_index_mmrag.parsing.docling import (
    DOCLING_OFFLINE_PARSER_NAME,
    DoclingOfflineParser,
    content_list_from_docling,
    docling_table_markdown,
    grid_to_markdown,
    normalize_content_list,
)
from llama_index_mmrag.parsing.errors import ParseError
from tests.readers.documents import DIAGRAM_WORDS, HTML_TABLE, TABLE_HEADER, make_docx, make_html, make_markdown, make_png


def _of(items: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [item for item in items if item["type"] == kind]


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("docs")


@pytest.fixture(scope="module")
def parser() -> DoclingOfflineParser:
    instance = get_parser(DOCLING_OFFLINE_PARSER_NAME)
    assert isinstance(instance, DoclingOfflineParser)
    return instance


@pytest.fixture(scope="module")
def docx_items(docs: Path, parser: DoclingOfflineParser) -> list[dict[str, Any]]:
    return parser.parse_document(make_docx(docs), output_dir=str(docs / "out"))


def test_docx_gives_headings_paragraphs_a_markdown_table_and_an_image_file(docx_items: list[dict[str, Any]]) -> None:
    texts = _of(docx_items, "text")
    assert [(t["text"], t["text_level"]) for t in texts if t["text_level"]] == [
        ("Quarterly Report", 1),
        ("Revenue by region", 2),
    ]
    assert "Revenue grew in every region this quarter." in [t["text"] for t in texts]

    (table,) = _of(docx_items, "table")
    lines = table["table_body"].splitlines()
    assert lines[0] == "| " + " | ".join(TABLE_HEADER) + " |"
    assert lines[1] == "| --- | --- | --- |"
    assert lines[2] == "| North | 10 | 12 |"
    assert table["table_caption"] == [] and table["table_footnote"] == []

    (image,) = _of(docx_items, "image")
    path = Path(image["img_path"])
    assert path.is_absolute() and path.is_file() and path.stat().st_size > 0
    assert all(word in image["ocr_text"].upper() for word in DIAGRAM_WORDS)
    assert all(isinstance(item["page_idx"], int) and item["page_idx"] == 0 for item in docx_items)
    assert [item["type"] for item in docx_items].index("table") < [item["type"] for item in docx_items].index("image")


@pytest.mark.filterwarnings("ignore:Could not process an image")  # the remote <img>, refused on purpose
def test_html_page_loads_its_local_image_attaches_captions_and_skips_the_title(docs: Path, parser: DoclingOfflineParser) -> None:
    items = parser.parse_document(make_html(docs), output_dir=str(docs / "out"))
    texts = [t["text"] for t in _of(items, "text")]
    assert "Page title (furniture)" not in texts
    assert ("Milvus Guide", 1) in [(t["text"], t["text_level"]) for t in _of(items, "text")]
    assert ("Components", 2) in [(t["text"], t["text_level"]) for t in _of(items, "text")]
    assert "Milvus stores and searches vectors." in texts

    (table,) = _of(items, "table")
    assert table["table_body"].splitlines()[0] == f"| {HTML_TABLE[0][0]} | {HTML_TABLE[0][1]} |"
    assert "| Query node | search |" in table["table_body"]
    assert table["table_caption"] == ["Table 1: components"]

    (image,) = _of(items, "image")  # the remote <img> is never fetched
    assert Path(image["img_path"]).is_file()
    assert image["image_caption"] == ["Figure 1: architecture"]
    assert "Figure 1: architecture" not in texts and "Table 1: components" not in texts  # not repeated as text


def test_markdown_goes_through_docling_with_tables_and_images(docs: Path, parser: DoclingOfflineParser) -> None:
    items = parser.parse_document(make_markdown(docs), output_dir=str(docs / "out"))
    texts = _of(items, "text")
    assert [(t["text"], t["text_level"]) for t in texts if t["text_level"]] == [("Release notes", 1), ("Limits", 2)]
    assert "Milvus 2.5 adds full-text search." in [t["text"] for t in texts]  # inline spans joined
    (table,) = _of(items, "table")
    assert table["table_body"].splitlines()[0] == "| Setting | Value |"
    assert "| max dim | 32768 |" in table["table_body"]
    (image,) = _of(items, "image")
    assert Path(image["img_path"]).is_file()


def test_pptx_slides_become_pages_with_boxes_in_points(docs: Path, parser: DoclingOfflineParser) -> None:
    pptx = pytest.importorskip("pptx")
    from pptx.util import Inches

    deck = pptx.Presentation()
    for title in ("First slide", "Second slide"):
        slide = deck.slides.add_slide(deck.slide_layouts[5])
        slide.shapes.title.text = title
    table = deck.slides[1].shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1)).table
    for (r, c), value in {(0, 0): "Key", (0, 1): "Value", (1, 0): "dim", (1, 1): "384"}.items():
        table.cell(r, c).text = value
    path = docs / "deck.pptx"
    deck.save(str(path))

    items = parser.parse_document(path, output_dir=str(docs / "out"))
    assert [(t["text"], t["page_idx"]) for t in _of(items, "text")] == [("First slide", 0), ("Second slide", 1)]
    (tbl,) = _of(items, "table")
    assert tbl["page_idx"] == 1 and tbl["table_body"].startswith("| Key | Value |")
    x0, y0, x1, y1 = tbl["bbox"]
    assert (x0, y0) == (72.0, 144.0) and x1 > x0 and y1 > y0  # 1 in, 2 in from the top-left, in points


def test_a_damaged_docx_is_a_parse_error_naming_file_and_reason(docs: Path, parser: DoclingOfflineParser) -> None:
    bad = docs / "damaged.docx"
    bad.write_bytes(b"PK\x03\x04 this is not a real zip archive")
    with pytest.raises(ParseError) as info:
        parser.parse_document(bad, output_dir=str(docs / "out"))
    assert info.value.path.name == "damaged.docx"
    assert "damaged or not really a .docx" in info.value.reason


def test_the_offline_parser_hands_office_files_to_docling(docs: Path) -> None:
    items = get_parser("mmrag").parse_document(make_docx(docs, "via-mmrag.docx", icon=True), output_dir=str(docs / "out"))
    assert {item["type"] for item in items} == {"text", "table", "image"}


def test_rag_anythings_own_docling_output_is_normalised_to_markdown_tables(docs: Path) -> None:
    raw = get_parser("docling").parse_document(make_docx(docs, "builtin.docx", icon=True), output_dir=str(docs / "out"))
    (raw_table,) = _of(raw, "table")
    assert isinstance(raw_table["table_body"], dict) and raw_table["table_caption"] == ""  # upstream's shape
    (table,) = _of(normalize_content_list(raw), "table")
    assert table["table_body"].splitlines()[0] == "| " + " | ".join(TABLE_HEADER) + " |"
    assert table["table_caption"] == [] and table["table_footnote"] == []


def test_normalize_content_list_fixes_keys_pages_and_paths(tmp_path: Path) -> None:
    picture = make_png(tmp_path / "fig.png")
    items = normalize_content_list(
        [
            {"type": "text", "text": "  ", "page_idx": 0},
            {"type": "text", "text": "Body", "page_idx": "2"},
            {"type": "image", "img_path": "fig.png", "img_caption": ["A figure"], "img_footnote": "", "page_idx": None},
            {"type": "table", "table_body": [["k", "v"], ["a", "1"]], "table_caption": "Table 2", "page_idx": -3},
            {"type": "equation", "text": "E = mc^2", "page_idx": 1},
            {"type": "discarded", "text": "kept as is"},
        ],
        base_dirs=[tmp_path],
    )
    assert [item["type"] for item in items] == ["text", "image", "table", "equation", "discarded"]
    text, image, table, equation, _ = items
    assert text["page_idx"] == 2 and text["text_level"] == 0
    assert image["img_path"] == str(picture.resolve()) and image["image_caption"] == ["A figure"]
    assert image["image_footnote"] == [] and "img_caption" not in image and image["page_idx"] == 0
    assert table["table_body"] == "| k | v |\n| --- | --- |\n| a | 1 |" and table["table_caption"] == ["Table 2"]
    assert table["page_idx"] == 0
    assert equation["latex"] == "E = mc^2"


def test_table_markdown_merges_header_rows_and_escapes_pipes() -> None:
    def cell(text: str, row: int, col: int, header: bool = False, span: int = 1) -> dict[str, Any]:
        return {
            "text": text,
            "column_header": header,
            "start_row_offset_idx": row,
            "end_row_offset_idx": row + 1,
            "start_col_offset_idx": col,
            "end_col_offset_idx": col + span,
        }

    year = cell("2024", 0, 1, True, span=2)
    merged = cell("total | all", 3, 0, span=3)
    grid = [
        [cell("", 0, 0, True), year, year],
        [cell("Region", 1, 0, True), cell("Q1", 1, 1, True), cell("Q2", 1, 2, True)],
        [cell("North", 2, 0), cell("10", 2, 1), cell("12", 2, 2)],
        [merged, merged, merged],
    ]
    assert docling_table_markdown({"grid": grid, "num_rows": 4, "num_cols": 3}).splitlines() == [
        "| Region | 2024 Q1 | 2024 Q2 |",
        "| --- | --- | --- |",
        "| North | 10 | 12 |",
        "| total \\| all |  |  |",
    ]
    assert grid_to_markdown([["a", "b"], ["1"]], header_rows=0) == "| a | b |\n| --- | --- |\n| 1 |  |"
    assert grid_to_markdown([]) == ""


def test_content_list_from_a_docling_dict_handles_furniture_inline_groups_formulas_and_pdf_boxes(tmp_path: Path) -> None:
    doc = {
        "name": "paper",
        "origin": {"filename": "paper.pdf"},
        "pages": {"1": {"size": {"width": 600.0, "height": 800.0}}},
        "body": {"children": [{"$ref": "#/texts/0"}, {"$ref": "#/groups/0"}, {"$ref": "#/texts/3"}, {"$ref": "#/texts/4"}]},
        "groups": [{"label": "inline", "children": [{"$ref": "#/texts/1"}, {"$ref": "#/texts/2"}], "content_layer": "body"}],
        "texts": [
            {"label": "page_header", "text": "Running head", "content_layer": "furniture"},
            {"label": "text", "text": "Vectors are", "prov": [{"page_no": 1, "bbox": {"l": 50, "t": 700, "r": 300, "b": 680, "coord_origin": "BOTTOMLEFT"}}]},
            {"label": "text", "text": "embeddings."},
            {"label": "formula", "text": "\\frac{a}{b}", "orig": "a/b", "prov": [{"page_no": 1}]},
            {"label": "section_header", "level": 1, "text": "Method"},
        ],
        "tables": [],
        "pictures": [],
    }
    items = content_list_from_docling(doc, tmp_path / "images", ocr=False)
    assert items == [
        {"type": "text", "text": "Vectors are embeddings.", "text_level": 0, "page_idx": 0, "bbox": [50.0, 100.0, 300.0, 120.0]},
        {"type": "equation", "latex": "\\frac{a}{b}", "text": "a/b", "text_format": "latex", "page_idx": 0},
        {"type": "text", "text": "Method", "text_level": 1, "page_idx": 0},
    ]


def test_docling_refuses_pdfs_instead_of_downloading_models(tmp_path: Path, parser: DoclingOfflineParser, monkeypatch: pytest.MonkeyPatch) -> None:
    from llama_index_mmrag.parsing import availability

    monkeypatch.setattr(availability, "docling_pdf_status", lambda: availability.Availability(False, "no layout weights on disk"))
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    with pytest.raises(ParseError) as info:
        parser.parse_document(pdf, output_dir=str(tmp_path / "out"))
    assert "no layout weights on disk" in info.value.reason and "'mmrag'" in info.value.reason
