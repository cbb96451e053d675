"""An image file as one content-list block: its size, and the text the offline OCR reads in it.

Both offline parsers (``"mmrag"`` and ``"docling-offline"``) read a standalone image this way.

Example:
    >>> from llama_index_mmrag.parsing.image import strip_path_prefix
    >>> strip_path_prefix("scan.png: too large", "scan.png")
    'too large'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.ocr import ImageReadError, image_too_large, ocr_text


def strip_path_prefix(message: str, path: str | Path) -> str:
    """The reason part of an error message written as ``"<path>: <reason>"``.

    Args:
        message: The error message.
        path: The file the message may start with (as given, or resolved).
    """
    for candidate in (str(path), str(Path(path).expanduser().resolve()), Path(path).name):
        if message.startswith(candidate + ": "):
            return message[len(candidate) + 2 :]
    return message


def parse_image_file(path: str | Path) -> list[dict[str, Any]]:
    """Return one image block for an image file, with the text OCR reads in it.

    Args:
        path: The image file.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path).resolve()
    try:
        with Image.open(path) as img:
            img.verify()
        with Image.open(path) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ParseError(path, f"the image cannot be decoded ({exc}); re-export it as PNG or JPEG") from exc
    except Image.DecompressionBombError as exc:
        reason = str(image_too_large(str(path), str(exc).rstrip(".")))
        raise ParseError(path, strip_path_prefix(reason, path)) from exc
    try:
        text = ocr_text(path)  # bounded: a huge image is refused, a strip is read in tiles
    except ImageReadError as exc:
        raise ParseError(path, strip_path_prefix(str(exc), path)) from exc
    return [
        {
            "type": "image",
            "img_path": str(path),
            "image_caption": [],
            "image_footnote": [],
            "page_idx": 0,
            "bbox": [0.0, 0.0, float(width), float(height)],
            "ocr_text": text,
        }
    ]
