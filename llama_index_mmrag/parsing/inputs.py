"""Checks on input files before any parser sees them, and batch expansion that never drops a file silently.

The parsers name damaged, encrypted, empty and unsupported files themselves. This module catches what would
otherwise hang, exhaust memory or give a misleading reason:

- symbolic-link loops and broken links (not "no such file");
- FIFOs, sockets and devices (reading a FIFO blocks forever);
- content that contradicts the extension (PNG bytes named ``.pdf``, a PDF named ``.png``, random bytes named
  ``.docx``, an Excel workbook named ``.docx``, a PDF named ``.html``, binary data named ``.md``): the reason
  names what the content really is (ZIP and OLE2 containers are told apart by their directories, see
  :mod:`llama_index_mmrag.parsing.containers`);
- password-protected DOCX, XLSX and PPTX files, which Office stores as OLE2 compound files (they would
  otherwise pass for legacy ``.doc`` files), under any extension;
- Office files (ZIP packages) that unpack to far more than they weigh: zip bombs, refused from the ZIP
  directory alone, before anything is inflated;
- in a batch: special files inside folders (which a folder walk would skip) and two different files with the
  same name (documents are keyed by file name, so the second would silently replace the first).

Example:
    >>> from pathlib import Path
    >>> check_input_file(Path("milvus_faq.txt"))  # what it claims to be: no error
    >>> _ = Path("scan.pdf").write_bytes(Path("milvus_architecture.png").read_bytes())  # a picture named .pdf
    >>> check_input_file(Path("scan.pdf"))
    Traceback (most recent call last):
    llama_index_mmrag.parsing.errors.ParseError: scan.pdf: its content is ..., not a PDF; ...
"""

from __future__ import annotations

import codecs
import os
import stat
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from llama_index_mmrag.modalities.image import IMAGE_SUFFIXES
from llama_index_mmrag.parsing.containers import OLE_MAGIC, ContainerKind, ole_kind, zip_kind
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.formats import LEGACY_OFFICE_SUFFIXES, OFFICE_SUFFIXES, PDF_SUFFIXES, TEXT_LIKE_SUFFIXES

MAX_UNPACKED_BYTES = 1 << 30
"""An Office package whose parts declare more than this (1 GiB) uncompressed is refused."""
MAX_PART_RATIO = 100
"""A part inflating more than this many times its compressed size ..."""
MIN_SUSPICIOUS_PART_BYTES = 16 << 20
"""... and to more than this (16 MiB) marks a zip bomb (real documents compress text 5-20 times)."""
TEXT_SAMPLE_BYTES = 64 << 10
"""How much of a text file is read to tell text from binary data."""
ENCRYPTED_OFFICE_REASON = (
    "password-protected Office document (Office stores an encrypted DOCX, XLSX or PPTX as an OLE2 container, "
    "which nothing here can read without the password); remove the password (File > Info > Protect Document / "
    "Workbook / Presentation > Encrypt with Password, clear it) and save again"
)
_SUPPORTED_TARGETS = frozenset({".pdf", ".docx", ".xlsx", ".pptx", ".html", ".md", ".txt"}) | IMAGE_SUFFIXES

_MAGIC: tuple[tuple[bytes, int, str, str], ...] = (
    (b"%PDF-", -1, "a PDF document", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", 0, "a PNG image", ".png"),
    (b"\xff\xd8\xff", 0, "a JPEG image", ".jpg"),
    (b"GIF87a", 0, "a GIF image", ".gif"),
    (b"GIF89a", 0, "a GIF image", ".gif"),
    (b"II*\x00", 0, "a TIFF image", ".tif"),
    (b"MM\x00*", 0, "a TIFF image", ".tif"),
    (b"PK\x03\x04", 0, "a ZIP package", ".zip"),
    (b"PK\x05\x06", 0, "a ZIP package", ".zip"),
    (OLE_MAGIC, 0, "a legacy (binary) Office document", ".doc"),
)



@dataclass(frozen=True)
class LoadFailure:
    """A file of a batch that could not be read, and why.

    Args:
        path: The file.
        reason: Why it could not be read and what to do.

    Example:
        >>> for folder in ("inbox", "extra"):
        ...     Path(folder).mkdir()
        ...     _ = Path(folder, "faq.txt").write_text("What is Milvus?")
        >>> files, failures = expand_inputs(["inbox", "extra/faq.txt"])
        >>> [f"{f.parent.name}/{f.name}" for f in files], [f"{f.path.parent.name}/{f.path.name}" for f in failures]
        (['inbox/faq.txt'], ['extra/faq.txt'])
        >>> print(failures[0].reason)
        another file of this batch has the same name (.../inbox/faq.txt); documents are keyed by file name, so rename one of them
    """

    path: Path
    reason: str


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, hidden files skipped) into a sorted, de-duplicated file list; a
    folder's transcripts of its recordings (``talk.srt`` beside ``talk.mp4``) are read with them, not listed.

    Args:
        paths: One path or several; folders are walked.
    """
    from llama_index_mmrag.parsing.media.transcripts import transcripts_among

    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    seen: dict[Path, None] = {}
    for item in items:
        path = Path(item)
        if path.is_dir():
            children = [
                child for child in sorted(path.rglob("*"))
                if child.is_file() and not any(part.startswith(".") for part in child.relative_to(path).parts)
            ]
            transcripts = transcripts_among(children)  # read with their recording, not documents of their own
            for child in children:
                if child not in transcripts:
                    seen.setdefault(child.resolve(), None)
        else:
            seen.setdefault(path.resolve() if path.exists() else path, None)
    return list(seen)

def sniff(head: bytes) -> tuple[str, str] | None:
    """What the first bytes of a file say it is: ``(description, usual extension)``, or ``None`` if unknown.

    Args:
        head: The file's first bytes (1 KiB is enough).

    Example:
        >>> sniff(b"%PDF-1.7 ...")
        ('a PDF document', '.pdf')
        >>> sniff(b"hello") is None
        True
    """
    for magic, offset, description, suffix in _MAGIC:
        found = head.find(magic, 0, 1024) >= 0 if offset < 0 else head[offset : offset + len(magic)] == magic
        if found:
            return description, suffix
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image", ".webp"
    if head[:2] == b"BM" and len(head) > 14:
        return "a BMP image", ".bmp"
    return None


def identify(path: Path, head: bytes, *, strict: bool = False) -> ContainerKind | None:
    """What a file's content is, from its first bytes and, for ZIP and OLE2 containers, their directories.

    Args:
        path: The file.
        head: Its first bytes (1 KiB is enough).
        strict: Only signatures at offset 0 count (for text formats, which may quote ``%PDF-`` in their text).

    Returns:
        The content's kind, or ``None`` if the bytes match no known signature.

    Example:
        >>> import zipfile
        >>> with zipfile.ZipFile("sheet.docx", "w") as package:  # a workbook saved under a Word name
        ...     package.writestr("[Content_Types].xml", "<Types/>")
        ...     package.writestr("xl/workbook.xml", "<workbook/>")
        >>> identify(Path("sheet.docx"), Path("sheet.docx").read_bytes()[:16]).description
        'an Excel workbook (Office Open XML)'
    """
    kind = sniff(head)
    if kind is None or (strict and kind[1] == ".pdf" and not head.startswith(b"%PDF-")):
        return None
    if kind[1] == ".zip":
        return zip_kind(path)
    if kind[1] == ".doc":
        return ole_kind(path)
    return ContainerKind(kind[0], kind[1])


def _advice(kind: ContainerKind) -> str:
    """What to do with a file whose content is ``kind`` under another extension."""
    if kind.encrypted:
        return "remove the password (File > Info > Protect) and save again"
    if kind.damaged:
        return "download or save it again"
    if kind.suffix in LEGACY_OFFICE_SUFFIXES:
        return (
            f"no offline parser reads that legacy binary format: open it in its application and save it as "
            f"{LEGACY_OFFICE_SUFFIXES[kind.suffix]}"
        )
    if kind.suffix == ".zip":
        return "unpack it and ingest the files inside"
    if kind.suffix in _SUPPORTED_TARGETS:
        return f"rename it to {kind.suffix}"
    return "convert it to a supported format (PDF, DOCX, XLSX, PPTX, HTML, Markdown, text or an image)"


def _is_binary(path: Path) -> bool:
    """Whether the start of a file is binary data rather than text in some encoding."""
    try:
        with open(path, "rb") as handle:
            sample = handle.read(TEXT_SAMPLE_BYTES)
    except OSError:
        return False
    if sample.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    if b"\x00" in sample:
        return True
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return False
    except UnicodeDecodeError:
        from charset_normalizer import from_bytes

        return from_bytes(sample).best() is None


def _check_symlink(path: Path) -> None:
    if not path.is_symlink():
        return
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        raise ParseError(path, f"broken symbolic link (it points to {os.readlink(path)}, which does not exist)") from None
    except (RuntimeError, OSError) as exc:  # RuntimeError: Python < 3.13's "Symlink loop"; OSError: ELOOP
        raise ParseError(path, f"symbolic link loop ({exc}); point the link at a real file") from None


def _check_zip_package(path: Path) -> None:
    suffix = path.suffix.lower()
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(path, f"not really a {suffix} file: its ZIP package is damaged ({exc}); save it again") from None
    unpacked = sum(p.file_size for p in parts)
    if unpacked > MAX_UNPACKED_BYTES:
        raise ParseError(
            path,
            f"refused as a zip bomb: its parts unpack to {unpacked / 2**20:,.0f} MiB (limit "
            f"{MAX_UNPACKED_BYTES / 2**20:,.0f} MiB); split the document",
        )
    for part in parts:
        ratio = part.file_size / max(part.compress_size, 1)
        if part.file_size > MIN_SUSPICIOUS_PART_BYTES and ratio > MAX_PART_RATIO:
            raise ParseError(
                path,
                f"refused as a zip bomb: part {part.filename} unpacks to {part.file_size / 2**20:,.0f} MiB from "
                f"{part.compress_size / 2**10:,.0f} KiB ({ratio:,.0f}:1); a real document does not compress like "
                f"that: open it in its application and save it again",
            )


def check_input_file(path: Path) -> None:
    """Refuse, with the reason, a file that would hang, exhaust memory or mislead a parser.

    Missing, empty and unreadable files, and files whose extension no parser takes, are left to the reader,
    which names them.

    Args:
        path: The file.

    Raises:
        ParseError: Naming the file and what is wrong with it.
    """
    _check_symlink(path)
    if not path.name.isascii():
        try:
            path.name.encode("utf-8")
        except UnicodeEncodeError:
            # the name is the document's key in every store (Milvus, graph, manifest), all UTF-8
            shown = os.fsencode(path.name).decode("utf-8", "backslashreplace")  # the bytes: bad\xff.txt
            raise ParseError(
                path, f"its name '{shown}' holds bytes that are not UTF-8 text; rename the file to a UTF-8 name"
            ) from None
    try:
        info = path.stat()
    except OSError:
        return  # missing or unreadable: the reader says which
    if stat.S_ISDIR(info.st_mode):
        return
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket" if stat.S_ISSOCK(info.st_mode) else "a device"
        raise ParseError(path, f"not a regular file ({kind}); copy its content into a file and ingest that")
    suffix = path.suffix.lower()
    checked = OFFICE_SUFFIXES | IMAGE_SUFFIXES | PDF_SUFFIXES | LEGACY_OFFICE_SUFFIXES.keys() | TEXT_LIKE_SUFFIXES.keys()
    if info.st_size == 0 or suffix not in checked:
        return
    try:
        with open(path, "rb") as handle:
            head = handle.read(1024)
    except OSError:
        return
    kind = identify(path, head, strict=suffix in TEXT_LIKE_SUFFIXES)
    if kind is not None and kind.encrypted:
        raise ParseError(path, ENCRYPTED_OFFICE_REASON)
    if suffix == ".pdf":
        if kind is not None and kind.suffix != ".pdf":
            raise ParseError(path, f"its content is {kind.description}, not a PDF; {_advice(kind)}")
    elif suffix in IMAGE_SUFFIXES:
        if kind is not None and kind.suffix not in IMAGE_SUFFIXES:
            raise ParseError(path, f"its content is {kind.description}, not an image; {_advice(kind)}")
    elif suffix in TEXT_LIKE_SUFFIXES:
        expected = TEXT_LIKE_SUFFIXES[suffix]
        if kind is not None:
            raise ParseError(path, f"its content is {kind.description}, not {expected}; {_advice(kind)}")
        if _is_binary(path):
            raise ParseError(
                path,
                f"its content is binary data, not {expected} (not text in any encoding we recognise); "
                "check that it is the file you meant, or convert it to UTF-8 text",
            )
    elif suffix in LEGACY_OFFICE_SUFFIXES:
        if kind is not None and kind.suffix != suffix:
            raise ParseError(path, f"its content is {kind.description}, not a legacy {suffix} file; {_advice(kind)}")
    elif kind is None:
        raise ParseError(
            path,
            f"not really a {suffix} file: its content is not a ZIP package (Office Open XML); "
            "open it in its application and save it again",
        )
    elif kind.damaged:
        raise ParseError(path, f"the {suffix} file is damaged: its content is {kind.description}; {_advice(kind)}")
    elif kind.suffix != suffix:
        raise ParseError(path, f"not really a {suffix} file: its content is {kind.description}; {_advice(kind)}")
    else:
        _check_zip_package(path)


def _special_entries(folder: Path) -> list[LoadFailure]:
    """Entries a folder walk skips that a user would expect to be read: broken links, loops, FIFOs, devices."""
    failures: list[LoadFailure] = []
    for child in sorted(folder.rglob("*")):
        if any(part.startswith(".") for part in child.relative_to(folder).parts):
            continue
        if child.is_file() or child.is_dir():
            continue
        try:
            check_input_file(child)
        except ParseError as exc:
            failures.append(LoadFailure(child, exc.reason))
    return failures


def expand_inputs(paths: str | Path | Iterable[str | Path]) -> tuple[list[Path], list[LoadFailure]]:
    """Expand files and folders like the reader does, and report what it would skip or confuse.

    Args:
        paths: Files or folders (a folder given twice is read once).

    Returns:
        The files to ingest, in order, and failures for: special entries inside the folders, and each further
        file whose name an earlier file of the batch already has.
    """
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    failures: list[LoadFailure] = []
    walked: set[Path] = set()
    for item in items:
        folder = Path(item)
        if folder.is_dir() and folder.resolve() not in walked:
            walked.add(folder.resolve())
            failures.extend(_special_entries(folder))
    files: list[Path] = []
    by_name: dict[str, Path] = {}
    for path in expand_paths(items):
        first = by_name.setdefault(path.name, path)
        if first != path:
            failures.append(
                LoadFailure(
                    path,
                    f"another file of this batch has the same name ({first}); documents are keyed by file name, "
                    f"so rename one of them",
                )
            )
            continue
        files.append(path)
    return files, failures
