"""A corpus of bad (and merely awkward) input files, generated at test time: nothing binary is committed.

Each :class:`BadInput` says what to hand to ``ingest`` and what must come of it: a failure whose reason names
the problem (and the file), or a success (awkward names, broken-but-readable HTML, non-UTF-8 text, a folder
given twice). Kinds that cannot be built on this machine carry a ``skip`` reason instead of being dropped.

Example:
    >>> corpus = make_bad_inputs(tmp_path)                     # doctest: +SKIP
    >>> [c.kind for c in corpus if c.outcome == "fail"][:3]     # doctest: +SKIP
    ['zero_byte', 'truncated_pdf', 'password_pdf']
"""

from __future__ import annotations

import os
import random
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.readers.documents import make_docx, make_html, make_pdf, make_png, make_truncated_pdf

Outcome = Literal["fail", "ok"]

KINDS = (
    "zero_byte",
    "truncated_pdf",
    "password_pdf",
    "pdf_claiming_10M_pages",
    "png_20000x20000",
    "svg",
    "docx_zip_bomb",
    "png_named_pdf",
    "pdf_named_png",
    "random_bytes_docx",
    "missing_path",
    "symlink_loop",
    "dangling_symlink",
    "unreadable_chmod_000",
    "fifo",
    "whitespace_only_text",
    "binary_named_txt",
    "unknown_extension",
    "same_name_twice_in_a_batch",
    "folder_with_a_fifo",
    "long_file_name_180_chars",
    "latin1_text",
    "utf16_text",
    "name_with_spaces",
    "unicode_name",
    "quotes_in_name",
    "broken_html",
    "huge_single_line_text",
    "folder_given_twice",
    "html_with_a_remote_image",
)
"""Every kind :func:`make_bad_inputs` writes, in order (test ids)."""

GOOD_TEXT = (
    "Milvus keeps vectors in segments.\n\n"
    "A segment is sealed when it grows past its size limit, and sealed segments are indexed in the background.\n"
)
LATIN1_TEXT = (
    "Le caf\u00e9 est servi \u00e0 la terrasse. Les cr\u00e8mes br\u00fbl\u00e9es sont pr\u00e9par\u00e9es chaque matin par "
    "le p\u00e2tissier, et la fa\u00e7ade du b\u00e2timent a \u00e9t\u00e9 r\u00e9nov\u00e9e cet \u00e9t\u00e9.\n"
)
"""French prose saved as Latin-1 (long enough for encoding detection to be sure of it)."""
HUGE_LINE_BYTES = 150_000
"""Size of the single-line text file: far past any one Milvus VARCHAR (65,535 bytes)."""
BOMB_UNPACKED_BYTES = 96 * 1024 * 1024
"""What the DOCX zip bomb inflates to (its archive is about a thousandth of that)."""


@dataclass(frozen=True)
class BadInput:
    """One kind of bad input and what must come of ingesting it.

    Args:
        kind: A short identifier (used as the test id).
        paths: What to pass to ``ingest`` (a folder given twice is two entries).
        outcome: ``"fail"``: every file in ``names`` is reported with a reason containing ``words``;
            ``"ok"``: every document in ``names`` is ingested.
        names: The file names reported (fail) or the document names stored (ok).
        words: A fragment the failure reason must contain (case-insensitive); empty for ``ok``.
        skip: Why this kind cannot be exercised here (e.g. ``chmod 000`` as root), else ``None``.
        also_ok: Documents that come with a failing kind (the good files of a folder) and must be ingested.
    """

    kind: str
    paths: tuple[Path, ...]
    outcome: Outcome
    names: tuple[str, ...]
    words: str = ""
    skip: str | None = None
    also_ok: tuple[str, ...] = ()


def _text(path: Path, text: str = GOOD_TEXT, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_pdf_objects(path: Path, objects: list[bytes]) -> Path:
    """Write a PDF of these numbered objects (object 1 is the catalog) with a correct xref table and trailer.

    Args:
        path: Where to write it.
        objects: Each object's body, in object-number order.
    """
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(bytes(out))
    return path


def make_pdf_claiming_pages(path: Path, claimed: int = 10_000_000) -> Path:
    """A one-page PDF whose page tree claims ``claimed`` pages (a crafted ``/Count``), with a valid xref.

    Args:
        path: Where to write it.
        claimed: The ``/Count`` written into the page tree.
    """
    content = b"BT /F1 14 Tf 72 720 Td (A one page PDF that claims ten million pages.) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count %d >>" % claimed,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return write_pdf_objects(path, objects)


def make_png_bomb(path: Path, side: int = 20_000) -> Path:
    """A real ``side`` x ``side`` 1-bit PNG (all black): a few kilobytes on disk, 400 megapixels decoded.

    Args:
        path: Where to write it.
        side: Width and height in pixels.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + packed bits
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row * 500) for _ in range(side // 500)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


def make_docx_zip_bomb(folder: Path, name: str = "bomb.docx", unpacked: int = BOMB_UNPACKED_BYTES) -> Path:
    """A real DOCX whose ``word/document.xml`` inflates to ``unpacked`` bytes (whitespace padding).

    Args:
        folder: Where to write it.
        name: The file name.
        unpacked: Uncompressed size of the padded document part.
    """
    source = make_docx(folder, name=f"src-{name}", icon=True)
    path = folder / name
    block = b" " * (1 << 20)
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename != "word/document.xml":
                dst.writestr(info, data)
                continue
            head, tail = data.rsplit(b"</w:body>", 1)
            padded = zipfile.ZipInfo("word/document.xml", date_time=info.date_time)
            padded.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(padded, "w", force_zip64=True) as part:
                part.write(head)
                for _ in range(unpacked // len(block)):
                    part.write(block)
                part.write(b"</w:body>" + tail)
    source.unlink()
    return path


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def make_bad_inputs(folder: Path) -> list[BadInput]:
    """Write every kind of bad input under ``folder`` and say what ingesting each must do.

    Args:
        folder: An empty folder (files and sub-folders are created in it).

    Returns:
        At least twenty kinds, failures and awkward successes.
    """
    folder.mkdir(parents=True, exist_ok=True)
    cases: list[BadInput] = []

    def fail(kind: str, path: Path, words: str, skip: str | None = None) -> None:
        cases.append(BadInput(kind, (path,), "fail", (path.name,), words, skip))

    def ok(kind: str, paths: tuple[Path, ...], names: tuple[str, ...]) -> None:
        cases.append(BadInput(kind, paths, "ok", names))

    empty = folder / "zero byte.pdf"
    empty.write_bytes(b"")
    fail("zero_byte", empty, "empty (0 bytes)")
    fail("truncated_pdf", make_truncated_pdf(folder / "truncated.pdf"), "truncated")
    fail("password_pdf", make_pdf(folder / "locked.pdf", ("A secret page of text.",), password="pw"), "password")
    claims = make_pdf_claiming_pages(folder / "ten-million-pages.pdf")
    ok("pdf_claiming_10M_pages", (claims,), (claims.name,))  # read as the one page it has, quickly
    fail("png_20000x20000", make_png_bomb(folder / "huge-canvas.png"), "too large")
    svg = folder / "drawing.svg"
    svg.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>')
    fail("svg", svg, "unsupported file type .svg")
    fail("docx_zip_bomb", make_docx_zip_bomb(folder), "zip bomb")
    png_as_pdf = folder / "image-named.pdf"
    png_as_pdf.write_bytes(make_png(folder / "tmp-image.png", icon=True).read_bytes())
    (folder / "tmp-image.png").unlink()
    fail("png_named_pdf", png_as_pdf, "PNG image")
    pdf_as_png = folder / "pdf-named.png"
    pdf_as_png.write_bytes(make_pdf(folder / "tmp-doc.pdf").read_bytes())
    (folder / "tmp-doc.pdf").unlink()
    fail("pdf_named_png", pdf_as_png, "PDF document")
    random_docx = folder / "random.docx"
    random_docx.write_bytes(random.Random(7).randbytes(4096))
    fail("random_bytes_docx", random_docx, "not really a .docx")
    fail("missing_path", folder / "does-not-exist.pdf", "no such file")
    loop_a, loop_b = folder / "loop-a.txt", folder / "loop-b.txt"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    fail("symlink_loop", loop_a, "symbolic link loop")
    dangling = folder / "dangling.txt"
    dangling.symlink_to(folder / "gone.txt")
    fail("dangling_symlink", dangling, "broken symbolic link")
    locked = _text(folder / "no-permission.txt")
    locked.chmod(0)
    fail(
        "unreadable_chmod_000",
        locked,
        "not readable",
        skip="running as root: chmod 000 does not stop root from reading" if _running_as_root() else None,
    )
    fifo = folder / "pipe.txt"
    os.mkfifo(fifo)
    fail("fifo", fifo, "not a regular file")
    blank = _text(folder / "blank.txt", "\n   \n\t\n")
    fail("whitespace_only_text", blank, "found no text")
    binary_txt = folder / "binary.txt"
    binary_txt.write_bytes(bytes(range(256)) * 64)
    fail("binary_named_txt", binary_txt, "not text")
    unknown = folder / "data.xyz"
    unknown.write_text("something")
    fail("unknown_extension", unknown, "unsupported file type .xyz")
    first, second = folder / "a", folder / "b"
    first.mkdir()
    second.mkdir()
    _text(first / "same-name.txt", "Alpha release notes.\n\nThe alpha build adds hybrid search.\n")
    clash = _text(second / "same-name.txt", "Beta release notes.\n\nThe beta build adds range search.\n")
    cases.append(
        BadInput("same_name_twice_in_a_batch", (first, second), "fail", (clash.name,), "same name", also_ok=(clash.name,))
    )
    specials = folder / "specials"
    specials.mkdir()
    _text(specials / "beside-a-pipe.txt", "A good file next to a FIFO in the same folder.\n")
    os.mkfifo(specials / "pipe-in-folder.txt")
    cases.append(
        BadInput(
            "folder_with_a_fifo", (specials,), "fail", ("pipe-in-folder.txt",), "not a regular file",
            also_ok=("beside-a-pipe.txt",),
        )
    )

    long_name = _text(folder / ("a-very-long-file-name-" * 8 + "end.txt"))
    ok("long_file_name_180_chars", (long_name,), (long_name.name,))
    ok("latin1_text", (_text(folder / "latin1.txt", LATIN1_TEXT, "latin-1"),), ("latin1.txt",))
    ok("utf16_text", (_text(folder / "utf16.txt", "Unicode text saved as UTF-16 by a Windows editor.\n", "utf-16"),), ("utf16.txt",))
    ok("name_with_spaces", (_text(folder / "name with  spaces.txt"),), ("name with  spaces.txt",))
    ok("unicode_name", (_text(folder / "r\u00e9sum\u00e9 \u6570\u636e \u2603.txt"),), ("r\u00e9sum\u00e9 \u6570\u636e \u2603.txt",))
    ok("quotes_in_name", (_text(folder / "it's \"quoted\" \\ back.txt"),), ("it's \"quoted\" \\ back.txt",))
    broken_html = folder / "broken.html"
    broken_html.write_text("<html><body><h1>Broken page<p>An unclosed paragraph about <b>Milvus indexes<table><tr><td>cell")
    ok("broken_html", (broken_html,), ("broken.html",))
    huge = folder / "one-line.txt"
    words = "segment index vector search replica shard partition compaction ".split()
    line = " ".join(words[i % len(words)] for i in range(HUGE_LINE_BYTES // 8))
    huge.write_text(line[:HUGE_LINE_BYTES])
    ok("huge_single_line_text", (huge,), ("one-line.txt",))
    twice = folder / "twice"
    twice.mkdir()
    _text(twice / "inside.txt", "A file inside a folder that is given twice.\n")
    ok("folder_given_twice", (twice, twice, twice / "inside.txt"), ("inside.txt",))
    (folder / "html-src").mkdir()
    html = make_html(folder / "html-src")
    ok("html_with_a_remote_image", (html,), (html.name,))
    return cases
