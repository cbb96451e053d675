"""Figure regions of a born-digital page: raster images and vector drawings, with their labels.

Graphic objects that touch (after a small margin) are merged into clusters; a cluster becomes a figure when
it holds a raster image, or enough vector paths with little running text inside (a chart, a diagram).
Short text-layer lines inside a figure (axis labels, legends) belong to the figure, not to the body text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llama_index_mmrag.parsing.pdf.geometry import (
    Box,
    box_area,
    center_inside,
    covered_fraction,
    gap_between,
    union_box,
)
from llama_index_mmrag.parsing.pdf.graphics import Graphic
from llama_index_mmrag.parsing.pdf.text import Line

FIGURE_CAPTION = re.compile(
    r"^\s*(?:Figure|FIGURE|Fig\.?|FIG\.?|Chart|Exhibit|Photo|Image)\s*[A-Z]?[0-9IVX]+[A-Za-z]?(?:[.:\-–—\s]|$)"
)

MIN_IMAGE_PIXELS = 40
_MIN_IMAGE_POINTS = 20.0
_MIN_FIGURE_POINTS = 30.0
_SEED_MARGIN = 6.0
_MIN_VECTOR_PATHS = 6
_MAX_TEXT_COVERAGE = 0.35
_MAX_LABEL_CHARS = 80
_MAX_LABEL_TOTAL = 800
_BACKGROUND_SHARE = 0.7
_LABEL_MARGIN = 10.0
_LABEL_ROUNDS = 3
_PANEL_GAP = 12.0


@dataclass
class FigureRegion:
    """A figure found on a page.

    Args:
        bbox: Displayed box in points, top-left origin.
        raster: Whether it contains a raster image.
        labels: Text-layer lines that belong to the figure (taken out of the body text).
        overlay: Text-layer lines printed over the figure that stay body text (a poster, a brochure page).

    Example:
        >>> label = Line("Throughput", (90.0, 120.0, 150.0, 130.0), 8.0)
        >>> chart = FigureRegion(bbox=(72.0, 100.0, 300.0, 250.0), raster=False, labels=[label])
        >>> chart.text_layer_words, chart.needs_ocr
        ('Throughput', False)
        >>> FigureRegion(bbox=(72.0, 100.0, 300.0, 250.0), raster=True).needs_ocr   # a photo: its words are pixels
        True
    """

    bbox: Box
    raster: bool
    labels: list[Line] = field(default_factory=list)
    overlay: list[Line] = field(default_factory=list)

    @property
    def text_layer_words(self) -> str:
        """The text-layer words on the figure (labels, or the text printed over it), one line each."""
        return "\n".join(line.text for line in (self.labels or self.overlay))

    @property
    def needs_ocr(self) -> bool:
        """Whether the figure's words exist only as pixels (a raster with no text-layer words on it)."""
        return self.raster and not self.labels and not self.overlay


def find_figures(graphics: list[Graphic], lines: list[Line], page_box: Box, exclude: list[Box]) -> list[FigureRegion]:
    """Find the figures of a page.

    Args:
        graphics: The page's graphic objects.
        lines: The page's text-layer lines (labels are taken from them, captions never).
        page_box: ``(0, 0, width, height)`` of the displayed page.
        exclude: Boxes already claimed (tables); graphics inside them are ignored.

    Returns:
        Figure regions, each with the labels it took; overlapping regions are merged.
    """
    page_area = box_area(page_box)
    seeds = [g for g in graphics if _is_seed(g, lines, page_area) and not _inside_any(g.bbox, exclude)]
    rules = [g for g in graphics if g.kind == "path" and g.is_rule and not _inside_any(g.bbox, exclude)]
    regions = [
        region
        for members in _clusters(seeds, rules)
        if (region := _qualify(members, lines, page_area)) is not None
    ]
    merged = _merge_overlapping(regions)
    for region in merged:
        _absorb_inner_labels(region, lines)
    return merged


def _is_seed(graphic: Graphic, lines: list[Line], page_area: float) -> bool:
    if graphic.kind == "path":
        return not graphic.is_rule and graphic.width >= 1.0 and graphic.height >= 1.0
    if min(graphic.pixels) < MIN_IMAGE_PIXELS or min(graphic.width, graphic.height) < _MIN_IMAGE_POINTS:
        return False
    if box_area(graphic.bbox) >= _BACKGROUND_SHARE * page_area:
        text_on_top = sum(len(line.text) for line in lines if center_inside(line.bbox, graphic.bbox))
        return text_on_top < 50  # a full-page scan under its OCR text layer, or a decorative background
    return True


def _inside_any(box: Box, regions: list[Box]) -> bool:
    return any(covered_fraction(box, region) > 0.5 for region in regions)


def _clusters(seeds: list[Graphic], rules: list[Graphic]) -> list[list[Graphic]]:
    """Group seeds whose boxes (grown by a margin) touch; rules join the cluster they touch."""
    items = seeds + rules
    margins = [_SEED_MARGIN] * len(seeds) + [1.0] * len(rules)
    grown = [_grow(item.bbox, margin) for item, margin in zip(items, margins)]
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(items)), key=lambda i: grown[i][0])
    active: list[int] = []
    for i in order:
        active = [j for j in active if grown[j][2] >= grown[i][0]]
        for j in active:
            if grown[j][1] <= grown[i][3] and grown[i][1] <= grown[j][3] and (i < len(seeds) or j < len(seeds)):
                parent[find(i)] = find(j)
        active.append(i)
    groups: dict[int, list[Graphic]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return [group for group in groups.values() if any(not (g.kind == "path" and g.is_rule) for g in group)]


def _grow(box: Box, margin: float) -> Box:
    return (box[0] - margin, box[1] - margin, box[2] + margin, box[3] + margin)


def _qualify(members: list[Graphic], lines: list[Line], page_area: float) -> FigureRegion | None:
    bbox = union_box(g.bbox for g in members)
    if min(bbox[2] - bbox[0], bbox[3] - bbox[1]) < _MIN_FIGURE_POINTS:
        return None
    raster = any(g.kind == "image" for g in members)
    inside = [line for line in lines if center_inside(line.bbox, bbox)]
    coverage = sum(box_area(line.bbox) for line in inside) / max(box_area(bbox), 1.0)
    if not raster:
        paths = sum(1 for g in members if g.kind == "path")
        segments = sum(g.segments for g in members)
        if (paths < _MIN_VECTOR_PATHS and segments < 40) or coverage > _MAX_TEXT_COVERAGE:
            return None
        if box_area(bbox) > 0.85 * page_area:
            return None
    labels: list[Line] = []
    for _ in range(_LABEL_ROUNDS):
        found = _labels(bbox, lines, coverage, page_area)
        if len(found) == len(labels):
            break
        labels = found
        bbox = union_box([bbox, *(line.bbox for line in labels)])
    overlay = [] if labels else [line for line in inside if not FIGURE_CAPTION.match(line.text)]
    return FigureRegion(bbox, raster, labels, overlay)


def _labels(bbox: Box, lines: list[Line], coverage: float, page_area: float) -> list[Line]:
    """The text-layer lines that label a figure; none when running text sits on it (a text box, a poster)."""
    if coverage > _MAX_TEXT_COVERAGE or box_area(bbox) > 0.5 * page_area:
        return []
    grown = _grow(bbox, _LABEL_MARGIN)
    labels = [
        line
        for line in lines
        if covered_fraction(line.bbox, grown) >= 0.6
        and len(line.text) <= _MAX_LABEL_CHARS
        and not FIGURE_CAPTION.match(line.text)
        and (center_inside(line.bbox, bbox) or line.width < 0.6 * (bbox[2] - bbox[0]))
    ]
    if sum(len(line.text) for line in labels) > _MAX_LABEL_TOTAL:
        return []
    return labels


def _absorb_inner_labels(region: FigureRegion, lines: list[Line]) -> None:
    """After panels merge, the short lines between them (shared axis titles, legends) join the labels."""
    if not region.labels:
        return
    taken = {id(line) for line in region.labels}
    region.labels.extend(
        line
        for line in lines
        if id(line) not in taken
        and center_inside(line.bbox, region.bbox)
        and len(line.text) <= _MAX_LABEL_CHARS
        and not FIGURE_CAPTION.match(line.text)
    )


def _merge_overlapping(regions: list[FigureRegion]) -> list[FigureRegion]:
    """Merge regions that overlap or sit next to each other (the panels of one figure), until none do."""
    merged = regions
    while True:
        result: list[FigureRegion] = []
        for region in sorted(merged, key=lambda r: -box_area(r.bbox)):
            host = next((m for m in result if gap_between(region.bbox, m.bbox) <= _PANEL_GAP), None)
            if host is None:
                result.append(FigureRegion(region.bbox, region.raster, list(region.labels), list(region.overlay)))
                continue
            host.bbox = union_box([host.bbox, region.bbox])
            host.raster = host.raster or region.raster
            host.labels.extend(line for line in region.labels if all(line is not known for known in host.labels))
            host.overlay.extend(line for line in region.overlay if all(line is not known for known in host.overlay))
        if len(result) == len(merged):
            return result
        merged = result
