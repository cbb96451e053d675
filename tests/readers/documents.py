"""Small test documents generated on the fly: DOCX (python-docx), HTML, Markdown, PNG with words, PDFs (reportlab).

Every generator writes into a folder it is given and returns the path, so tests never depend on checked-in
binaries. The words drawn or written are module constants the tests assert on.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

DIAGRAM_WORDS = ("QUERY", "NODE")
TABLE_HEADER = ("Region", "Q1", "Q2")
TABLE_ROWS = (("North", "10", "12"), ("South", "7", "9"))
HTML_TABLE = (("Component", "Role"), ("Proxy", "entry point"), ("Query node", "search"))


def make_png(path: Path, words: tuple[str, ...] = DIAGRAM_WORDS, *, icon: bool = False) -> Path:
    """A white PNG with ``words`` drawn large enough for OCR, inside a box (a tiny diagram).

    Args:
        path: Where to write the PNG.
        words: The words to draw, on one line.
        icon: Write a 16x16 icon instead (too small to be worth OCR: keeps tests that do not need OCR fast).
    """
    if icon:
        Image.new("RGB", (16, 16), "navy").save(path)
        return path
    image = Image.new("RGB", (640, 200), "white")
    pen = ImageDraw.Draw(image)
    pen.rectangle((10, 10, 630, 190), outline="black", width=4)
    pen.text((320, 100), " ".join(words), fill="black", font=ImageFont.load_default(size=56), anchor="mm")
    image.save(path)
    return path


def make_docx(folder: Path, name: str = "report.docx", *, icon: bool = False) -> Path:
    """A DOCX with a heading, two paragraphs, a sub-heading, a table with a header row and an embedded PNG.

    Args:
        folder: Where to write it.
        name: The file name.
        icon: Embed a tiny icon instead of the diagram with words.
    """
    from docx import Document
    from docx.shared import Inches

    picture = make_png(folder / f"{Path(name).stem}-figure.png", icon=icon)
    doc = Document()
    doc.add_heading("Quarterly Report", level=1)
    doc.add_paragraph("Revenue grew in every region this quarter.")
    doc.add_heading("Revenue by region", level=2)
    doc.add_paragraph("The table below lists revenue by region, in millions.")
    table = doc.add_table(rows=1 + len(TABLE_ROWS), cols=len(TABLE_HEADER))
    for r, row in enumerate((TABLE_HEADER, *TABLE_ROWS)):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    doc.add_picture(str(picture), width=Inches(4))
    doc.add_paragraph("The diagram shows the query node.")
    path = folder / name
    doc.save(str(path))
    picture.unlink()
    return path


def make_html(folder: Path, name: str = "guide.html", *, icon: bool = True) -> Path:
    """An HTML page with a title, a heading, a paragraph, a captioned table and a captioned local image.

    Args:
        folder: Where to write it (the image is written next to it).
        name: The file name.
        icon: Reference a tiny icon (default) instead of the diagram with words.
    """
    picture = make_png(folder / f"{Path(name).stem}-diagram.png", icon=icon)
    head, *rows = HTML_TABLE
    body_rows = "".join(f"<tr><td>{a}</td><td>{b}</td></tr>" for a, b in rows)
    html = f"""<!DOCTYPE html>
<html><head><title>Page title (furniture)</title></head>
<body>
<h1>Milvus Guide</h1>
<p>Milvus stores and searches vectors.</p>
<h2>Components</h2>
<table><caption>Table 1: components</caption>
<tr><th>{head[0]}</th><th>{head[1]}</th></tr>{body_rows}</table>
<figure><img src="{picture.name}" alt="architecture"><figcaption>Figure 1: architecture</figcaption></figure>
<img src="https://example.invalid/remote.png" alt="remote image">
</body></html>
"""
    path = folder / name
    path.write_text(html, encoding="utf-8")
    return path


def make_markdown(folder: Path, name: str = "notes.md") -> Path:
    """A Markdown file with two heading levels, inline formatting, a table and a local image (a tiny icon).

    Args:
        folder: Where to write it (the image is written next to it).
        name: The file name.
    """
    make_png(folder / "md-diagram.png", icon=True)
    text = (
        "# Release notes\n\n"
        "Milvus *2.5* adds **full-text** search.\n\n"
        "## Limits\n\n"
        "| Setting | Value |\n|---|---|\n| max dim | 32768 |\n| max topk | 16384 |\n\n"
        "![diagram](md-diagram.png)\n"
    )
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


PDF_PAGES = (
    "Milvus supports hybrid search over dense and sparse vectors.",
    "The second page describes Milvus Lite, which runs in process.",
)


def make_pdf(path: Path, pages: tuple[str, ...] = PDF_PAGES, *, password: str | None = None) -> Path:
    """A text PDF with one line per page (``password`` encrypts it). Lines of 20+ characters keep the text
    layer in use (shorter pages would be read by OCR).

    Args:
        path: Where to write it.
        pages: The text of each page.
        password: User password; the PDF cannot be opened without it.
    """
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), encrypt=password) if password else canvas.Canvas(str(path))
    for text in pages:
        pdf.setFont("Helvetica", 14)
        pdf.drawString(72, 720, text)
        pdf.showPage()
    pdf.save()
    return path


def make_truncated_pdf(path: Path) -> Path:
    """A PDF cut in half, as after an interrupted download.

    Args:
        path: Where to write it.
    """
    full = make_pdf(path.with_name(path.stem + "-full.pdf"))
    data = full.read_bytes()
    full.unlink()
    path.write_bytes(data[: len(data) // 2])
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """A file with a PDF header and end marker but garbage in between.

    Args:
        path: Where to write it.
    """
    path.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 16 + b"\n%%EOF\n")
    return path
