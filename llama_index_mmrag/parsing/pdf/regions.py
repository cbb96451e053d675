"""A scanned page's OCR lines shared out among the regions the layout detector found.

The detector (:mod:`.layout_model`) says where the figures, tables, captions and titles of a page image are;
OCR says where its words are. Each line goes to one place:

- a line inside a caption region becomes the caption of the figure (or table) right above or below it;
- a line inside a table region becomes a cell of that table (rows by line position: OCR gives no ruling);
- a line inside a figure region becomes the figure's text (axis labels, legends, words in a photo);
- every other line stays in the page's text, which keeps its reading order.

A figure region that covers a large share of the page (:data:`WIDE_REGION_SHARE`) is where the detector
could not tell a slide's picture from its words: it is no figure of its own (the whole page is kept as the page's
page image, see :mod:`.page_image`, so indexing it again as a figure would only say the slide twice), and its
lines stay in the text. A table region that wide takes its lines *and* leaves them in the text, so no
paragraph is lost to a table. Lines inside a region the detector calls text or title stay in
the text as well. A figure with no caption is captioned by the title right above it, if there is one (a
chart's heading on a slide).

Example:
    >>> from llama_index_mmrag.parsing.pdf.layout_model import Region
    >>> from llama_index_mmrag.parsing.pdf.text import Line
    >>> chart = Region("figure", (100.0, 200.0, 400.0, 400.0))
    >>> caption = Region("figure_caption", (120.0, 405.0, 380.0, 420.0))
    >>> lines = [Line("Q1", (150.0, 380.0, 170.0, 392.0), 9.0), Line("Figure 2: Volume", (130.0, 407.0, 300.0, 418.0), 9.0),
    ...          Line("The year was good.", (100.0, 500.0, 300.0, 512.0), 9.0)]
    >>> scan = arrange_scan(lines, [chart, caption], (0.0, 0.0, 612.0, 792.0))
    >>> [line.text for line in scan.figures[0].lines], scan.figures[0].caption, [line.text for line in scan.text]
    (['Q1'], ['Figure 2: Volume'], ['The year was good.'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

from llama_index_mmrag.parsing.pdf.geometry import Box, box_area, center_inside, covered_fraction, horizontal_overlap
from llama_index_mmrag.parsing.pdf.layout import join_lines
from llama_index_mmrag.parsing.pdf.layout_model import FIGURE, FIGURE_CAPTION, TABLE, TABLE_CAPTION, TEXT, TITLE, Region
from llama_index_mmrag.parsing.pdf.text import Line

WIDE_REGION_SHARE = 0.5
"""A figure region over this share of the page's area is not a figure (the page image shows it); a table region
that wide keeps its lines in the page's text too."""

MIN_REGION_POINTS = 30.0
"""Figure and table regions narrower or lower than this (in points) are ignored (icons, bullets)."""

_NESTED = 0.8  # a region this much inside a bigger one of the same kind is the same region found twice
_CAPTION_DISTANCE = 45.0  # points between a caption region and its figure or table
_TITLE_DISTANCE = 120.0  # points between a chart and the title right above it


@dataclass
class RegionContent:
    """A figure or table region with the lines and caption it was given.

    Args:
        region: The detected region.
        lines: The OCR lines inside it, top to bottom.
        caption: Caption text (at most one entry).

    Example:
        >>> table = RegionContent(Region("table", (72.0, 100.0, 300.0, 140.0)))
        >>> table.lines += [Line("Region", (80.0, 102.0, 120.0, 112.0), 9.0), Line("Q1", (200.0, 103.0, 215.0, 113.0), 9.0),
        ...                 Line("North", (80.0, 122.0, 115.0, 132.0), 9.0), Line("120", (200.0, 121.0, 220.0, 131.0), 9.0)]
        >>> table.rows()
        [['Region', 'Q1'], ['North', '120']]
    """

    region: Region
    lines: list[Line] = field(default_factory=list)
    caption: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The region's lines, one per line of text."""
        return "\n".join(line.text for line in self.lines)

    def rows(self) -> list[list[str]]:
        """The region's lines grouped into rows (lines whose vertical middles fall in one band), each left to
        right: the cells of a table OCR read without its ruling."""
        rows: list[list[Line]] = []
        for line in sorted(self.lines, key=lambda item: (item.bbox[1], item.bbox[0])):
            middle = (line.bbox[1] + line.bbox[3]) / 2
            if rows and rows[-1][0].bbox[1] <= middle <= rows[-1][0].bbox[3]:
                rows[-1].append(line)
            else:
                rows.append([line])
        return [[cell.text for cell in sorted(row, key=lambda item: item.bbox[0])] for row in rows]


@dataclass
class ScanLayout:
    """Where the lines of a scanned page went.

    Args:
        figures: Figure regions with their text and caption.
        tables: Table regions with their cells and caption.
        text: The lines left for the page's paragraphs.

    Example:
        >>> slide = Region("figure", (0.0, 0.0, 720.0, 500.0))  # most of a 720x540 slide: no figure, its words text
        >>> scan = arrange_scan([Line("Exits over $100M", (40.0, 90.0, 200.0, 110.0), 14.0)], [slide], (0.0, 0.0, 720.0, 540.0))
        >>> scan.figures, [line.text for line in scan.text]
        ([], ['Exits over $100M'])
    """

    figures: list[RegionContent]
    tables: list[RegionContent]
    text: list[Line]


def arrange_scan(lines: list[Line], regions: list[Region], page_box: Box) -> ScanLayout:
    """Share a scanned page's OCR lines out among its detected regions.

    Args:
        lines: The page's OCR lines, in page points.
        regions: The detector's regions, in page points (figures already checked to hold a picture).
        page_box: The page, ``(0, 0, width, height)``.

    Returns:
        The figures and tables with their lines and captions, and the lines left for the text.
    """
    wide = WIDE_REGION_SHARE * box_area(page_box)
    pictures = [r for r in regions if not (r.label == FIGURE and box_area(r.bbox) >= wide)]  # a whole slide: no figure
    figures = [RegionContent(r) for r in _distinct(pictures, FIGURE)]
    tables = [RegionContent(r) for r in _distinct(regions, TABLE)]
    captions = [r for r in regions if r.label in (FIGURE_CAPTION, TABLE_CAPTION)]
    prose = [r.bbox for r in regions if r.label in (TEXT, TITLE)]
    caption_lines: dict[int, list[Line]] = {id(r): [] for r in captions}
    text: list[Line] = []
    for line in lines:
        caption = next((r for r in captions if center_inside(line.bbox, r.bbox)), None)
        if caption is not None:
            caption_lines[id(caption)].append(line)
            continue
        owner = _smallest_holder(line, tables) or _smallest_holder(line, figures)
        if owner is None:
            text.append(line)
            continue
        owner.lines.append(line)
        if box_area(owner.region.bbox) >= wide or any(center_inside(line.bbox, box) for box in prose):
            text.append(line)
    for region in captions:
        targets = figures if region.label == FIGURE_CAPTION else tables
        own = caption_lines[id(region)]
        target = _captioned(region.bbox, targets)
        if target is None or not own:
            text.extend(own)
        else:
            target.caption.append(join_lines([line.text for line in own]))
    for figure in figures:
        if not figure.caption:
            figure.caption = _title_above(figure.region.bbox, regions, lines)
    return ScanLayout(figures, tables, text)


def _distinct(regions: list[Region], label: str) -> list[Region]:
    """Regions of one kind, big enough, largest first, without those found twice (mostly inside another)."""
    found = [
        r
        for r in regions
        if r.label == label and min(r.bbox[2] - r.bbox[0], r.bbox[3] - r.bbox[1]) >= MIN_REGION_POINTS
    ]
    kept: list[Region] = []
    for region in sorted(found, key=lambda r: box_area(r.bbox), reverse=True):
        if not any(covered_fraction(region.bbox, other.bbox) >= _NESTED for other in kept):
            kept.append(region)
    return kept


def _smallest_holder(line: Line, contents: list[RegionContent]) -> RegionContent | None:
    holders = [c for c in contents if center_inside(line.bbox, c.region.bbox)]
    return min(holders, key=lambda c: box_area(c.region.bbox), default=None)


def _captioned(caption: Box, contents: list[RegionContent]) -> RegionContent | None:
    """The figure or table right above or below a caption region (sharing some of its width)."""
    best, best_distance = None, _CAPTION_DISTANCE
    for content in contents:
        box = content.region.bbox
        if horizontal_overlap(box, caption) <= 0:
            continue
        distance = 0.0 if center_inside(caption, box) else min(abs(caption[1] - box[3]), abs(box[1] - caption[3]))
        if distance < best_distance:
            best, best_distance = content, distance
    return best


def _title_above(figure: Box, regions: list[Region], lines: list[Line]) -> list[str]:
    """The text of the closest title region right above a figure, if any."""
    best, best_distance = None, _TITLE_DISTANCE
    for region in regions:
        box = region.bbox
        distance = figure[1] - box[3]
        if region.label == TITLE and horizontal_overlap(box, figure) > 0 and -1.0 <= distance < best_distance:
            best, best_distance = box, distance
    if best is None:
        return []
    words = [line.text for line in sorted(lines, key=lambda item: item.bbox[1]) if center_inside(line.bbox, best)]
    return [join_lines(words)] if words else []
