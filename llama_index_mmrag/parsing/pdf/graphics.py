"""The graphic objects of a page (raster images and vector paths), read through pdfium.

Objects nested in Form XObjects are reported in page coordinates: pdfium gives their bounds in the form's
own space, so the forms' matrices are composed on the way down.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from llama_index_mmrag.parsing.pdf.geometry import Box, HasBox, PageGeometry, box_area

Matrix = tuple[float, float, float, float, float, float]

_IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_MAX_FORM_DEPTH = 6
_RULE_THICKNESS = 2.5
_BACKGROUND_SHARE = 0.6
_MAX_EDGE_SEGMENTS = 1500
_RECT_SEGMENTS = 6
_GRID_MIN_SIDE = 20.0
_AXIS_TOLERANCE = 0.5
_MIN_EDGE = 3.0
_LINE, _BREAK = 0, 1


@dataclass(frozen=True)
class Graphic(HasBox):
    """One visible graphic object.

    Args:
        kind: ``"image"`` for a raster image, ``"path"`` for a vector path.
        bbox: Displayed box in points, top-left origin.
        pixels: Raster size ``(width, height)`` in pixels (images only).
        segments: Number of path segments (paths only).
        handle: The pdfium page object (valid while its page is open).
        matrix: Object-to-page matrix of the path's points.

    Example:
        >>> rule = Graphic(kind="path", bbox=(72.0, 300.0, 400.0, 300.5), segments=1)   # a table's ruling
        >>> rule.is_rule, rule.is_horizontal_rule, rule.is_vertical_rule
        (True, True, False)
        >>> Graphic(kind="image", bbox=(72.0, 100.0, 272.0, 250.0), pixels=(800, 600)).is_rule
        False
    """

    kind: str
    bbox: Box
    pixels: tuple[int, int] = (0, 0)
    segments: int = 0
    handle: Any = field(default=None, compare=False, repr=False)
    matrix: Matrix = field(default=(1.0, 0.0, 0.0, 1.0, 0.0, 0.0), compare=False, repr=False)

    @property
    def is_rule(self) -> bool:
        """A thin horizontal or vertical line (table rule, underline, separator)."""
        return min(self.width, self.height) <= _RULE_THICKNESS and max(self.width, self.height) >= 4.0

    @property
    def is_horizontal_rule(self) -> bool:
        """A thin horizontal line."""
        return self.is_rule and self.width > self.height

    @property
    def is_vertical_rule(self) -> bool:
        """A thin vertical line."""
        return self.is_rule and self.height >= self.width


def collect_graphics(page: pdfium.PdfPage, geometry: PageGeometry) -> list[Graphic]:
    """List the visible images and paths of a page.

    Invisible paths, white fills, degenerate boxes and page-sized background fills are left out.

    Args:
        page: An open pypdfium2 page.
        geometry: The page's displayed frame.
    """
    page_area = geometry.width * geometry.height
    graphics: list[Graphic] = []
    for handle, kind, matrix in _walk(page.raw, _IDENTITY, 0, container=None):
        bounds = _bounds(handle)
        if bounds is None:
            continue
        bbox = geometry.to_display(*_transform_rect(matrix, bounds))
        if box_area(bbox) <= 0 and max(bbox[2] - bbox[0], bbox[3] - bbox[1]) < 4.0:
            continue
        if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            graphic = _image(handle, bbox)
        else:
            graphic = _path(handle, bbox, _compose(_matrix(handle), matrix))
        if graphic is None or (graphic.kind == "path" and box_area(bbox) > _BACKGROUND_SHARE * page_area):
            continue
        graphics.append(graphic)
    return graphics


def _walk(
    parent: ctypes.c_void_p, matrix: Matrix, depth: int, container: ctypes.c_void_p | None
) -> Iterator[tuple[ctypes.c_void_p, int, Matrix]]:
    if container is None:
        count, get = pdfium_c.FPDFPage_CountObjects(parent), pdfium_c.FPDFPage_GetObject
    else:
        count, get = pdfium_c.FPDFFormObj_CountObjects(container), pdfium_c.FPDFFormObj_GetObject
    owner = parent if container is None else container
    for index in range(max(count, 0)):
        handle = get(owner, index)
        if not handle:
            continue
        kind = pdfium_c.FPDFPageObj_GetType(handle)
        if kind == pdfium_c.FPDF_PAGEOBJ_FORM and depth < _MAX_FORM_DEPTH:
            yield from _walk(parent, _compose(_matrix(handle), matrix), depth + 1, container=handle)
        elif kind in (pdfium_c.FPDF_PAGEOBJ_IMAGE, pdfium_c.FPDF_PAGEOBJ_PATH):
            yield handle, kind, matrix


def _matrix(handle: ctypes.c_void_p) -> Matrix:
    raw = pdfium_c.FS_MATRIX()
    if not pdfium_c.FPDFPageObj_GetMatrix(handle, ctypes.byref(raw)):
        return _IDENTITY
    return (raw.a, raw.b, raw.c, raw.d, raw.e, raw.f)


def _compose(inner: Matrix, outer: Matrix) -> Matrix:
    """The matrix that applies ``inner`` first, then ``outer``."""
    a, b, c, d, e, f = inner
    A, B, C, D, E, F = outer
    return (a * A + b * C, a * B + b * D, c * A + d * C, c * B + d * D, e * A + f * C + E, e * B + f * D + F)


def _transform_rect(matrix: Matrix, rect: Box) -> Box:
    if matrix == _IDENTITY:
        return rect
    a, b, c, d, e, f = matrix
    left, bottom, right, top = rect
    xs, ys = [], []
    for x, y in ((left, bottom), (left, top), (right, bottom), (right, top)):
        xs.append(a * x + c * y + e)
        ys.append(b * x + d * y + f)
    return (min(xs), min(ys), max(xs), max(ys))


def _bounds(handle: ctypes.c_void_p) -> Box | None:
    left, bottom, right, top = ctypes.c_float(), ctypes.c_float(), ctypes.c_float(), ctypes.c_float()
    if not pdfium_c.FPDFPageObj_GetBounds(handle, left, bottom, right, top):
        return None
    return (left.value, bottom.value, right.value, top.value)


def _image(handle: ctypes.c_void_p, bbox: Box) -> Graphic | None:
    width, height = ctypes.c_uint(), ctypes.c_uint()
    if not pdfium_c.FPDFImageObj_GetImagePixelSize(handle, width, height):
        return None
    return Graphic("image", bbox, pixels=(width.value, height.value))


def _path(handle: ctypes.c_void_p, bbox: Box, matrix: Matrix) -> Graphic | None:
    fill_mode, stroke = ctypes.c_int(), ctypes.c_int()
    if not pdfium_c.FPDFPath_GetDrawMode(handle, ctypes.byref(fill_mode), ctypes.byref(stroke)):
        return None
    filled, stroked = fill_mode.value != 0, bool(stroke.value)
    if not filled and not stroked:
        return None
    if filled and not stroked and _is_white_or_clear(handle):
        return None
    segments = max(pdfium_c.FPDFPath_CountSegments(handle), 0)
    return Graphic("path", bbox, segments=segments, handle=handle, matrix=matrix)


def path_edges(graphic: Graphic, geometry: PageGeometry) -> tuple[Box, ...]:
    """The horizontal and vertical straight segments of a path, as displayed boxes with one side 0 long.

    Rules and rectangles are read from their box; other paths (a table grid drawn as one path) are walked
    segment by segment when they are big enough to be a grid.

    Args:
        graphic: A path from :func:`collect_graphics` whose page is still open.
        geometry: The page's displayed frame.
    """
    x0, y0, x1, y1 = graphic.bbox
    if graphic.kind != "path":
        return ()
    if graphic.is_horizontal_rule:
        return ((x0, (y0 + y1) / 2, x1, (y0 + y1) / 2),)
    if graphic.is_vertical_rule:
        return (((x0 + x1) / 2, y0, (x0 + x1) / 2, y1),)
    if graphic.segments <= _RECT_SEGMENTS:
        return ((x0, y0, x1, y0), (x0, y1, x1, y1), (x0, y0, x0, y1), (x1, y0, x1, y1))
    if graphic.segments > _MAX_EDGE_SEGMENTS or graphic.width < _GRID_MIN_SIDE or graphic.height < _GRID_MIN_SIDE:
        return ()
    return _straight_edges(graphic.handle, graphic.segments, graphic.matrix, geometry)


def _straight_edges(handle: ctypes.c_void_p, count: int, matrix: Matrix, geometry: PageGeometry) -> tuple[Box, ...]:
    """The axis-parallel straight segments of a path, in displayed coordinates."""
    points = _path_points(handle, count, matrix)
    edges = []
    for (x0, y0, kind), (x1, y1, _) in zip(points, points[1:]):
        if kind == _BREAK:
            continue
        if abs(x0 - x1) <= _AXIS_TOLERANCE or abs(y0 - y1) <= _AXIS_TOLERANCE:
            box = geometry.to_display(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
            if max(box[2] - box[0], box[3] - box[1]) >= _MIN_EDGE:
                edges.append(box)
    return tuple(edges)


def _path_points(handle: ctypes.c_void_p, count: int, matrix: Matrix) -> list[tuple[float, float, int]]:
    """Path vertices in page space; a ``_BREAK`` mark after a point means no straight line leaves it."""
    a, b, c, d, e, f = matrix
    x, y = ctypes.c_float(), ctypes.c_float()
    points: list[tuple[float, float, int]] = []
    start: tuple[float, float] | None = None
    for index in range(count):
        segment = pdfium_c.FPDFPath_GetPathSegment(handle, index)
        if not segment or not pdfium_c.FPDFPathSegment_GetPoint(segment, x, y):
            continue
        px, py = a * x.value + c * y.value + e, b * x.value + d * y.value + f
        kind = pdfium_c.FPDFPathSegment_GetType(segment)
        if kind == pdfium_c.FPDF_SEGMENT_MOVETO:
            if points:
                points[-1] = (points[-1][0], points[-1][1], _BREAK)
            start = (px, py)
        elif kind != pdfium_c.FPDF_SEGMENT_LINETO and points:
            points[-1] = (points[-1][0], points[-1][1], _BREAK)
        points.append((px, py, _LINE))
        if pdfium_c.FPDFPathSegment_GetClose(segment) and start is not None:
            points.append((start[0], start[1], _LINE))
    return points


def _is_white_or_clear(handle: ctypes.c_void_p) -> bool:
    r, g, b, a = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
    if not pdfium_c.FPDFPageObj_GetFillColor(handle, r, g, b, a):
        return False
    return a.value == 0 or min(r.value, g.value, b.value) >= 250
