"""Scanned PDFs for tests: pages that are pictures only (no text layer), drawn with Pillow, placed by reportlab.

Example:
    >>> facts = make_scanned_chart_pdf(tmp_dir / "scan.pdf")
    >>> facts["chart"]["labels"]
    ['Q1', 'Q2', 'Q3', 'Q4']
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import letter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

SCAN_SIZE = (1275, 1650)
"""Pixels of a scanned letter page (150 dpi)."""

CHART_TITLE = "Container throughput by quarter"
CHART_CAPTION = "Figure 1: Containers handled (thousands)"
CHART_LABELS = ["Q1", "Q2", "Q3", "Q4"]
PARAGRAPH_ABOVE = [
    "The harbour handled more containers in every quarter of the year, and",
    "the new cranes cut the average dwell time of a box by a third.",
]
PARAGRAPH_BELOW = [
    "Rail traffic grew as well: the new spur carried a fifth of all boxes",
    "leaving the terminal, which relieved the road gate at peak hours.",
]
_CHART_PIXELS = (160, 380, 1115, 1000)  # the axes' box on the scan
_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def make_scanned_chart_pdf(path: str | Path) -> dict[str, Any]:
    """Write a three-page scanned report, every page a picture only.

    Page 1: a title, a paragraph, a bar chart (four labelled bars, a value axis) with its caption under it,
    and a paragraph after it. Page 2: a blank sheet. Page 3: page 1's picture again on a page the PDF rotates
    by 90 degrees (so it displays sideways).

    Args:
        path: Where to write the PDF.

    Returns:
        What the scan shows, with 0-based pages and the chart's box in page points (top-left origin).
    """
    picture = _chart_page()
    width, height = letter
    canvas = Canvas(str(path), pagesize=letter)
    canvas.drawImage(ImageReader(picture), 0, 0, width=width, height=height)
    canvas.showPage()
    canvas.drawImage(ImageReader(Image.new("RGB", SCAN_SIZE, "white")), 0, 0, width=width, height=height)
    canvas.showPage()
    canvas.drawImage(ImageReader(picture), 0, 0, width=width, height=height)
    canvas.setPageRotation(90)
    canvas.showPage()
    canvas.save()
    points = width / SCAN_SIZE[0]
    return {
        "path": Path(path),
        "size": (width, height),
        "title": CHART_TITLE,
        "before": " ".join(PARAGRAPH_ABOVE),
        "after": " ".join(PARAGRAPH_BELOW),
        "chart": {
            "page": 0,
            "bbox": tuple(v * points for v in _CHART_PIXELS),
            "labels": CHART_LABELS,
            "caption": CHART_CAPTION,
        },
        "blank_page": 1,
        "rotated_page": 2,
    }


def _chart_page() -> Image.Image:
    picture = Image.new("RGB", SCAN_SIZE, "white")
    draw = ImageDraw.Draw(picture)
    draw.text((100, 90), CHART_TITLE, fill="black", font=_font(52))
    _lines(draw, PARAGRAPH_ABOVE, 200)
    x0, y0, x1, y1 = _CHART_PIXELS
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill="black", width=4)
    for index, (label, share, colour) in enumerate(zip(CHART_LABELS, (0.45, 0.62, 0.8, 0.95), _COLOURS)):
        left = x0 + 60 + index * 230
        draw.rectangle([left, y1 - int(share * (y1 - y0 - 40)), left + 140, y1], fill=colour)
        draw.text((left + 40, y1 + 15), label, fill="black", font=_font(36))
    for step in range(5):
        y = y1 - step * (y1 - y0 - 40) // 4
        draw.text((x0 - 90, y - 18), str(step * 50), fill="black", font=_font(30))
        draw.line([(x0 - 10, y), (x0, y)], fill="black", width=3)
    draw.text((x0 + 250, y1 + 80), CHART_CAPTION, fill="black", font=_font(32))
    _lines(draw, PARAGRAPH_BELOW, 1180)
    return picture


def _lines(draw: ImageDraw.ImageDraw, lines: list[str], y: int) -> None:
    for line in lines:
        draw.text((100, y), line, fill="black", font=_font(30))
        y += 46


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)
