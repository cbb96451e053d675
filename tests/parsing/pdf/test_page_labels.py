"""Printed page labels: real PDFs drawn with reportlab (and labelled with pypdf), parsed by the offline parser."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader, PdfWriter
from PIL import Image, ImageDraw
from pypdf.constants import PageLabelStyle
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from llama_index_mmrag.parsing.pdf.page_labels import page_labels, printed_number
from llama_index_mmrag.parsing.pdf.parse import parse_pdf
from llama_index_mmrag.schema.block import ContentBlock
from llama_index_mmrag.schema.nodes import block_from_node, blocks_to_nodes
from tests.support.scans import SCAN_SIZE, _font

TOPICS = [
    "The harbour authority publishes its annual review of container traffic and berth planning.",
    "The foreword thanks the pilots, the tug crews and the customs officers for a demanding season.",
    "The contents list the chapters on cranes, gates, rail links and the environmental programme.",
    "Quay cranes moved more boxes per hour after the spreaders were replaced in the spring.",
    "The gate appointment system shortened truck queues on the access road to the terminal.",
    "Rail shuttles to the inland depot carried a larger share of the import containers.",
    "Shore power for cruise ships was connected at the northern berth in the autumn.",
    "Dredging of the approach channel kept the draught for the largest vessels of the fleet.",
]


def write_numbered_pdf(path: Path, footers: Sequence[str | None], *, topics: Sequence[str] = TOPICS) -> Path:
    """One page per footer, each with its own sentence; ``footers[i]`` is printed centred at the page's foot."""
    canvas = Canvas(str(path), pagesize=letter)
    for index, footer in enumerate(footers):
        canvas.setFont("Helvetica", 11)
        canvas.drawString(72, 700, topics[index % len(topics)])
        canvas.drawString(72, 682, f"Section notes for sheet {chr(65 + index)} of the review continue below.")
        if footer is not None:
            canvas.setFont("Helvetica", 9)
            canvas.drawCentredString(306, 36, footer)
        canvas.showPage()
    canvas.save()
    return path


def labels_by_page(items: list[dict[str, Any]]) -> dict[int, str | None]:
    found: dict[int, set[str | None]] = {}
    for item in items:
        found.setdefault(item["page_idx"], set()).add(item.get("page_label"))
    assert all(len(labels) == 1 for labels in found.values()), found  # one label per page, on every item
    return {page: labels.pop() for page, labels in found.items()}


FRONT_MATTER = [None, "i", "ii", "1", "2", "3", "4", "5"]


def test_cover_roman_front_matter_then_arabic_pages_get_their_printed_labels(tmp_path: Path) -> None:
    pdf = write_numbered_pdf(tmp_path / "review.pdf", FRONT_MATTER)
    items = parse_pdf(pdf, tmp_path / "parsed", ocr=False, workers=1)
    assert labels_by_page(items) == {0: None, 1: "i", 2: "ii", 3: "1", 4: "2", 5: "3", 6: "4", 7: "5"}
    assert not any(item.get("text", "").strip() in {"i", "ii", "1", "2", "3"} for item in items)  # still dropped from the text


def test_a_page_without_a_number_inside_a_numbered_run_takes_its_place(tmp_path: Path) -> None:
    pdf = write_numbered_pdf(tmp_path / "gap.pdf", [None, "1", "2", None, "4", "5", None])
    labels = labels_by_page(parse_pdf(pdf, tmp_path / "parsed", ocr=False, workers=1))
    assert labels == {0: None, 1: "1", 2: "2", 3: "3", 4: "4", 5: "5", 6: None}  # the back cover is outside the run


def test_scanned_pages_are_labelled_from_their_ocr_read_footers(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    canvas = Canvas(str(path), pagesize=letter)
    for index, footer in enumerate([None, "Page 1", "Page 2", "Page 3"]):
        scan = Image.new("RGB", SCAN_SIZE, "white")
        draw = ImageDraw.Draw(scan)
        words = TOPICS[index].split()
        draw.text((100, 150), " ".join(words[:6]), fill="black", font=_font(30))
        draw.text((100, 200), " ".join(words[6:]), fill="black", font=_font(30))
        if footer is not None:
            draw.text((580, 1560), footer, fill="black", font=_font(30))
        canvas.drawImage(ImageReader(scan), 0, 0, width=letter[0], height=letter[1])
        canvas.showPage()
    canvas.save()
    items = parse_pdf(path, tmp_path / "parsed", workers=1)
    assert labels_by_page(items) == {0: None, 1: "1", 2: "2", 3: "3"}
    assert all(item["ocr"] for item in items if item["type"] == "text")  # read by OCR, not from a text layer


def _with_pdf_labels(source: Path, target: Path) -> Path:
    writer = PdfWriter(clone_from=PdfReader(str(source)))
    writer.set_page_label(0, 1, style=PageLabelStyle.UPPERCASE_LETTER)
    writer.set_page_label(2, len(writer.pages) - 1, style=PageLabelStyle.DECIMAL, start=3806)
    writer.write(str(target))
    return target


def test_the_pdf_s_own_page_labels_win_over_printed_numbers(tmp_path: Path) -> None:
    printed = write_numbered_pdf(tmp_path / "printed.pdf", ["7", "8", "9", "10", "11"])
    pdf = _with_pdf_labels(printed, tmp_path / "labelled.pdf")
    labels = labels_by_page(parse_pdf(pdf, tmp_path / "parsed", ocr=False, workers=1))
    assert labels == {0: "A", 1: "B", 2: "3806", 3: "3807", 4: "3808"}


@pytest.mark.parametrize(
    "footers",
    [
        ["2024", "2024", "2024", "2024", "2024"],  # a year in every footer
        [None, None, "42", None, None, None],  # a number on one page only
        ["12", "3", "77", "5", "31", "8"],  # numbers that do not count the pages
        ["1", "2", "3", "9", "14", "15", "26", "30"],  # three in a row, then numbers at other offsets: no clear run
        ["Total 12", "Total 12", "Total 12", "Ext. 4417", "Ext. 4417"],  # totals and phone extensions
    ],
)
def test_numbers_that_are_not_page_numbers_give_no_labels(tmp_path: Path, footers: list[str | None]) -> None:
    pdf = write_numbered_pdf(tmp_path / "hostile.pdf", footers)
    labels = labels_by_page(parse_pdf(pdf, tmp_path / "parsed", ocr=False, workers=1))
    assert set(labels.values()) == {None}


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ([[], ["ii"], ["1"], ["2"], [], ["4"]], [None, None, "1", "2", "3", "4"]),  # one roman page: not a run
        ([["I"], ["II"], ["III"], ["1"], ["2"], ["3"]], ["I", "II", "III", "1", "2", "3"]),
        ([["2024", "1"], ["2024", "2"], ["2024", "3"]], ["1", "2", "3"]),  # a year beside the page number
        ([["3806"], ["3807"], ["3808"], ["3809"]], ["3806", "3807", "3808", "3809"]),
        ([["1"], ["2"], ["3"], ["1"], ["2"], ["3"]], [None] * 6),  # numbering restarts: two runs tie, none wins
        ([["5"], ["6"], ["7"], ["8"], ["99"], ["10"]], ["5", "6", "7", "8", None, "10"]),  # a misprint gets none
    ],
)
def test_the_consistency_rule(printed: list[list[str]], expected: list[str | None]) -> None:
    assert page_labels(printed, pdf_labels=[]) == expected


def test_pdf_labels_are_cleaned_and_used_only_when_the_pdf_has_some() -> None:
    assert page_labels([["1"], ["2"], ["3"]], pdf_labels=["", "", ""]) == ["1", "2", "3"]
    assert page_labels([[], []], pdf_labels=['3" or page != "', "\x00\x1f7\n"]) == ['3" or page != "', "7"]


def test_printed_number_reads_only_page_numbers() -> None:
    assert [printed_number(t) for t in ("- 12 -", "Page 4 of 9", "p. 7", "iv", "Figure 2", "Mix", "12.5")] == [
        "12", "4", "7", "iv", None, None, None,
    ]


def test_the_label_travels_from_item_to_block_to_node_and_back() -> None:
    item = {"type": "text", "text": "Quay cranes moved more boxes.", "page_idx": 5, "page_label": "3"}
    block = ContentBlock.from_content_item(item, doc="review.pdf", doc_id="h", parser="mmrag", index=0)
    assert block.page_label == "3" and block.to_content_item()["page_label"] == "3"
    node = blocks_to_nodes([block])[0]
    assert node.metadata["page"] == 5 and node.metadata["page_label"] == "3"
    assert "page_label" in node.excluded_embed_metadata_keys  # the embedding stays what it was
    assert block_from_node(node)[0].page_label == "3"
    unlabelled = ContentBlock.from_content_item({"type": "text", "text": "x", "page_idx": 0}, doc="a.txt", doc_id="h", parser="mmrag", index=0)
    assert unlabelled.page_label is None and "page_label" not in blocks_to_nodes([unlabelled])[0].metadata
