"""Real PDFs for tests, drawn with reportlab (and Pillow for the raster parts).

Each generator writes a file and returns what it put in, so tests can assert against it.

Example:
    >>> facts = make_sample_pdf(tmp_dir / "sample.pdf")
    >>> facts["table"]["header"]
    ['Region', 'Q1', 'Q2', 'Q3']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib import colors
from reportlab.lib.pagesizes import letter
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Table, TableStyle

PAGE_WIDTH, PAGE_HEIGHT = letter
MARGIN = 72.0
HEADER_TEXT = "ACME Corporation Annual Report 2024"
FOOTER_TEXT = "Confidential - internal use only"

INTRO_PARAGRAPHS = [
    "The harbour authority expanded its container terminal during the year, adding four cranes and a new "
    "rail spur. Throughput grew steadily across all quarters while dwell times fell, which lifted the "
    "utilisation of every berth and reduced the queue of vessels waiting at anchor outside the port.",
    "Maintenance spending stayed within budget. The dredging programme finished ahead of schedule and the "
    "northern breakwater was reinforced before the storm season, protecting the inner basin from swell.",
]
TABLE_ROWS = [
    ["Region", "Q1", "Q2", "Q3"],
    ["North", "120", "135", "150"],
    ["South", "98", "101", "117"],
    ["West", "77", "84", "90"],
]
IMAGE_WORDS = ["REVENUE", "GROWTH"]
SCAN_LINES = ["SCANNED DELIVERY NOTE", "Invoice number 48213", "Shipped to Rotterdam harbour"]
LEFT_COLUMN = (
    "Left column alpha: the western gate processed more trucks than planned, and the appointment system "
    "kept peak queues short. Drivers reported faster turnaround at the gate during the morning shift."
)
RIGHT_COLUMN = (
    "Right column omega: the eastern yard trialled automated stacking cranes. Early results show fewer "
    "reshuffles per box and lower energy use per move than the manual cranes they replace."
)
EQUATION_TEXT = "y = a * x^2 + b * x + c"
LATEX_TEXT = r"\frac{a}{b} + \sqrt{x} = z"


def make_sample_pdf(path: str | Path) -> dict[str, Any]:
    """Write a four-page report exercising every modality.

    Page 1: heading, two paragraphs, a captioned ruled table. Page 2: a paragraph, a captioned PNG with
    words drawn in its pixels, a display equation and a LaTeX line. Page 3: a picture of text only (no
    text layer). Page 4: a heading over two columns. Pages 1, 2 and 4 carry a running header, a footer
    and a bare page number.

    Args:
        path: Where to write the PDF.

    Returns:
        What the PDF contains, by modality, with 0-based page indices.
    """
    path = Path(path)
    canvas = Canvas(str(path), pagesize=letter)
    _draw_page_one(canvas)
    _draw_running_text(canvas, 1)
    canvas.showPage()
    _draw_page_two(canvas)
    _draw_running_text(canvas, 2)
    canvas.showPage()
    _draw_scanned_page(canvas)
    canvas.showPage()
    _draw_page_four(canvas)
    _draw_running_text(canvas, 4)
    canvas.showPage()
    canvas.save()
    return {
        "path": path,
        "pages": 4,
        "header": HEADER_TEXT,
        "footer": FOOTER_TEXT,
        "heading": {"page": 0, "text": "1 Introduction"},
        "paragraphs": {"page": 0, "texts": INTRO_PARAGRAPHS},
        "table": {"page": 0, "header": TABLE_ROWS[0], "rows": TABLE_ROWS, "caption": "Table 1: Quarterly volume by region"},
        "image": {"page": 1, "caption": "Figure 1: Sales dashboard of the terminal", "words": IMAGE_WORDS},
        "equation": {"page": 1, "text": EQUATION_TEXT},
        "latex": {"page": 1, "text": LATEX_TEXT},
        "scan": {"page": 2, "lines": SCAN_LINES},
        "columns": {"page": 3, "heading": "2 Results", "left": LEFT_COLUMN, "right": RIGHT_COLUMN},
    }


def make_figure_pdf(path: str | Path) -> dict[str, Any]:
    """Write a one-page report: a paragraph, a captioned PNG with words drawn in its pixels, two formulas
    (``make_sample_pdf``'s second page alone, for tests that need a figure the parser extracts, cheaply).

    Args:
        path: Where to write the PDF.

    Returns:
        The figure's caption and words, with its 0-based page.
    """
    canvas = Canvas(str(path), pagesize=letter)
    _draw_page_two(canvas)
    canvas.showPage()
    canvas.save()
    return {"path": Path(path), "image": {"page": 0, "caption": "Figure 1: Sales dashboard of the terminal", "words": IMAGE_WORDS}}


def make_modal_pdf(path: str | Path) -> dict[str, Any]:
    """Write a two-page report with one item of each modal kind: ``make_sample_pdf``'s first two pages (a captioned
    table; a captioned PNG with words drawn in its pixels, a display equation and a LaTeX line), without the
    scanned page and the columns, for tests that need every modality through the parser, cheaply.

    Args:
        path: Where to write the PDF.

    Returns:
        What the PDF contains, by modality, with 0-based page indices.
    """
    canvas = Canvas(str(path), pagesize=letter)
    _draw_page_one(canvas)
    canvas.showPage()
    _draw_page_two(canvas)
    canvas.showPage()
    canvas.save()
    return {
        "path": Path(path),
        "table": {"page": 0, "rows": TABLE_ROWS, "caption": "Table 1: Quarterly volume by region"},
        "image": {"page": 1, "caption": "Figure 1: Sales dashboard of the terminal", "words": IMAGE_WORDS},
        "equation": {"page": 1, "text": EQUATION_TEXT},
        "latex": {"page": 1, "text": LATEX_TEXT},
    }


def make_text_pdf(path: str | Path, pages: int) -> list[str]:
    """Write a text-only PDF with one numbered paragraph per page (for the multi-process path).

    Args:
        path: Where to write the PDF.
        pages: Number of pages.

    Returns:
        The paragraph of each page.
    """
    canvas = Canvas(str(path), pagesize=letter)
    texts = []
    for number in range(pages):
        text = (
            f"Section {number + 1} reports the tonnage handled in month {number + 1}. Cargo volumes were "
            f"recorded per berth and reconciled with customs data before the figures were published."
        )
        _paragraph(canvas, text, MARGIN, PAGE_HEIGHT - 2 * MARGIN, PAGE_WIDTH - 2 * MARGIN)
        texts.append(text)
        canvas.showPage()
    canvas.save()
    return texts


def make_encrypted_pdf(path: str | Path, password: str = "s3cret") -> Path:
    """Write a PDF that needs a password to open.

    Args:
        path: Where to write the PDF.
        password: The user password.
    """
    canvas = Canvas(str(path), pagesize=letter, encrypt=StandardEncryption(password, ownerPassword="owner"))
    _paragraph(canvas, "This document is locked.", MARGIN, PAGE_HEIGHT - 2 * MARGIN, 300)
    canvas.showPage()
    canvas.save()
    return Path(path)


def make_truncated_pdf(path: str | Path, keep: float = 0.6) -> Path:
    """Write the sample report cut short, as an interrupted download leaves it.

    Args:
        path: Where to write the PDF.
        keep: Share of the bytes kept.
    """
    path = Path(path)
    full = path.with_name(path.stem + "-full.pdf")
    make_sample_pdf(full)
    data = full.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    full.unlink()
    return path


def make_random_bytes_pdf(path: str | Path, size: int = 4096) -> Path:
    """Write random bytes under a ``.pdf`` name.

    Args:
        path: Where to write the file.
        size: Number of bytes.
    """
    Path(path).write_bytes(os.urandom(size))
    return Path(path)


def make_empty_pdf(path: str | Path) -> Path:
    """Write a zero-byte file under a ``.pdf`` name.

    Args:
        path: Where to write the file.
    """
    Path(path).write_bytes(b"")
    return Path(path)


TERMINAL_ROWS = [
    ["Terminal", "Containers 2024", "Cranes"],
    ["North", "9,020", "6"],
    ["West", "8,150", "4"],
    ["East", "7,310", "5"],
]
TERMINAL_PROSE = (
    "Container handling at the harbour terminals was reviewed for 2024. The terminals handled 12,400 "
    "containers in the busiest month, and the West terminal opened a new gate for container trucks."
)


def make_table_answer_pdf(path: str | Path) -> dict[str, Any]:
    """Write a two-page report whose per-terminal figures are only in a table, under prose with another number.

    Page 1: a paragraph about container handling at the terminals (naming the West terminal and 12,400
    containers), then a ruled table of containers per terminal (West: 8,150). Page 2: unrelated prose.

    Args:
        path: Where to write the PDF.

    Returns:
        The table's rows, the prose and the 0-based page of both.
    """
    canvas = Canvas(str(path), pagesize=letter)
    y = _paragraph(canvas, TERMINAL_PROSE, MARGIN, PAGE_HEIGHT - 100, PAGE_WIDTH - 2 * MARGIN) - 24
    canvas.setFont("Helvetica", 11)
    canvas.drawString(MARGIN, y, "Table 2: Containers handled per terminal")
    table = Table(TERMINAL_ROWS, colWidths=[110, 110, 70], rowHeights=20)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.8, colors.black), ("FONT", (0, 0), (-1, -1), "Helvetica", 10)]))
    _, height = table.wrapOn(canvas, PAGE_WIDTH, PAGE_HEIGHT)
    table.drawOn(canvas, MARGIN, y - 12 - height)
    canvas.showPage()
    _paragraph(canvas, INTRO_PARAGRAPHS[1], MARGIN, PAGE_HEIGHT - 100, PAGE_WIDTH - 2 * MARGIN)
    canvas.showPage()
    canvas.save()
    return {"path": Path(path), "page": 0, "rows": TERMINAL_ROWS, "prose": TERMINAL_PROSE}


def text_picture(lines: list[str], size: tuple[int, int], font_size: int) -> Image.Image:
    """Black text on white, one line under the other (a stand-in for a scan or a screenshot).

    Args:
        lines: The text lines.
        size: Picture size in pixels.
        font_size: Font size in pixels.
    """
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=font_size)
    y = font_size
    for line in lines:
        draw.text((font_size, y), line, fill="black", font=font)
        y += int(font_size * 1.8)
    return picture


def _draw_running_text(canvas: Canvas, number: int) -> None:
    canvas.setFont("Helvetica", 9)
    canvas.drawString(MARGIN, PAGE_HEIGHT - 40, HEADER_TEXT)
    canvas.drawString(MARGIN, 30, FOOTER_TEXT)
    canvas.drawRightString(PAGE_WIDTH - MARGIN, 30, str(number))


def _draw_page_one(canvas: Canvas) -> None:
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(MARGIN, PAGE_HEIGHT - 100, "1 Introduction")
    y = PAGE_HEIGHT - 130
    for text in INTRO_PARAGRAPHS:
        y = _paragraph(canvas, text, MARGIN, y, PAGE_WIDTH - 2 * MARGIN) - 14
    canvas.setFont("Helvetica", 11)
    canvas.drawString(MARGIN, y - 10, "Table 1: Quarterly volume by region")
    table = Table(TABLE_ROWS, colWidths=[110, 70, 70, 70], rowHeights=20)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.8, colors.black),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 10),
                ("FONT", (0, 1), (-1, -1), "Helvetica", 10),
            ]
        )
    )
    _, height = table.wrapOn(canvas, PAGE_WIDTH, PAGE_HEIGHT)
    table.drawOn(canvas, MARGIN, y - 22 - height)


def _draw_page_two(canvas: Canvas) -> None:
    y = _paragraph(
        canvas,
        "The dashboard below summarises the year. Revenue grew in every quarter and the board approved "
        "the plan for a second terminal.",
        MARGIN,
        PAGE_HEIGHT - 100,
        PAGE_WIDTH - 2 * MARGIN,
    )
    picture = text_picture(IMAGE_WORDS, (600, 260), 64)
    canvas.drawImage(ImageReader(picture), MARGIN, y - 30 - 180, width=300, height=130)
    canvas.setFont("Helvetica", 11)
    canvas.drawString(MARGIN, y - 30 - 200, "Figure 1: Sales dashboard of the terminal")
    canvas.setFont("Helvetica", 13)
    canvas.drawCentredString(PAGE_WIDTH / 2, y - 300, EQUATION_TEXT)
    canvas.setFont("Courier", 11)
    canvas.drawCentredString(PAGE_WIDTH / 2, y - 340, LATEX_TEXT)
    _paragraph(
        canvas,
        "After the formulas, the report returns to prose and closes the section on finance.",
        MARGIN,
        y - 380,
        PAGE_WIDTH - 2 * MARGIN,
    )


def _draw_scanned_page(canvas: Canvas) -> None:
    picture = text_picture(SCAN_LINES, (1275, 1650), 44)
    canvas.drawImage(ImageReader(picture), 0, 0, width=PAGE_WIDTH, height=PAGE_HEIGHT)


def _draw_page_four(canvas: Canvas) -> None:
    canvas.setFont("Helvetica-Bold", 18)
    canvas.drawString(MARGIN, PAGE_HEIGHT - 100, "2 Results")
    column_width = (PAGE_WIDTH - 2 * MARGIN - 24) / 2
    _paragraph(canvas, LEFT_COLUMN, MARGIN, PAGE_HEIGHT - 130, column_width)
    _paragraph(canvas, RIGHT_COLUMN, MARGIN + column_width + 24, PAGE_HEIGHT - 130, column_width)


def _paragraph(canvas: Canvas, text: str, x: float, y: float, width: float, size: float = 11) -> float:
    """Draw wrapped text from baseline ``y`` downwards; return the baseline below the last line."""
    canvas.setFont("Helvetica", size)
    for line in simpleSplit(text, "Helvetica", size, width):
        canvas.drawString(x, y, line)
        y -= size * 1.3
    return y
