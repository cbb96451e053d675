"""Page geometry shared by the PDF parser: boxes in PDF points, top-left origin.

Every box the parser emits is ``(x0, y0, x1, y1)`` in PDF points measured from the top-left corner of the
page as it is displayed (crop box, page rotation applied), which is also how a rendered page bitmap is laid
out. :class:`PageGeometry` converts PDF user-space rectangles (bottom-left origin) into that frame.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class PageGeometry:
    """The displayed frame of one page.

    Args:
        left: Crop box left edge in PDF user space.
        bottom: Crop box bottom edge in PDF user space.
        right: Crop box right edge in PDF user space.
        top: Crop box top edge in PDF user space.
        rotation: Clockwise page rotation in degrees (0, 90, 180 or 270).

    Example:
        >>> landscape = PageGeometry(left=0, bottom=0, right=612, top=792, rotation=90)   # a portrait page, turned
        >>> landscape.width, landscape.height
        (792, 612)
        >>> PageGeometry(0.0, 0.0, 612.0, 792.0).to_display(72.0, 692.0, 172.0, 742.0)   # to a top-left origin
        (72.0, 50.0, 172.0, 100.0)
    """

    left: float
    bottom: float
    right: float
    top: float
    rotation: int = 0

    @property
    def width(self) -> float:
        """Width of the displayed page in points."""
        if self.rotation in (90, 270):
            return self.top - self.bottom
        return self.right - self.left

    @property
    def height(self) -> float:
        """Height of the displayed page in points."""
        if self.rotation in (90, 270):
            return self.right - self.left
        return self.top - self.bottom

    def _point(self, x: float, y: float) -> tuple[float, float]:
        u, v = x - self.left, self.top - y
        w, h = self.right - self.left, self.top - self.bottom
        if self.rotation == 90:
            return h - v, u
        if self.rotation == 180:
            return w - u, h - v
        if self.rotation == 270:
            return v, w - u
        return u, v

    def to_display(self, left: float, bottom: float, right: float, top: float) -> Box:
        """Convert a PDF user-space rectangle to a displayed top-left-origin box.

        Args:
            left: Left edge in user space.
            bottom: Bottom edge in user space.
            right: Right edge in user space.
            top: Top edge in user space.

        Returns:
            The box ``(x0, y0, x1, y1)`` clipped to the page.
        """
        if self.rotation == 0:
            box = (left - self.left, self.top - top, right - self.left, self.top - bottom)
            return clip_box(box, self.width, self.height)
        (ax, ay), (bx, by) = self._point(left, bottom), self._point(right, top)
        return clip_box((min(ax, bx), min(ay, by), max(ax, bx), max(ay, by)), self.width, self.height)


def clip_box(box: Box, width: float, height: float) -> Box:
    """Clip a box to ``[0, width] x [0, height]``.

    Args:
        box: The box to clip.
        width: Page width.
        height: Page height.
    """
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))


def box_area(box: Box) -> float:
    """Area of a box (0 for degenerate boxes).

    Args:
        box: The box.
    """
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


class HasBox:
    """Width and height of anything laid out on a page by its ``bbox`` (a graphic object, a text line).

    Example:
        >>> from llama_index_mmrag.parsing.pdf.text import Line
        >>> line = Line(text="Figure 2: Recall", bbox=(72.0, 400.0, 210.0, 412.0), size=10.0)
        >>> line.width, line.height
        (138.0, 12.0)
    """

    bbox: Box

    @property
    def width(self) -> float:
        """Displayed width in points."""
        return self.bbox[2] - self.bbox[0]

    @property
    def height(self) -> float:
        """Displayed height in points."""
        return self.bbox[3] - self.bbox[1]


def intersection_area(a: Box, b: Box) -> float:
    """Area of the intersection of two boxes.

    Args:
        a: First box.
        b: Second box.
    """
    return box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def union_box(boxes: Iterable[Box]) -> Box:
    """Smallest box containing all given boxes.

    Args:
        boxes: At least one box.
    """
    items = list(boxes)
    return (
        min(b[0] for b in items),
        min(b[1] for b in items),
        max(b[2] for b in items),
        max(b[3] for b in items),
    )


def center_inside(inner: Box, outer: Box, margin: float = 0.0) -> bool:
    """Whether the centre of ``inner`` lies inside ``outer`` grown by ``margin``.

    Args:
        inner: The box whose centre is tested.
        outer: The containing box.
        margin: Points added on every side of ``outer``.
    """
    cx, cy = (inner[0] + inner[2]) / 2, (inner[1] + inner[3]) / 2
    return outer[0] - margin <= cx <= outer[2] + margin and outer[1] - margin <= cy <= outer[3] + margin


def covered_fraction(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area that lies inside ``outer``.

    Args:
        inner: The box to measure.
        outer: The covering box.
    """
    area = box_area(inner)
    return intersection_area(inner, outer) / area if area > 0 else float(center_inside(inner, outer))


def horizontal_overlap(a: Box, b: Box) -> float:
    """Length of the overlap of two boxes' horizontal extents (negative: the gap between them).

    Args:
        a: First box.
        b: Second box.
    """
    return min(a[2], b[2]) - max(a[0], b[0])


def gap_between(a: Box, b: Box) -> float:
    """Shortest distance between two boxes (0 when they touch or overlap).

    Args:
        a: First box.
        b: Second box.
    """
    dx = max(0.0, max(a[0], b[0]) - min(a[2], b[2]))
    dy = max(0.0, max(a[1], b[1]) - min(a[3], b[3]))
    return (dx * dx + dy * dy) ** 0.5


def rounded(box: Box, digits: int = 2) -> list[float]:
    """A box as a JSON-friendly list of rounded floats.

    Args:
        box: The box.
        digits: Decimal places kept.
    """
    return [round(float(v), digits) for v in box]
