"""Office files for the diagnosis tests, written at test time: password-protected DOCX/XLSX/PPTX (encrypted by
msoffcrypto-tool as Office encrypts them: an OLE2 compound file holding ``EncryptionInfo`` and
``EncryptedPackage``), OLE2 compound files with chosen streams (a legacy ``.doc`` is one holding a
``WordDocument`` stream), and workbooks whose formulas do or do not carry cached values.

Example:
    >>> locked = encrypt_office(make_docx(tmp_path), tmp_path / "locked.docx")           # doctest: +SKIP
    >>> legacy = make_compound_file(tmp_path / "old.doc", {"WordDocument": b"..."})      # doctest: +SKIP
"""

from __future__ import annotations

import struct
from pathlib import Path

_SECTOR = 512
_FREE, _END, _FAT_SECTOR, _NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def encrypt_office(source: Path, target: Path, password: str = "Secret-1") -> Path:
    """Encrypt a DOCX, XLSX or PPTX with a password (agile encryption, as Office 2010 and later do).

    Args:
        source: The unprotected Office Open XML file.
        target: Where to write the protected file.
        password: The password to open it.
    """
    from msoffcrypto.format.ooxml import OOXMLFile

    with source.open("rb") as plain, target.open("wb") as locked:
        OOXMLFile(plain).encrypt(password, locked)
    return target


def _entry(name: str, kind: int, start: int, size: int, child: int = _NO_STREAM, right: int = _NO_STREAM) -> bytes:
    encoded = (name + "\0").encode("utf-16-le")
    return (
        encoded.ljust(64, b"\0")
        + struct.pack("<HBB", len(encoded), kind, 1)  # name length, type, colour (black)
        + struct.pack("<III", _NO_STREAM, right, child)
        + b"\0" * 16  # CLSID
        + struct.pack("<I", 0)  # state bits
        + b"\0" * 16  # creation and modification times
        + struct.pack("<IQ", start, size)
    )


def make_compound_file(path: Path, streams: dict[str, bytes]) -> Path:
    """Write an OLE2 compound file (MS-CFB version 3) holding ``streams`` at its root.

    Each stream is padded to 4,096 bytes so that it lives in regular sectors (no mini stream is needed).
    At most three streams (one directory sector).

    Args:
        path: Where to write the file.
        streams: Stream names and contents.
    """
    if len(streams) > 3:
        raise ValueError("at most three streams")
    fat = [_FAT_SECTOR, _END]  # sector 0: the FAT itself, sector 1: the directory
    data = b""
    entries = []
    names = list(streams)
    for index, name in enumerate(names):
        body = streams[name].ljust(4096, b"\0")
        start, count = len(fat), -(-len(body) // _SECTOR)
        fat.extend(range(start + 1, start + count))
        fat.append(_END)
        data += body.ljust(count * _SECTOR, b"\0")
        right = index + 2 if index + 1 < len(names) else _NO_STREAM  # siblings as a right-leaning chain
        entries.append(_entry(name, 2, start, len(body), right=right))
    directory = _entry("Root Entry", 5, _END, 0, child=1 if names else _NO_STREAM) + b"".join(entries)
    directory = directory.ljust(_SECTOR, b"\0")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, _END, 0, _END, 0)
        + struct.pack("<109I", 0, *([_FREE] * 108))
    )
    fat_sector = struct.pack(f"<{_SECTOR // 4}I", *(fat + [_FREE] * (_SECTOR // 4 - len(fat))))
    path.write_bytes(header + fat_sector + directory + data)
    return path


def make_formula_workbook(path: Path, *, cached: bool) -> Path:
    """Write an XLSX with numbers in ``A2:A4`` and ``B2:B4``, and ``=A+B`` formulas in ``C2:C4`` and ``C5``
    (``=SUM(C2:C4)``).

    Args:
        path: Where to write it.
        cached: Store each formula's result next to it, as Excel does on save (xlsxwriter with the value);
            otherwise store formulas only, as openpyxl and other libraries that never compute them do.
    """
    numbers = [(10, 5), (20, 6), (30, 7)]
    if cached:
        import xlsxwriter

        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("Budget")
        sheet.write_row(0, 0, ["Cost", "Tax", "Total"])
        for row, (a, b) in enumerate(numbers, start=1):
            sheet.write_row(row, 0, [a, b])
            sheet.write_formula(row, 2, f"=A{row + 1}+B{row + 1}", None, a + b)
        sheet.write_formula(4, 2, "=SUM(C2:C4)", None, sum(a + b for a, b in numbers))
        book.close()
        return path
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Budget"
    sheet.append(["Cost", "Tax", "Total"])
    for row, (a, b) in enumerate(numbers, start=2):
        sheet.append([a, b, f"=A{row}+B{row}"])
    sheet["C5"] = "=SUM(C2:C4)"
    book.save(path)
    return path
