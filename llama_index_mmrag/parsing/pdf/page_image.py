"""Page images: a low-resolution picture of a visually rich page, kept as evidence of the page as a whole.

A slide or a chart-heavy page says more as a picture than as its words: the parser keeps one rendered image of
such a page (long side at most :data:`PAGE_IMAGE_MAX_SIDE` pixels, JPEG) as an ``image`` content item marked
``image_kind: "page"``, with the whole page as its box and a summary of the page's text (its first
:data:`SUMMARY_CHARS` characters of text, captions included) as its ``ocr_text``, so the page is findable as an
image offline and a multimodal LLM can be handed the page itself. Every other item of the page names the picture
in ``page_image``, so whatever is retrieved from the page can bring it along.

A page is visually rich (:func:`is_visually_rich`) when it is

- scanned: no usable text layer, the page is a picture (the parser already rendered it for OCR: that render is
  reused, only scaled down);
- a slide: a landscape page (width at least :data:`SLIDE_ASPECT` times its height), as presentation software
  exports them;
- a born-digital page whose figures (raster images and vector drawings the parser cropped) cover at least
  :data:`FIGURE_SHARE` of its area.

A blank render (no ink at all) gets no page image. ``MMRAG_PAGE_IMAGES=off`` turns page images off
(:func:`page_images_enabled`): on a scanned deck they cost about 2 % more ingest CPU (the graph reads no entities
from them; see ``benchmarks/RESULTS.md``).

Example:
    >>> import numpy as np
    >>> is_visually_rich(720.0, 540.0, scanned=False, figure_boxes=[])     # a 4:3 slide
    True
    >>> is_visually_rich(612.0, 792.0, scanned=False, figure_boxes=[(72.0, 72.0, 300.0, 200.0)])  # a small figure
    False
    >>> page = np.zeros((1100, 850, 3), dtype=np.uint8); page[::7] = 255
    >>> item = page_image_item(page, Path("p.jpg"), page_idx=4, size=(612.0, 792.0), text="Quarterly volumes")
    >>> item["image_kind"], item["page_idx"], item["bbox"], Image.open("p.jpg").size
    ('page', 4, [0.0, 0.0, 612.0, 792.0], (791, 1024))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from llama_index_mmrag.parsing.pdf.geometry import Box, box_area

__all__ = [
    "FIGURE_SHARE",
    "PAGE_IMAGE_KIND",
    "PAGE_IMAGE_MAX_SIDE",
    "SLIDE_ASPECT",
    "SUMMARY_CHARS",
    "PageRenders",
    "is_visually_rich",
    "page_image_item",
    "page_images_enabled",
    "page_summary",
]

PAGE_IMAGE_KIND = "page"
"""``image_kind`` of a page image item (and ``image_kind`` metadata of its node)."""
PAGE_IMAGE_MAX_SIDE = 1024
"""Longest side of a page image, in pixels."""
FIGURE_SHARE = 0.3
"""A born-digital page whose figures cover at least this share of its area is visually rich."""
SLIDE_ASPECT = 1.25
"""A page at least this much wider than high is a slide."""
SUMMARY_CHARS = 600
"""Characters of the page's text a page image carries as its text (cut at a word)."""
JPEG_QUALITY = 75
PAGE_IMAGES_ENV = "MMRAG_PAGE_IMAGES"
"""Environment variable that turns page images off (``off``, ``0``, ``false``, ``no``); they are on by default."""

_BLANK_STD = 3.0


def page_images_enabled() -> bool:
    """Whether the parser keeps page images (unless ``MMRAG_PAGE_IMAGES=off``).

    Example:
        >>> os.environ.get(PAGE_IMAGES_ENV, "on"), page_images_enabled()
        ('on', True)
    """
    return os.environ.get(PAGE_IMAGES_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def is_visually_rich(width: float, height: float, *, scanned: bool, figure_boxes: Sequence[Box]) -> bool:
    """Whether a page is evidence as a whole picture: a scan, a slide, or a page mostly made of figures.

    Args:
        width: Page width in points (as displayed).
        height: Page height in points.
        scanned: Whether the page has no usable text layer.
        figure_boxes: Boxes of the figures the parser kept on the page.
    """
    if scanned:
        return True
    if height > 0 and width / height >= SLIDE_ASPECT:
        return True
    area = width * height
    return area > 0 and sum(box_area(box) for box in figure_boxes) >= FIGURE_SHARE * area


def page_summary(items: Sequence[dict[str, Any]], limit: int = SUMMARY_CHARS) -> str:
    """The page's text in reading order (text, equations, captions), cut at a word after ``limit`` characters.

    Args:
        items: The page's content items, in reading order.
        limit: Most characters kept.

    Example:
        >>> page_summary([{"type": "text", "text": "Exits over $100M"}, {"type": "image", "image_caption": ["Fig. 2"]}])
        'Exits over $100M\\nFig. 2'
    """
    parts: list[str] = []
    for item in items:
        kind = item.get("type")
        if kind in ("text", "equation"):
            parts.append(str(item.get("text") or ""))
        elif kind == "image":
            parts.extend(str(c) for c in item.get("image_caption") or [])
        elif kind == "table":
            parts.extend(str(c) for c in item.get("table_caption") or [])
    text = "\n".join(p.strip() for p in parts if p and p.strip())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(" ")].rstrip() if " " in cut else cut


class PageRenders:
    """The renders of one page, made at most once per scale; a smaller picture is scaled down from one made.

    Args:
        render: Renders the page at a scale (pixels per point) into an RGB array.

    Example:
        >>> renders = PageRenders(lambda scale: np.zeros((int(792 * scale), int(612 * scale), 3), dtype=np.uint8))
        >>> renders.at(2.0).shape, renders.fitting(612.0, 792.0, 1024).shape   # the second from the first
        ((1584, 1224, 3), (1024, 791, 3))
    """

    def __init__(self, render: Callable[[float], np.ndarray]) -> None:
        self._render = render
        self._made: dict[float, np.ndarray] = {}

    def at(self, scale: float) -> np.ndarray:
        """The page at ``scale`` pixels per point (rendered once).

        Args:
            scale: Pixels per point.
        """
        if scale not in self._made:
            self._made[scale] = self._render(scale)
        return self._made[scale]

    def fitting(self, width: float, height: float, max_side: int) -> np.ndarray:
        """The page with its longest side at most ``max_side`` pixels: a render already made, scaled down, else
        a new render at that size.

        Args:
            width: Page width in points.
            height: Page height in points.
            max_side: Longest side in pixels.
        """
        scale = max_side / max(width, height, 1.0)
        made = [pixels for made_scale, pixels in self._made.items() if made_scale >= scale]
        if not made:
            return self.at(scale)
        pixels = min(made, key=lambda p: p.shape[0] * p.shape[1])
        if max(pixels.shape[:2]) <= max_side:
            return pixels
        picture = Image.fromarray(pixels)
        picture.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return np.asarray(picture)


def page_image_item(
    pixels: np.ndarray, path: Path, *, page_idx: int, size: tuple[float, float], text: str
) -> dict[str, Any] | None:
    """Save a page's picture (scaled down to :data:`PAGE_IMAGE_MAX_SIDE`, JPEG) and return its content item;
    ``None`` for a blank page.

    Args:
        pixels: The page rendered (RGB).
        path: Where the JPEG goes.
        page_idx: 0-based page index.
        size: The page's ``(width, height)`` in points.
        text: The page's text summary (:func:`page_summary`).
    """
    if float(pixels.std()) < _BLANK_STD:
        return None
    picture = Image.fromarray(np.ascontiguousarray(pixels))
    if max(picture.size) > PAGE_IMAGE_MAX_SIDE:
        picture.thumbnail((PAGE_IMAGE_MAX_SIDE, PAGE_IMAGE_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    picture.save(path, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return {
        "type": "image",
        "img_path": str(path.resolve()),
        "image_caption": [],
        "image_footnote": [],
        "page_idx": page_idx,
        "bbox": [0.0, 0.0, round(size[0], 2), round(size[1], 2)],
        "ocr_text": text,
        "image_kind": PAGE_IMAGE_KIND,
    }
