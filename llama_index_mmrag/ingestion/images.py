"""The images of a document kept inside the store, so the store is self-contained and can be moved.

A parser writes the pictures it extracts (a PDF's figures, an Office file's images) under the store's
``parsed/<content hash>/``. An image that is itself the ingested file (``diagram.png``), or that a Markdown or
HTML file links to, is where the user keeps it: it is copied beside them, to
``parsed/<content hash>/images/<digest>/<its name>`` (the name is kept: the offline description reads it), so a
store moved, copied, or whose source folder is gone still has every picture it cites. The copies go with the
document's other parsed files when the document is deleted.

Example:
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> from PIL import Image
    >>> Image.new("RGB", (4, 4)).save("chart.png")
    >>> block = ContentBlock(modality="image", img_path=str(Path("chart.png").resolve()), doc="chart.png",
    ...                      doc_id="0123456789abcdef0123", parser="mmrag", page=0)
    >>> keep_images_in_store([block], Path("store/parsed"))
    1
    >>> Path(block.img_path).relative_to(Path("store/parsed").resolve()).parts[:2]
    ('0123456789abcdef', 'images')
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from llama_index_mmrag.schema import ContentBlock

__all__ = ["keep_images_in_store"]

_DIGEST_CHARS = 12


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()[:_DIGEST_CHARS]


def _copy_whole(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that ``target`` is never seen half-written, also when another ingest of
    the same picture copies it at the same moment (each copy goes through a partial file of its own)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(handle)
    try:
        shutil.copyfile(source, partial)  # owned: a file of this document's own folder in the store
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def keep_images_in_store(blocks: Sequence[ContentBlock], parsed_dir: Path) -> int:
    """Copy every image file the blocks name from outside ``parsed_dir`` into it, and point the blocks at the
    copies (in place): an image block's picture, and the page image (``page_image``) any block names. Images
    already inside, inline images and missing files are left as they are (the describer says which file is
    missing).

    Args:
        blocks: A document's blocks (all of one ``doc_id``).
        parsed_dir: The store's folder of parser output (``<store>/parsed``).

    Returns:
        How many images were copied in.
    """
    root = parsed_dir.resolve()
    copies: dict[str, str] = {}
    for block in blocks:
        if block.modality == "image" and block.img_path:
            block.img_path = _kept(block.img_path, block.doc_id, root, copies)
        if block.page_image:
            block.page_image = _kept(block.page_image, block.doc_id, root, copies)
    return len(copies)


def _kept(path: str, doc_id: str, root: Path, copies: dict[str, str]) -> str:
    """The path of the picture inside ``root``: copied there the first time (``copies`` remembers it) unless it is
    there already or missing."""
    if path in copies:
        return copies[path]
    source = Path(path)
    if not source.is_file() or source.resolve().is_relative_to(root):
        return path
    target = root / doc_id[:16] / "images" / _digest(source) / source.name
    if not target.is_file():
        _copy_whole(source, target)
    copies[path] = str(target)
    return str(target)
