"""Every refused input says what the file really is and what to do: password-protected Office files, PDFs
without pages, content under another format's extension, damaged containers, binary data named as text; and
XLSX formulas are read from their stored results, with a warning naming the cells that have none.

Each file is generated here, as the tools users have produce it (msoffcrypto-tool encrypts as Office does;
openpyxl and xlsxwriter write workbooks with and without stored formula results).
"""

from __future__ import annotations

import logging
import os
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from llama_index_mmrag.parsing.inputs import check_input_file
from llama_index_mmrag.parsing.containers import ole_kind, zip_kind
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
from tests.readers.documents import make_docx, make_html, make_pdf
from tests.support.bad_inputs import write_pdf_objects
from tests.support.office import encrypt_office, make_compound_file, make_formula_workbook

pytest.importorskip("msoffcrypto", reason="msoffcrypto-tool (dev extra) writes the password-protected files")


def diagnose(path: Path, tmp_path: Path) -> str:
    """The reason ingesting ``path`` fails with: the input check first, then the parser (as ``ingest`` runs them)."""
    with pytest.raises(ParseError) as caught:
        check_input_file(path)
        RAGAnythingReader(output_dir=str(tmp_path / "parsed")).parse(path)
    assert caught.value.path.name == path.name
    return caught.value.reason


def _pptx(folder: Path) -> Path:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly review"
    path = folder / "deck.pptx"
    deck.save(path)
    return path


def _xlsx(folder: Path) -> Path:
    return make_formula_workbook(folder / "book.xlsx", cached=True)


def _docx(folder: Path) -> Path:
    return make_docx(folder, icon=True)


OFFICE_MAKERS: dict[str, Callable[[Path], Path]] = {".docx": _docx, ".xlsx": _xlsx, ".pptx": _pptx}


def _zero_page_pdf(path: Path) -> Path:
    """A well-formed PDF whose page tree is empty (valid header, objects, xref and trailer)."""
    return write_pdf_objects(path, [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


# --- password-protected Office files ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".docx", ".xlsx", ".pptx"])
def test_password_protected_office_files_are_named_as_such(tmp_path: Path, suffix: str) -> None:
    locked = encrypt_office(OFFICE_MAKERS[suffix](tmp_path), tmp_path / f"locked{suffix}")
    assert ole_kind(locked).encrypted
    reason = diagnose(locked, tmp_path)
    assert reason.startswith("password-protected Office document")
    assert "remove the password" in reason and "File > Info > Protect" in reason
    assert "legacy" not in reason and ".doc" not in reason


@pytest.mark.parametrize("suffix", [".doc", ".xls", ".ppt", ".pdf"])
def test_a_password_protected_docx_under_another_extension_is_still_named(tmp_path: Path, suffix: str) -> None:
    locked = encrypt_office(_docx(tmp_path), tmp_path / f"locked{suffix}")
    reason = diagnose(locked, tmp_path)
    assert reason.startswith("password-protected Office document"), reason


def test_a_real_legacy_word_file_is_still_called_legacy(tmp_path: Path) -> None:
    legacy = make_compound_file(tmp_path / "memo.doc", {"WordDocument": b"\xec\xa5" + b"\0" * 600, "1Table": b"\0" * 600})
    assert not ole_kind(legacy).encrypted
    reason = diagnose(legacy, tmp_path)
    assert "legacy" in reason and ".docx" in reason and "password" not in reason


@pytest.mark.parametrize(
    ("streams", "named", "suffix"),
    [
        ({"WordDocument": b"w"}, "legacy Word", ".docx"),
        ({"Workbook": b"x"}, "legacy Excel", ".xlsx"),
        ({"PowerPoint Document": b"p"}, "legacy PowerPoint", ".pptx"),
    ],
)
def test_a_legacy_file_under_a_modern_extension_names_the_format_to_save_as(
    tmp_path: Path, streams: dict[str, bytes], named: str, suffix: str
) -> None:
    disguised = make_compound_file(tmp_path / f"old{suffix}", streams)
    reason = diagnose(disguised, tmp_path)
    assert named in reason and f"save it as {suffix}" in reason and "password" not in reason


def test_the_compound_file_reader_agrees_with_olefile(tmp_path: Path) -> None:
    olefile = pytest.importorskip("olefile")
    locked = encrypt_office(_xlsx(tmp_path), tmp_path / "locked.xlsx")
    legacy = make_compound_file(tmp_path / "memo.doc", {"WordDocument": b"w", "1Table": b"t"})
    for path in (locked, legacy):
        with olefile.OleFileIO(str(path)) as ole:
            top = {entry[0].lower() for entry in ole.listdir(streams=True, storages=True)}
        from llama_index_mmrag.parsing.containers import _ole_stream_names

        assert top <= {name.lower() for name in _ole_stream_names(path)}


def test_a_damaged_compound_file_is_called_damaged_not_legacy(tmp_path: Path) -> None:
    legacy = make_compound_file(tmp_path / "memo.docx", {"WordDocument": b"w"})
    cut = tmp_path / "cut.docx"
    cut.write_bytes(legacy.read_bytes()[:700])  # header and FAT survive, the directory sector is gone
    kind = ole_kind(cut)
    assert kind.damaged and "truncated" in kind.description
    reason = diagnose(cut, tmp_path)
    assert "damaged" in reason and "save it again" in reason


# --- PDFs ---------------------------------------------------------------------------------------------------


def test_a_well_formed_pdf_without_pages_says_it_has_no_pages(tmp_path: Path) -> None:
    reason = diagnose(_zero_page_pdf(tmp_path / "blank.pdf"), tmp_path)
    assert "has no pages" in reason
    assert "damaged" not in reason and "PDFium" not in reason


def test_a_damaged_pdf_is_still_called_damaged(tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    good = make_pdf(tmp_path / "good.pdf").read_bytes()
    broken.write_bytes(good[:9] + random.Random(3).randbytes(len(good) - 20) + good[-11:])  # header and %%EOF only
    reason = diagnose(broken, tmp_path)
    assert "damaged" in reason and "no pages" not in reason


def test_each_pdf_is_diagnosed_on_its_own_after_a_password_protected_one(tmp_path: Path) -> None:
    """PDFium reports its last error process-wide; a PDF it refuses without an error of its own must not inherit
    the password error of the PDF before it."""
    locked = make_pdf(tmp_path / "locked.pdf", password="pw")
    blank = _zero_page_pdf(tmp_path / "blank.pdf")
    broken = tmp_path / "broken.pdf"
    good = make_pdf(tmp_path / "good.pdf").read_bytes()
    broken.write_bytes(good[:9] + random.Random(5).randbytes(len(good) - 20) + good[-11:])
    for first, then, expected in ((locked, blank, "has no pages"), (locked, broken, "damaged")):
        assert "password-protected" in diagnose(first, tmp_path)
        reason = diagnose(then, tmp_path)
        assert expected in reason and "password" not in reason, reason


# --- content under another format's extension ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("real", "named", "words"),
    [
        (".xlsx", ".docx", "Excel workbook"),
        (".docx", ".xlsx", "Word document"),
        (".pptx", ".docx", "PowerPoint presentation"),
        (".docx", ".pdf", "Word document"),
        (".docx", ".txt", "Word document"),
        (".docx", ".doc", "Word document"),
        (".pdf", ".html", "PDF document"),
        (".pdf", ".md", "PDF document"),
        (".pdf", ".docx", "PDF document"),
    ],
)
def test_content_under_another_extension_is_named_with_the_right_one(
    tmp_path: Path, real: str, named: str, words: str
) -> None:
    source = make_pdf(tmp_path / "src.pdf") if real == ".pdf" else OFFICE_MAKERS[real](tmp_path)
    disguised = tmp_path / f"disguised{named}"
    disguised.write_bytes(source.read_bytes())
    reason = diagnose(disguised, tmp_path)
    assert words in reason and f"rename it to {real}" in reason, reason


def test_a_zip_that_is_not_an_office_package_says_so(tmp_path: Path) -> None:
    archive = tmp_path / "photos.docx"
    with zipfile.ZipFile(archive, "w") as package:
        package.writestr("notes.txt", "a plain archive")
    assert zip_kind(archive).suffix == ".zip"
    reason = diagnose(archive, tmp_path)
    assert "ZIP archive" in reason and "not an Office Open XML package" in reason and "unpack it" in reason


def test_an_opendocument_file_is_named(tmp_path: Path) -> None:
    odt = tmp_path / "letter.docx"
    with zipfile.ZipFile(odt, "w") as package:
        package.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        package.writestr("content.xml", "<office:document-content/>")
    reason = diagnose(odt, tmp_path)
    assert "OpenDocument text" in reason and "convert it" in reason


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_office_file_is_called_truncated(tmp_path: Path, keep: float) -> None:
    whole = _docx(tmp_path).read_bytes()
    cut = tmp_path / "cut.docx"
    cut.write_bytes(whole[: int(len(whole) * keep)])
    reason = diagnose(cut, tmp_path)
    assert "truncated" in reason and "download or save it again" in reason


def test_an_empty_zip_is_called_empty(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xlsx"
    empty.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    assert "empty ZIP archive" in diagnose(empty, tmp_path)


# --- binary data named as text ------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".html", ".htm", ".md", ".markdown", ".txt", ".csv"])
@pytest.mark.parametrize("data", ["every_byte", "random"])
def test_binary_data_named_as_text_is_called_binary(tmp_path: Path, suffix: str, data: str) -> None:
    binary = tmp_path / f"blob{suffix}"
    binary.write_bytes(bytes(range(256)) * 64 if data == "every_byte" else random.Random(5).randbytes(8192))
    reason = diagnose(binary, tmp_path)
    assert "binary data" in reason and "not text" in reason


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "latin-1"])
def test_text_in_any_common_encoding_is_not_called_binary(tmp_path: Path, encoding: str) -> None:
    page = tmp_path / "page.html"
    page.write_bytes("<html><body><p>Caf\u00e9 cr\u00e8me, pr\u00e9par\u00e9e le matin.</p></body></html>".encode(encoding))
    check_input_file(page)  # no error


def test_a_markdown_file_that_quotes_a_pdf_header_is_text(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# PDF internals\n\nEvery PDF starts with `%PDF-1.7` and ends with `%%EOF`.\n")
    check_input_file(notes)  # no error: only a signature at offset 0 counts for text formats


# --- the rest of the family: names what the path is ---------------------------------------------------------


def test_the_other_kinds_of_bad_path_each_name_the_problem(tmp_path: Path) -> None:
    empty = tmp_path / "empty.docx"
    empty.write_bytes(b"")
    assert "empty (0 bytes)" in diagnose(empty, tmp_path)
    folder = tmp_path / "x.pdf"
    folder.mkdir()
    assert "folder" in diagnose(folder, tmp_path)
    loop = tmp_path / "loop.html"
    loop.symlink_to(tmp_path / "loop2.html")
    (tmp_path / "loop2.html").symlink_to(loop)
    assert "symbolic link loop" in diagnose(loop, tmp_path)
    page = make_html(tmp_path)
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        page.chmod(0)
        assert "not readable" in diagnose(page, tmp_path)


# --- XLSX formulas ------------------------------------------------------------------------------------------


def _table(parsed: object) -> str:
    return next(b.table_body for b in parsed.blocks if b.modality == "table")  # type: ignore[attr-defined]


def test_xlsx_formulas_are_read_from_their_stored_results(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = make_formula_workbook(tmp_path / "budget.xlsx", cached=True)
    with caplog.at_level(logging.WARNING):
        table = _table(RAGAnythingReader(output_dir=str(tmp_path / "out")).parse(book))
    assert "| 10 | 5 | 15 |" in table and "| 30 | 7 | 37 |" in table and "78" in table
    assert not [r for r in caplog.records if "formula" in r.getMessage()]


def test_a_formula_whose_stored_result_is_an_empty_string_is_not_reported(tmp_path: Path) -> None:
    import xlsxwriter

    from llama_index_mmrag.parsing.xlsx_formulas import uncached_formula_cells

    plain = tmp_path / "plain.xlsx"
    book = xlsxwriter.Workbook(str(plain))
    sheet = book.add_worksheet("Sheet1")
    sheet.write_formula("A1", '=IF(1>2,"yes","")', None, "")
    sheet.write_formula("A2", "=1+1")  # xlsxwriter stores 0 unless told: a stored result all the same
    book.close()
    # Excel marks a string result (t="str"), an empty one included: rewrite A1 the way Excel saves it.
    path = tmp_path / "blank-result.xlsx"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert b'<c r="A1"><f>' in data
                data = data.replace(b'<c r="A1"><f>', b'<c r="A1" t="str"><f>')
            dst.writestr(info, data)
    assert uncached_formula_cells(path) == {}
    assert uncached_formula_cells(plain) == {"Sheet1": ["A1"]}  # the same cell without the mark has no result


def test_xlsx_formulas_without_stored_results_are_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    book = make_formula_workbook(tmp_path / "budget.xlsx", cached=False)
    with caplog.at_level(logging.WARNING):
        RAGAnythingReader(output_dir=str(tmp_path / "out")).parse(book)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "formula" in r.getMessage()]
    assert len(warnings) == 1
    assert "budget.xlsx" in warnings[0]
    assert "Budget!C2, Budget!C3, Budget!C4, Budget!C5" in warnings[0]
    assert "save it" in warnings[0]


def test_the_formula_warning_lists_a_bounded_number_of_cells(tmp_path: Path) -> None:
    import openpyxl

    from llama_index_mmrag.parsing.xlsx_formulas import MAX_CELLS_NAMED, uncached_formula_cells, warn_uncached_formulas

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for row in range(1, 1001):
        sheet.append([row, f"=A{row}*2"])
    path = tmp_path / "many.xlsx"
    book.save(path)
    found = uncached_formula_cells(path)
    assert found["Data"][:2] == ["B1", "B2"] and len(found["Data"]) == 1000
    logger = logging.getLogger("llama_index_mmrag.parsing.xlsx_formulas")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger.addHandler(handler)
    try:
        warn_uncached_formulas(path)
    finally:
        logger.removeHandler(handler)
    message = records[0].getMessage()
    assert f"and {1000 - MAX_CELLS_NAMED} more" in message and "Data!B1," in message
