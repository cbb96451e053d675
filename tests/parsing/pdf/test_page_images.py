"""Page images of born-digital pages: a slide, a page mostly made of a chart, and the pages that get none.

One generated four-page PDF, parsed once without OCR (no model runs): a 4:3 slide with a title and a bar chart, a
portrait page of text only, a portrait page whose chart covers most of it, and a portrait page of text with a
small chart. Scanned pages (every one gets a page image, a blank one none) are checked through a whole store in
tests/index/test_page_images.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas

from llama_index_mmrag.parsing.pdf.page_image import PAGE_IMAGE_MAX_SIDE, PAGE_IMAGES_ENV
from llama_index_mmrag.parsing.pdf.parse import parse_pdf

Items = list[dict[str, Any]]
SLIDE = (720.0, 540.0)
SLIDE_TITLE = "Exits over 100 million dollars by year"
PROSE = (
    "The harbour handled more containers in every quarter of the year, and the new cranes cut the average dwell "
    "time of a box by a third. Rail traffic grew as well, relieving the road gate at peak hours."
)


def _bars(canvas: Canvas, x: float, y: float, width: float, height: float) -> None:
    """A bar chart of vector paths: two axes and eight bars."""
    canvas.setLineWidth(2)
    canvas.line(x, y, x, y + height)
    canvas.line(x, y, x + width, y)
    step = width / 8
    for index in range(8):
        canvas.setFillColorRGB(0.1 + 0.1 * index, 0.3, 0.8 - 0.08 * index)
        canvas.rect(x + index * step + step * 0.2, y, step * 0.6, height * (0.3 + 0.08 * index), stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)


def _prose(canvas: Canvas, top: float, lines: int) -> None:
    canvas.setFont("Helvetica", 11)
    words = (PROSE + " ") * 4
    for index in range(lines):
        canvas.drawString(72, top - 16 * index, words[index * 60 : index * 60 + 90])


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Items]:
    folder = tmp_path_factory.mktemp("pages")
    path = folder / "deck.pdf"
    canvas = Canvas(str(path), pagesize=SLIDE)
    canvas.setFont("Helvetica-Bold", 28)
    canvas.drawString(40, 480, SLIDE_TITLE)
    _bars(canvas, 80, 60, 560, 360)
    canvas.showPage()
    width, height = letter
    canvas.setPageSize(letter)
    _prose(canvas, height - 90, 30)  # text only
    canvas.showPage()
    canvas.setPageSize(letter)
    _prose(canvas, height - 60, 3)
    _bars(canvas, 60, 80, width - 120, height - 220)  # the chart is most of the page
    canvas.showPage()
    canvas.setPageSize(letter)
    _prose(canvas, height - 90, 20)
    _bars(canvas, 72, 80, 160, 100)  # a small chart under the text
    canvas.showPage()
    canvas.save()
    return folder, parse_pdf(path, folder / "parsed", ocr=False, workers=1)


def _page_images(items: Items, page: int) -> Items:
    return [i for i in items if i["page_idx"] == page and i.get("image_kind") == "page"]


@pytest.mark.parametrize(("page", "size"), [(0, SLIDE), (2, letter)], ids=["slide", "chart-page"])
def test_a_visually_rich_page_gets_one_small_page_image_that_its_items_name(
    parsed: tuple[Path, Items], page: int, size: tuple[float, float]
) -> None:
    folder, items = parsed
    [picture] = _page_images(items, page)
    assert picture["type"] == "image" and picture["bbox"] == [0.0, 0.0, *(round(v, 2) for v in size)]
    path = Path(picture["img_path"])
    assert path.is_file() and path.resolve().is_relative_to((folder / "parsed").resolve())
    with Image.open(path) as image:
        assert image.format == "JPEG" and max(image.size) == PAGE_IMAGE_MAX_SIDE
        assert abs(image.size[0] / image.size[1] - size[0] / size[1]) < 0.01  # the page's shape, not cropped
    others = [i for i in items if i["page_idx"] == page and i is not picture]
    assert others and all(i["page_image"] == picture["img_path"] for i in others)
    assert items.index(picture) > max(items.index(i) for i in others)  # after the page's blocks: text runs unbroken
    if page == 0:
        assert picture["ocr_text"].startswith(SLIDE_TITLE)  # findable by the page's words, offline


@pytest.mark.parametrize("page", [1, 3], ids=["text-only", "small-chart"])
def test_a_page_of_mostly_text_gets_no_page_image(parsed: tuple[Path, Items], page: int) -> None:
    _, items = parsed
    on_page = [i for i in items if i["page_idx"] == page]
    assert on_page and not _page_images(items, page)
    assert not any("page_image" in i for i in on_page)


def test_the_setting_turns_page_images_off(parsed: tuple[Path, Items], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, items = parsed
    monkeypatch.setenv(PAGE_IMAGES_ENV, "off")
    again = parse_pdf(folder / "deck.pdf", folder / "parsed-off", ocr=False, workers=1)
    assert _page_images(items, 0) and not any(i.get("image_kind") == "page" or "page_image" in i for i in again)
    assert [i["type"] for i in again] == [i["type"] for i in items if i.get("image_kind") != "page"]
