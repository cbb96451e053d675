"""Documents named as people name them: the stored name a name means, and the errors for names that match
none or several stored documents (with the closest stored names).

Used by the facade and by the commands that read a store without opening the whole facade (``mmrag stats``),
so it imports nothing beyond the standard library.

Example:
    >>> resolve_document("Report", ["report.pdf", "notes.txt"], Path("./store"))
    'report.pdf'
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from llama_index_mmrag.errors import InputError

__all__ = [
    "AmbiguousDocumentError",
    "UnknownDocumentError",
    "closest_names",
    "match_document",
    "resolve_document",
]


NAME_PREVIEW = 200
"""Characters of an unknown name an error message quotes (a pasted 70,000-character name is not echoed whole)."""


class UnknownDocumentError(InputError, LookupError):
    """No document of that name is in the store.

    Args:
        doc: The name asked for.
        storage_dir: The store.
        known: The names the store does hold.

    Example:
        >>> str(UnknownDocumentError("reprot.pdf", Path("./store"), ["report.pdf"]))
        "no document named 'reprot.pdf' in the store store (did you mean 'report.pdf'?); `mmrag stats --store store --json` lists the documents it holds, by file name"
    """

    def __init__(self, doc: str, storage_dir: Path, known: Sequence[str]) -> None:
        self.doc = doc
        self.closest = closest_names(doc, known)
        shown = repr(doc) if len(doc) <= NAME_PREVIEW else f"{doc[:NAME_PREVIEW]!r}… ({len(doc)} characters)"
        if not known:
            message = (
                f"no document named {shown}: the store {storage_dir} holds no documents yet; add some with "
                f"`mmrag ingest FILE --store {storage_dir}`"
            )
        else:
            hint = f" (did you mean {' or '.join(repr(n) for n in self.closest)}?)" if self.closest else ""
            message = (
                f"no document named {shown} in the store {storage_dir}{hint}; `mmrag stats --store {storage_dir} "
                f"--json` lists the documents it holds, by file name"
            )
        super().__init__(message)


class AmbiguousDocumentError(UnknownDocumentError):
    """A name that matches more than one stored document (``report`` for ``report.pdf`` and ``report.docx``).

    Args:
        doc: The name asked for.
        storage_dir: The store.
        matches: The stored names it matches.

    Example:
        >>> str(AmbiguousDocumentError("report", Path("./store"), ["report.docx", "report.pdf"]))
        "the name 'report' matches 2 documents in the store store: 'report.docx', 'report.pdf'; give the full file name"
    """

    def __init__(self, doc: str, storage_dir: Path, matches: Sequence[str]) -> None:
        self.doc = doc
        self.closest = list(matches)
        LookupError.__init__(
            self,
            f"the name {doc!r} matches {len(matches)} documents in the store {storage_dir}: "
            f"{', '.join(repr(m) for m in matches)}; give the full file name",
        )


def _stem(name: str) -> str:
    return Path(name).stem.casefold()


def closest_names(doc: str, known: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` stored names most like ``doc`` (by name or by name without extension, ignoring case).

    Args:
        doc: The name asked for.
        known: The stored names.
        n: How many to return at most.

    Example:
        >>> closest_names("reprot", ["report.pdf", "notes.txt"])
        ['report.pdf']
    """
    asked = Path(doc).name.casefold()
    scored = []
    for name in known:
        ratio = max(
            difflib.SequenceMatcher(None, asked, name.casefold()).ratio(),
            difflib.SequenceMatcher(None, _stem(asked), _stem(name)).ratio(),
        )
        if ratio >= 0.6:
            scored.append((-ratio, name))
    return [name for _, name in sorted(scored)[:n]]


def match_document(doc: str | Path, known: Sequence[str]) -> list[str]:
    """The stored names that ``doc`` names, by the first rule that matches any: the exact name, the file name
    of a path, the name ignoring case, the name without its extension (ignoring case).

    Args:
        doc: A document name as a person or program gave it (``report.pdf``, ``Report.PDF``, ``report``,
            ``docs/report.pdf``).
        known: The stored names.

    Returns:
        One name when the match is unique, several when the name is ambiguous, none when nothing matches.

    Example:
        >>> match_document("Report", ["report.pdf", "notes.txt"])
        ['report.pdf']
        >>> match_document("report", ["report.pdf", "report.docx"])
        ['report.docx', 'report.pdf']
    """
    asked = str(doc)
    names = sorted(set(known))
    if asked in names:
        return [asked]
    base = Path(asked).name if asked.strip() else asked
    rules = (
        lambda name: name == base,
        lambda name: name.casefold() == base.casefold(),
        lambda name: _stem(name) == base.casefold(),
    )
    for rule in rules:
        found = [name for name in names if rule(name)]
        if found:
            return found
    return []


def resolve_document(doc: str | Path, known: Sequence[str], storage_dir: Path) -> str:
    """The one stored name ``doc`` names (see :func:`match_document`).

    Args:
        doc: The name as given.
        known: The stored names.
        storage_dir: The store (named in the errors).

    Raises:
        UnknownDocumentError: If nothing stored matches (the error names the closest stored names).
        AmbiguousDocumentError: If several stored documents match.
    """
    found = match_document(doc, known)
    if len(found) > 1:
        raise AmbiguousDocumentError(str(doc), storage_dir, found)
    if not found:
        raise UnknownDocumentError(str(doc), storage_dir, known)
    return found[0]
