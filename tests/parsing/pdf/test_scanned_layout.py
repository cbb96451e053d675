"""Figures, charts and tables found on pages that are pictures only (scans, slide decks saved as images).

One generated three-page scan (tests/support/scans.py), parsed once: a page with a title, paragraphs and a bar
chart; a blank page; the chart page again, rotated by the PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from llama_index_mmrag.parsing.pdf.geometry import box_area, covered_fraction
from llama_index_mmrag.parsing.pdf.layout_model import SCAN_LAYOUT_ENV, Region, layout_available
from llama_index_mmrag.parsing.pdf.parse import parse_pdf
from llama_index_mmrag.parsing.pdf.regions import arrange_scan
from llama_index_mmrag.parsing.pdf.text import Line
from tests.support.scans import make_scanned_chart_pdf

Items = list[dict[str, Any]]

needs_layout = pytest.mark.skipif(not layout_available(), reason="rapid-layout 0.0.19 installs on Python < 3.12 only")


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Items]:
    folder = tmp_path_factory.mktemp("scan")
    facts = make_scanned_chart_pdf(folder / "scan.pdf")
    with pytest.MonkeyPatch.context() as env:
        env.setenv(SCAN_LAYOUT_ENV, "on")
        return facts, parse_pdf(facts["path"], folder / "parsed", workers=1)


def test_without_the_setting_a_scan_is_read_by_ocr_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SCAN_LAYOUT_ENV, raising=False)
    facts = make_scanned_chart_pdf(tmp_path / "scan.pdf")
    items = _on(parse_pdf(facts["path"], tmp_path / "parsed", workers=1), facts["chart"]["page"])
    assert items and {i["type"] for i in items} == {"text"}
    assert all(label in " ".join(i["text"] for i in items).split() for label in facts["chart"]["labels"])


def _on(items: Items, page: int, kind: str | None = None) -> Items:
    """The page's items of a kind, without its page image (every scanned page has one: tests/parsing/pdf/test_page_images.py)."""
    items = [i for i in items if i.get("image_kind") != "page"]
    return [i for i in items if i["page_idx"] == page and (kind is None or i["type"] == kind)]


@needs_layout
def test_a_chart_on_a_scanned_page_becomes_an_image_block_with_its_labels(scan: tuple[dict[str, Any], Items]) -> None:
    facts, items = scan
    chart = facts["chart"]
    [image] = _on(items, chart["page"], "image")
    width, height = facts["size"]
    x0, y0, x1, y1 = image["bbox"]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert covered_fraction(chart["bbox"], tuple(image["bbox"])) > 0.9  # the whole chart ...
    assert box_area(tuple(image["bbox"])) < 0.6 * width * height  # ... and not the whole page
    for label in chart["labels"]:
        assert label in image["ocr_text"].split()
    assert image["image_caption"] == [chart["caption"]]
    crop = Image.open(image["img_path"])
    assert abs(crop.width / crop.height - (x1 - x0) / (y1 - y0)) < 0.05  # the PNG is the region, cropped


@needs_layout
def test_the_text_around_the_chart_keeps_its_reading_order(scan: tuple[dict[str, Any], Items]) -> None:
    facts, items = scan
    page = _on(items, facts["chart"]["page"])
    texts = [i["text"] for i in page if i["type"] == "text"]
    assert texts[0] == facts["title"]
    kinds = [i["type"] for i in page]
    before = next(n for n, i in enumerate(page) if i["type"] == "text" and "harbour" in i["text"])
    after = next(n for n, i in enumerate(page) if i["type"] == "text" and "Rail traffic" in i["text"])
    assert before < kinds.index("image") < after
    assert all(i["ocr"] is True for i in page if i["type"] == "text")
    words = " ".join(texts).split()
    assert not set(facts["chart"]["labels"]) & set(words)  # the axis labels went to the chart, not the text
    assert facts["chart"]["caption"] not in " ".join(texts)  # and the caption with them


def test_a_blank_scan_and_a_rotated_scan_parse_without_inventing_blocks(scan: tuple[dict[str, Any], Items]) -> None:
    facts, items = scan
    assert _on(items, facts["blank_page"]) == []
    rotated = _on(items, facts["rotated_page"])
    assert rotated  # read by OCR, sideways or not
    width, height = facts["size"]  # the rotated page displays landscape: height x width
    for item in rotated:
        x0, y0, x1, y1 = item["bbox"]
        assert 0 <= x0 < x1 <= height + 1 and 0 <= y0 < y1 <= width + 1
        if item["type"] == "image":
            assert Path(item["img_path"]).is_file()


def test_a_region_over_most_of_a_slide_is_no_figure_and_keeps_its_words_in_the_text() -> None:
    """A detector that sees a whole slide as one picture must not swallow the slide's paragraphs, nor index the
    slide a second time as a figure (the slide's page image shows it whole)."""
    page = (0.0, 0.0, 720.0, 540.0)
    words = Line("Proportionally Europe is producing higher exit multiples", (40.0, 300.0, 300.0, 316.0), 12.0)
    label = Line("7.2", (400.0, 250.0, 420.0, 262.0), 12.0)
    slide = arrange_scan([words, label], [Region("figure", (10.0, 100.0, 710.0, 480.0))], page)
    chart = arrange_scan([words, label], [Region("figure", (380.0, 200.0, 600.0, 400.0))], page)
    assert slide.figures == []
    assert [line.text for line in slide.text] == [words.text, label.text]
    assert [line.text for line in chart.figures[0].lines] == [label.text]
    assert [line.text for line in chart.text] == [words.text]


def test_tables_on_a_scan_take_their_lines_as_rows_and_a_caption_goes_to_the_nearest_region() -> None:
    page = (0.0, 0.0, 612.0, 792.0)
    cells = [
        Line("Region", (80.0, 302.0, 130.0, 314.0), 10.0),
        Line("Q1", (220.0, 303.0, 236.0, 315.0), 10.0),
        Line("North", (80.0, 322.0, 120.0, 334.0), 10.0),
        Line("120", (220.0, 321.0, 244.0, 333.0), 10.0),
    ]
    caption = Line("Table 2: Volume by region", (80.0, 280.0, 260.0, 292.0), 10.0)
    prose = Line("Volumes rose in the north.", (72.0, 500.0, 300.0, 512.0), 10.0)
    regions = [
        Region("table", (72.0, 298.0, 300.0, 340.0)),
        Region("table_caption", (76.0, 278.0, 264.0, 294.0)),
        Region("table_caption", (72.0, 700.0, 300.0, 714.0)),  # far from every table: an empty stray
    ]
    layout = arrange_scan([*cells, caption, prose], regions, page)
    [table] = layout.tables
    assert table.rows() == [["Region", "Q1"], ["North", "120"]]
    assert table.caption == ["Table 2: Volume by region"]
    assert [line.text for line in layout.text] == [prose.text]
