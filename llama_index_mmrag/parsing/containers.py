"""What a ZIP or OLE2 container really holds, read from its directory alone (nothing is inflated or decrypted).

Two container formats hide several document types behind one magic number:

* **ZIP**: a Word, Excel or PowerPoint file (Office Open XML: ``[Content_Types].xml`` plus ``word/``, ``xl/``
  or ``ppt/``), an OpenDocument file or an EPUB (a ``mimetype`` entry), or just an archive.
* **OLE2 / Compound File Binary** (``D0 CF 11 E0``): a legacy Word, Excel or PowerPoint document, or a
  *password-protected* DOCX, XLSX or PPTX: Office encrypts an Office Open XML file into a compound file
  holding ``EncryptionInfo`` and ``EncryptedPackage`` streams (MS-OFFCRYPTO), so it looks like a ``.doc``.

:func:`zip_kind` and :func:`ole_kind` name which, so an error can say what a file really is.

Example:
    >>> from pathlib import Path
    >>> import docx
    >>> from msoffcrypto.format.ooxml import OOXMLFile
    >>> docx.Document().save("plain.docx")
    >>> with open("plain.docx", "rb") as plain, open("locked.docx", "wb") as locked:
    ...     OOXMLFile(plain).encrypt("Secret-1", locked)          # as Word saves it with a password
    >>> ole_kind(Path("locked.docx"))
    ContainerKind(description='a password-protected Office document', suffix='', encrypted=True, damaged=False)
    >>> import zipfile
    >>> with zipfile.ZipFile("sheet.docx", "w") as package:  # a workbook saved under a Word name
    ...     package.writestr("[Content_Types].xml", "<Types/>")
    ...     package.writestr("xl/workbook.xml", "<workbook/>")
    >>> zip_kind(Path("sheet.docx")).suffix
    '.xlsx'
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path

from llama_index_mmrag.errors import InputError

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
"""The first eight bytes of every OLE2 compound file."""

_FREE, _END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
_MAX_DIRECTORY_SECTORS = 4096  # a real document's directory fits in a few sectors
_MAX_FAT_SECTORS = 1 << 16  # 16 GiB of 512-byte sectors: nothing bigger is read
_ENCRYPTED_STREAMS = frozenset({"encryptioninfo", "encryptedpackage"})
_LEGACY_STREAMS: tuple[tuple[str, str, str], ...] = (
    ("worddocument", "a legacy Word 97-2003 document", ".doc"),
    ("workbook", "a legacy Excel 97-2003 workbook", ".xls"),
    ("book", "a legacy Excel 5.0/95 workbook", ".xls"),
    ("powerpoint document", "a legacy PowerPoint 97-2003 presentation", ".ppt"),
)
_OOXML_PARTS: tuple[tuple[str, str, str], ...] = (
    ("word/", "a Word document (Office Open XML)", ".docx"),
    ("xl/", "an Excel workbook (Office Open XML)", ".xlsx"),
    ("ppt/", "a PowerPoint presentation (Office Open XML)", ".pptx"),
)
_ZIP_MIMETYPES: dict[str, tuple[str, str]] = {
    "application/vnd.oasis.opendocument.text": ("an OpenDocument text (LibreOffice Writer)", ".odt"),
    "application/vnd.oasis.opendocument.spreadsheet": ("an OpenDocument spreadsheet (LibreOffice Calc)", ".ods"),
    "application/vnd.oasis.opendocument.presentation": ("an OpenDocument presentation (LibreOffice Impress)", ".odp"),
    "application/epub+zip": ("an EPUB e-book", ".epub"),
}


@dataclass(frozen=True)
class ContainerKind:
    """What a container file holds.

    Args:
        description: For a sentence: ``"a Word document (Office Open XML)"``.
        suffix: The extension such a file has (``".docx"``), or ``""`` when there is none to suggest.
        encrypted: A password-protected Office document.
        damaged: The container's own structure is broken (why is in ``description``).

    Example:
        >>> import zipfile
        >>> with zipfile.ZipFile("notes.docx", "w") as archive:      # a plain ZIP named .docx
        ...     archive.writestr("notes.txt", "hello")
        >>> kind = zip_kind(Path("notes.docx"))
        >>> kind.suffix, kind.encrypted, kind.description
        ('.zip', False, 'a ZIP archive of 1 file(s), not an Office Open XML package (it has no [Content_Types].xml)')
    """

    description: str
    suffix: str = ""
    encrypted: bool = False
    damaged: bool = False


class _Damaged(InputError):
    """The compound file's structure is inconsistent."""


def _ole_stream_names(path: Path) -> list[str]:
    """Names in an OLE2 compound file's directory (MS-CFB), read by following its FAT chain."""
    with path.open("rb") as handle:
        header = handle.read(512)
        if len(header) < 512 or header[:8] != OLE_MAGIC:
            raise _Damaged("its compound-file header is cut short")
        sector_shift = struct.unpack_from("<H", header, 30)[0]
        if sector_shift not in (9, 12):
            raise _Damaged(f"its compound-file header declares {2 ** min(sector_shift, 31)}-byte sectors")
        size = 1 << sector_shift
        n_fat, first_dir = struct.unpack_from("<II", header, 44)[0], struct.unpack_from("<I", header, 48)[0]
        first_difat, n_difat = struct.unpack_from("<II", header, 68)
        if n_fat > _MAX_FAT_SECTORS:
            raise _Damaged(f"its compound-file header declares {n_fat:,} allocation sectors")

        def sector(number: int) -> bytes:
            handle.seek((number + 1) * size)
            data = handle.read(size)
            if len(data) < size:
                raise _Damaged(f"sector {number} lies past the end of the file (truncated)")
            return data

        fat_sectors = [n for n in struct.unpack_from("<109I", header, 76) if n != _FREE][:n_fat]
        difat, seen = first_difat, set()
        while len(fat_sectors) < n_fat and difat not in (_FREE, _END_OF_CHAIN) and n_difat:
            if difat in seen:
                raise _Damaged("its sector allocation chain loops")
            seen.add(difat)
            entries = struct.unpack(f"<{size // 4}I", sector(difat))
            fat_sectors.extend(n for n in entries[:-1] if n != _FREE)
            difat = entries[-1]
        fat: list[int] = []
        for number in fat_sectors[:n_fat]:
            fat.extend(struct.unpack(f"<{size // 4}I", sector(number)))
        names: list[str] = []
        current, visited = first_dir, 0
        while current not in (_END_OF_CHAIN, _FREE):
            visited += 1
            if visited > _MAX_DIRECTORY_SECTORS or current >= len(fat):
                raise _Damaged("its directory chain is broken")
            block = sector(current)
            for offset in range(0, size, 128):
                entry = block[offset : offset + 128]
                length, kind = struct.unpack_from("<HB", entry, 64)
                if kind in (1, 2, 5) and 2 <= length <= 64:
                    names.append(entry[: length - 2].decode("utf-16-le", errors="replace"))
            current = fat[current]
        return names


def ole_kind(path: Path) -> ContainerKind:
    """What an OLE2 compound file holds: a password-protected Office Open XML file, a legacy Office document,
    or another compound file (an Outlook message, a Visio drawing, an MSI installer, ...).

    Args:
        path: A file starting with :data:`OLE_MAGIC`.

    Example:
        See the module docstring (a password-protected DOCX, an OLE2 file that passes for a ``.doc``).
    """
    try:
        names = {name.lower() for name in _ole_stream_names(path)}
    except _Damaged as exc:
        return ContainerKind(f"a damaged OLE2 compound file ({exc})", damaged=True)
    except (OSError, struct.error) as exc:
        return ContainerKind(f"an unreadable OLE2 compound file ({exc})", damaged=True)
    if _ENCRYPTED_STREAMS <= names:
        return ContainerKind("a password-protected Office document", encrypted=True)
    for stream, description, suffix in _LEGACY_STREAMS:
        if stream in names:
            return ContainerKind(description, suffix)
    return ContainerKind("an OLE2 compound file that is not an Office document")


def zip_kind(path: Path) -> ContainerKind:
    """What a ZIP file holds: an Office Open XML document (which one), an OpenDocument file, an EPUB, or an
    archive of other files; a truncated or damaged ZIP is said to be so.

    Args:
        path: A file starting with a ZIP signature.

    Example:
        >>> import zipfile
        >>> with zipfile.ZipFile("notes.docx", "w") as package:
        ...     package.writestr("[Content_Types].xml", "<Types/>")
        ...     package.writestr("word/document.xml", "<document/>")
        >>> zip_kind(Path("notes.docx"))
        ContainerKind(description='a Word document (Office Open XML)', suffix='.docx', encrypted=False, damaged=False)
    """
    try:
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
            mimetype = package.read("mimetype")[:100].decode("ascii", "replace").strip() if "mimetype" in names else ""
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc).lower():
            return ContainerKind(
                "a truncated ZIP package (its central directory at the end is missing, as after an interrupted "
                "download or copy)",
                damaged=True,
            )
        return ContainerKind(f"a damaged ZIP package ({exc})", damaged=True)
    except (OSError, ValueError, RuntimeError, NotImplementedError, EOFError) as exc:
        return ContainerKind(f"a damaged ZIP package ({exc})", damaged=True)
    if "[Content_Types].xml" in names:
        for folder, description, suffix in _OOXML_PARTS:
            if any(name.startswith(folder) for name in names):
                return ContainerKind(description, suffix)
        return ContainerKind("an Office Open XML package that is not a Word, Excel or PowerPoint file")
    if mimetype in _ZIP_MIMETYPES:
        return ContainerKind(*_ZIP_MIMETYPES[mimetype])
    if not names:
        return ContainerKind("an empty ZIP archive (no files in it)", damaged=True)
    return ContainerKind(
        f"a ZIP archive of {len(names)} file(s), not an Office Open XML package (it has no [Content_Types].xml)",
        ".zip",
    )
