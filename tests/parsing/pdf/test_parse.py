"""The offline PDF parser on real PDFs drawn with reportlab (see tests/support/pdfs.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from llama_index_mmrag.parsing import errors
from llama_index_mmrag.parsing.ocr import restore_spaces
from llama_index_mmrag.parsing.pdf.parse import parse_pdf, parse_pdf_with_stats
from llama_index_mmrag.parsing.pdf.layout import join_lines, reading_order
from llama_index_mmrag.parsing.pdf.tables import rows_to_markdown
from llama_index_mmrag.parsing.pdf.text import looks_like_math
from tests.support.pdfs import (
    make_empty_pdf,
    make_encrypted_pdf,
    make_random_bytes_pdf,
    make_sample_pdf,
    make_text_pdf,
    make_truncated_pdf,
)

Items = list[dict[str, Any]]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Items, Path]:
    folder = tmp_path_factory.mktemp("pdf")
    facts = make_sample_pdf(folder / "sample.pdf")
    output = folder / "parsed"
    return facts, parse_pdf(facts["path"], output, workers=1), output


def _of(items: Items, kind: str, page: int | None = None) -> Items:
    return [i for i in items if i["type"] == kind and (page is None or i["page_idx"] == page)]


def _text_of(items: Items, page: int) -> str:
    return " ".join(i.get("text", "") for i in items if i["page_idx"] == page)


def test_every_page_yields_blocks_in_page_order(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    pages = [item["page_idx"] for item in items]
    assert set(pages) == set(range(facts["pages"]))
    assert pages == sorted(pages)


def test_every_item_has_page_and_box_on_the_page(sample: tuple[dict[str, Any], Items, Path]) -> None:
    _, items, _ = sample
    for item in items:
        x0, y0, x1, y1 = item["bbox"]
        assert 0 <= x0 <= x1 <= 612.5 and 0 <= y0 <= y1 <= 792.5, item


def test_heading_and_paragraphs(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    texts = _of(items, "text", page=0)
    heading = next(i for i in texts if i["text"] == facts["heading"]["text"])
    assert heading["text_level"] >= 1
    for paragraph in facts["paragraphs"]["texts"]:
        match = [i for i in texts if i["text"] == paragraph]
        assert len(match) == 1, f"paragraph not emitted as one block: {paragraph[:40]}"
        assert match[0]["text_level"] == 0 and match[0]["ocr"] is False


def test_table_with_markdown_header_caption_and_no_duplicate_text(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    tables = _of(items, "table")
    assert len(tables) == 1
    table = tables[0]
    assert table["page_idx"] == facts["table"]["page"]
    lines = table["table_body"].splitlines()
    assert lines[0] == "| " + " | ".join(facts["table"]["header"]) + " |"
    assert lines[1] == "| --- | --- | --- | --- |"
    assert lines[2] == "| North | 120 | 135 | 150 |"
    assert (table["n_rows"], table["n_cols"]) == (4, 4)
    assert table["table_caption"] == [facts["table"]["caption"]]
    assert table["table_footnote"] == []
    assert "North" not in _text_of(items, 0)
    assert facts["table"]["caption"] not in _text_of(items, 0)


def test_image_png_caption_and_ocr_words(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, output = sample
    images = _of(items, "image", page=facts["image"]["page"])
    assert len(images) == 1
    image = images[0]
    path = Path(image["img_path"])
    assert path.is_absolute() and path.is_file() and output.resolve() in path.parents
    with Image.open(path) as picture:
        assert picture.format == "PNG" and min(picture.size) >= 40
    assert image["image_caption"] == [facts["image"]["caption"]]
    assert image["image_footnote"] == []
    for word in facts["image"]["words"]:
        assert word in image["ocr_text"].upper()


def test_display_equation_and_latex(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    equations = _of(items, "equation", page=facts["equation"]["page"])
    by_text = {e["text"]: e for e in equations}
    assert by_text[facts["equation"]["text"]]["text_format"] == "text"
    latex = by_text[facts["latex"]["text"]]
    assert latex["text_format"] == "latex" and latex["latex"] == facts["latex"]["text"]
    assert facts["equation"]["text"] not in _text_of(_of(items, "text"), facts["equation"]["page"])


def test_image_only_page_is_read_by_ocr(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    page = facts["scan"]["page"]
    texts = _of(items, "text", page=page)
    assert texts and all(item["ocr"] is True for item in texts)
    words = " ".join(item["text"] for item in texts)
    for expected in ("DELIVERY", "Invoice", "48213", "Rotterdam"):
        assert expected in words
    [page_image] = _of(items, "image", page=page)  # no figure: the page's own picture only
    assert page_image["image_kind"] == "page" and page_image["ocr_text"].split()[:3] == words.split()[:3]


def test_two_columns_are_read_column_by_column(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    texts = [i["text"] for i in _of(items, "text", page=facts["columns"]["page"])]
    assert texts[0] == facts["columns"]["heading"]
    assert facts["columns"]["left"] in texts and facts["columns"]["right"] in texts
    assert texts.index(facts["columns"]["left"]) < texts.index(facts["columns"]["right"])


def test_running_header_footer_and_page_numbers_are_dropped(sample: tuple[dict[str, Any], Items, Path]) -> None:
    facts, items, _ = sample
    texts = [i["text"] for i in items if "text" in i]
    assert not any(facts["header"] in t or facts["footer"] in t for t in texts)
    assert not any(t.strip().isdigit() for t in texts)


def test_without_ocr_a_scanned_page_becomes_one_page_image(tmp_path: Path) -> None:
    facts = make_sample_pdf(tmp_path / "sample.pdf")
    items = parse_pdf(facts["path"], tmp_path / "out", ocr=False, workers=1)
    scan = [i for i in items if i["page_idx"] == facts["scan"]["page"]]
    assert [i["type"] for i in scan] == ["image"]
    assert Path(scan[0]["img_path"]).is_file()
    assert not [i for i in items if i.get("ocr")]


def test_worker_pool_gives_the_same_result_as_one_process(tmp_path: Path) -> None:
    path = tmp_path / "long.pdf"
    texts = make_text_pdf(path, pages=6)
    serial = parse_pdf(path, tmp_path / "serial", workers=1)
    pooled, stats = parse_pdf_with_stats(path, tmp_path / "pooled", workers=2)
    assert stats.workers == 2 and stats.pages == 6 and stats.ocr_pages == []
    assert pooled == serial
    assert [i["text"] for i in pooled] == texts


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (make_empty_pdf, "empty"),
        (make_truncated_pdf, "truncated"),
        (make_encrypted_pdf, "password"),
        (make_random_bytes_pdf, "not a PDF"),
    ],
)
def test_bad_input_raises_parse_error_naming_the_file(tmp_path: Path, make: Any, reason: str) -> None:
    path = tmp_path / f"bad-{reason.replace(' ', '_')}.pdf"
    make(path)
    with pytest.raises(errors.ParseError) as caught:
        parse_pdf(path, tmp_path / "out")
    message = str(caught.value)
    assert path.name in message and reason in message
    assert isinstance(caught.value, ValueError)  # callers that catch ValueError keep working
    assert caught.value.path.name == path.name


def test_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="missing.pdf"):
        parse_pdf(tmp_path / "missing.pdf", tmp_path / "out")


def test_reading_order_reads_columns_before_rows() -> None:
    title, left_top, left_bottom, right_top, right_bottom, footer = (
        (50, 50, 550, 70),
        (50, 100, 290, 200),
        (50, 210, 290, 400),
        (310, 100, 550, 300),
        (310, 310, 550, 400),
        (50, 500, 550, 520),
    )
    boxes = [footer, right_bottom, left_bottom, title, right_top, left_top]
    order = [boxes[i] for i in reading_order(boxes)]  # type: ignore[arg-type]
    assert order == [title, left_top, left_bottom, right_top, right_bottom, footer]


def test_join_lines_glues_hyphenated_words() -> None:
    assert join_lines(["the con-", "tainer terminal"]) == "the container terminal"
    assert join_lines(["the LOGIC-", "LM framework"]) == "the LOGIC-LM framework"
    assert join_lines(["costs fell", "by 5 -", "6 percent"]) == "costs fell by 5 - 6 percent"


def test_markdown_table_escapes_pipes_and_pads_rows() -> None:
    assert rows_to_markdown([["a|b", "c"], ["1"]]) == "| a\\|b | c |\n| --- | --- |\n| 1 |  |"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("y = a * x^2 + b * x + c", True),
        ("L(θ) = −Σ log p(x)", True),
        (r"\frac{a}{b} + c", True),
        ("Revenue grew by 12% = a good year for the company.", False),
        ("The harbour authority expanded its terminal.", False),
    ],
)
def test_math_line_detection(text: str, expected: bool) -> None:
    assert looks_like_math(text) is expected


def test_ocr_spaces_are_restored_between_glued_english_words() -> None:
    assert restore_spaces("werecreated andsupported") == "were created and supported"
    assert restore_spaces("WellingtonPartners,FidelityGrowth") == "Wellington Partners, Fidelity Growth"
    assert restore_spaces("LinkedIn EBITDA 2005-Q1/2011 $236M") == "LinkedIn EBITDA 2005-Q1/2011 $236M"
    assert restore_spaces("SCANNEDDELIVERYNOTE INTRODUCTION") == "SCANNED DELIVERY NOTE INTRODUCTION"
