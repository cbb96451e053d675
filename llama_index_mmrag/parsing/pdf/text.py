"""Text lines from a page's text layer, read through pdfium (pypdfium2's raw API).

pdfium orders the characters of a page, inserts the spaces and line breaks the PDF leaves implicit and
gives each character a box; this module turns that stream into :class:`Line` records with their box, font
size, weight and a "looks like display math" flag, which is all the layout step needs.
"""

from __future__ import annotations

import ctypes
import re
import statistics
from dataclasses import dataclass

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from llama_index_mmrag.parsing.pdf.geometry import Box, HasBox, PageGeometry

_BLANKS = frozenset(" \t\xa0\u2002\u2003\u2009\u200b\ufeff")
_MATH_SYMBOLS = frozenset(
    "=+<>±∓×÷·∘∑∏∐∫∬∮∂∇√∞∝∈∉∋⊂⊃⊆⊇∪∩∧∨¬∀∃∄"
    "→←↔⇒⇐⇔↦≤≥≦≧≪≫≈≃≅≠≡≐∼∽⊕⊗⊙⊥∥′″‖^_|"
    "ℝℕℤℚℂℓ∅⟨⟩⌊⌋⌈⌉"
)
_MATH_FONT = re.compile(r"CMMI|CMSY|CMEX|MSBM|MSAM|EUFM|RSFS|MATH|SYMBOL|STIX|ESSTIX|MTMI|MTSY|RTXMI|TXSY", re.I)
_BOLD_FONT = re.compile(r"bold|black|heavy|semibold|demi|-medi(?:um)?\b|\bmedi$", re.I)
_LATEX = re.compile(
    r"\\(?:frac|dfrac|sum|prod|int|oint|sqrt|alpha|beta|gamma|delta|epsilon|theta|lambda|mu|sigma|omega|pi|"
    r"partial|nabla|infty|cdot|times|leq|geq|neq|approx|mathbb|mathrm|mathbf|mathcal|left|right|begin|end|"
    r"hat|bar|vec|log|exp|sin|cos|lim)\b"
)
_WORD = re.compile(r"[A-Za-z]{4,}")
_MATH_CHAR = re.compile(
    "[" + re.escape("".join(sorted(_MATH_SYMBOLS))) + "\u0391-\u03c9\u03d0-\u03f5\U0001d400-\U0001d7ff]"
)
_ALNUM = re.compile(r"[^\W_]")
_SOFT_HYPHENS = frozenset("\x02\ufffe")
_LINE_END = re.compile("[\r\n]+|[\x02\ufffe]")
_CONTROL = re.compile("[\x00-\x01\x03-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff\ue000-\uf8ff]")
_FONT_NAME_BUFFER = 128


@dataclass
class Line(HasBox):
    """One line of text on a page.

    Args:
        text: The line's text, whitespace collapsed.
        bbox: ``(x0, y0, x1, y1)`` in points, top-left origin.
        size: Font size in points (for OCR lines, an estimate from the box height).
        bold: Whether most of the line is set in a bold font.
        math: Whether the line looks like display math rather than prose.

    Example:
        >>> line = Line(text="1 Introduction", bbox=(72.0, 90.0, 200.0, 108.0), size=18.0, bold=True)
        >>> line.width, line.height, line.math
        (128.0, 18.0, False)
    """

    text: str
    bbox: Box
    size: float
    bold: bool = False
    math: bool = False


def has_latex(text: str) -> bool:
    """Whether a text carries LaTeX markup such as ``\\frac`` or ``\\sum``.

    Args:
        text: The text to inspect.
    """
    return bool(_LATEX.search(text))


def math_symbol_ratio(text: str) -> float:
    """Share of non-blank characters that are math operators, relations or Greek letters.

    Args:
        text: The text to inspect.
    """
    visible = len(text) - sum(1 for c in text if c.isspace())
    return len(_MATH_CHAR.findall(text)) / visible if visible else 0.0


def looks_like_math(text: str, math_font_ratio: float = 0.0) -> bool:
    """Decide whether a line is display math rather than prose.

    A line is math when it carries LaTeX, or when operators, relations and Greek letters (or glyphs from math
    fonts such as CMMI/CMSY) dominate it and it holds few natural-language words.

    Args:
        text: The line's text.
        math_font_ratio: Share of the line's characters set in a math font.
    """
    stripped = text.strip()
    if len(stripped) < 3 or len(stripped) > 240:
        return False
    if "\\" in stripped and has_latex(stripped):
        return True
    if not _MATH_CHAR.search(stripped):
        return False
    words = len(_WORD.findall(stripped))
    symbols = math_symbol_ratio(stripped)
    has_relation = any(c in "=≤≥≈≠≡∝<>∈→⇒" for c in stripped)
    if math_font_ratio >= 0.35 and words <= 3 and (has_relation or symbols >= 0.1):
        return True
    return has_relation and symbols >= 0.12 and words <= 2 and not stripped.endswith((".", ":"))


def page_geometry(page: pdfium.PdfPage) -> PageGeometry:
    """The displayed frame (crop box and rotation) of a pypdfium2 page.

    Args:
        page: An open pypdfium2 page.
    """
    left, bottom, right, top = page.get_cropbox()
    return PageGeometry(left, bottom, right, top, page.get_rotation() % 360)


class TextLayer:
    """Reads the lines of one page's text layer.

    pdfium's own text stream (with the line breaks it infers) gives the lines; the text rectangles pdfium
    computes for each line give its box, so the per-character work stays inside pdfium.

    Args:
        page: An open pypdfium2 page.
        geometry: The page's displayed frame.

    Example:
        >>> page = pdfium.PdfDocument("report.pdf")[0]
        >>> lines = TextLayer(page, page_geometry(page)).lines()
        >>> lines[0].text, lines[0].bbox[1] < lines[1].bbox[1]  # boxes in points, from the top of the page
        ('1 Introduction', True)
    """

    def __init__(self, page: pdfium.PdfPage, geometry: PageGeometry) -> None:
        self._textpage = page.get_textpage()
        self._raw = self._textpage.raw
        self._geometry = geometry
        self._count = max(pdfium_c.FPDFText_CountChars(self._raw), 0)
        self._text: str | None = None
        self._spans: list[tuple[int, int, Box]] = []
        self._span_chars: dict[int, list[tuple[int, str, Box]]] = {}
        self._font_buffer = ctypes.create_string_buffer(_FONT_NAME_BUFFER)
        self._flags = ctypes.c_int()
        self._edges = [ctypes.c_double() for _ in range(4)]
        self._matrix = pdfium_c.FS_MATRIX()

    def close(self) -> None:
        """Release the pdfium text page."""
        self._textpage.close()

    def text(self) -> str:
        """The page's text, one character per pdfium character index."""
        if self._text is None:
            text = self._textpage.get_text_range() if self._count else ""
            if len(text) != self._count:
                text = "".join(chr(pdfium_c.FPDFText_GetUnicode(self._raw, i) or 0x20) for i in range(self._count))
            self._text = text
        return self._text

    def readable_chars(self) -> int:
        """Number of letters and digits in the text layer (a quick test for a usable text layer)."""
        return len(_ALNUM.findall(self.text()))

    def lines(self) -> list[Line]:
        """Extract the page's lines in pdfium's order.

        Returns:
            Lines with boxes in displayed page coordinates; blank lines are dropped.
        """
        lines: list[Line] = []
        self._spans = []
        for start, end in _line_spans(self.text()):
            line = self._line(start, end)
            if line is not None:
                self._spans.append((start, end, line.bbox))
                lines.extend(self._split_gutter(line, start, end))
        return lines

    def _line(self, start: int, end: int) -> Line | None:
        text = _clean(self.text()[start:end])
        rects = self._rects(start, end - start)
        if not text or not rects:
            return None
        bbox = (min(r[0] for r in rects), min(r[1] for r in rects), max(r[2] for r in rects), max(r[3] for r in rects))
        if bbox[2] - bbox[0] <= 0 or bbox[3] - bbox[1] <= 0:
            return None
        size, bold, math_fonts = self._style(start, end)
        return Line(text, bbox, size, bold, looks_like_math(text, math_fonts))

    def _rects(self, start: int, count: int) -> list[Box]:
        left, top, right, bottom = self._edges
        rects = []
        for k in range(pdfium_c.FPDFText_CountRects(self._raw, start, count)):
            if pdfium_c.FPDFText_GetRect(self._raw, k, left, top, right, bottom):
                rects.append(self._geometry.to_display(left.value, bottom.value, right.value, top.value))
        return [r for r in rects if r[2] > r[0] and r[3] > r[1]]

    def _style(self, start: int, end: int) -> tuple[float, bool, float]:
        text = self.text()
        indices = [i for i in range(start, end) if text[i] not in _BLANKS]
        if not indices:
            return 0.0, False, 0.0
        sample = indices[:: max(1, len(indices) // 3)][:3]
        sizes = [self._font_size(i) for i in sample]
        bold = sum(1 for i in sample if self._is_bold(i)) > len(sample) / 2
        candidate = _MATH_CHAR.search(text, start, end) is not None
        math_fonts = self._math_font_ratio(indices) if candidate else 0.0
        return float(statistics.median(sizes)), bold, math_fonts

    def _font_size(self, index: int) -> float:
        """The character's font size as printed: the nominal size scaled by its text and page matrices."""
        nominal = pdfium_c.FPDFText_GetFontSize(self._raw, index)
        if not pdfium_c.FPDFText_GetMatrix(self._raw, index, ctypes.byref(self._matrix)):
            return float(nominal)
        m = self._matrix
        return float(nominal) * abs(m.a * m.d - m.b * m.c) ** 0.5

    def _math_font_ratio(self, indices: list[int]) -> float:
        sample = indices[:: max(1, len(indices) // 40)]
        return sum(1 for i in sample if _MATH_FONT.search(self._font_name(i))) / len(sample)

    def _font_name(self, index: int) -> str:
        size = pdfium_c.FPDFText_GetFontInfo(
            self._raw, index, self._font_buffer, _FONT_NAME_BUFFER, ctypes.byref(self._flags)
        )
        return self._font_buffer.value.decode("utf-8", "ignore") if size else ""

    def _is_bold(self, index: int) -> bool:
        name = self._font_name(index)
        weight = pdfium_c.FPDFText_GetFontWeight(self._raw, index)
        return weight >= 600 or bool(_BOLD_FONT.search(name)) or bool(self._flags.value & (1 << 18))

    def _split_gutter(self, line: Line, start: int, end: int) -> list[Line]:
        """Split a line that pdfium joined across a column gutter into its two prose halves.

        Table rows also have wide gaps, so a split only happens when both sides are prose: at least 3 words
        and 15 characters each.
        """
        limit = 2.5 * max(line.size, 4.0)
        if line.width < 20 * max(line.size, 1.0):
            return [line]
        rects = sorted(self._rects(start, end - start))
        gaps = [k for k in range(1, len(rects)) if rects[k][0] - max(r[2] for r in rects[:k]) > limit]
        if len(gaps) != 1:
            return [line]
        cut_x = rects[gaps[0]][0]
        boxes = [(i, self._char_box(i)) for i in range(start, end)]
        left = [i for i, b in boxes if b is not None and b[2] <= cut_x + 0.5]
        right = [i for i, b in boxes if b is not None and b[0] >= cut_x - 0.5]
        if not left or not right or max(left) >= min(right):
            return [line]
        halves = [(start, max(left) + 1), (min(right), end)]
        texts = [_clean(self.text()[a:b]) for a, b in halves]
        if not all(len(t) >= 15 and len(t.split()) >= 3 for t in texts):
            return [line]
        return [part for a, b in halves if (part := self._line(a, b)) is not None]

    def chars_in(self, region: Box) -> list[tuple[int, str, Box]]:
        """The non-blank characters whose centre lies inside a region, in pdfium's order.

        Only lines found by :meth:`lines` are searched, and only those that meet the region.

        Args:
            region: A displayed box.

        Returns:
            ``(index, char, box)`` triples.
        """
        x0, y0, x1, y1 = region
        found: list[tuple[int, str, Box]] = []
        for number, (start, end, box) in enumerate(self._spans):
            if box[2] < x0 or box[0] > x1 or box[3] < y0 or box[1] > y1:
                continue
            if number not in self._span_chars:
                text = self.text()
                boxes = ((i, text[i], self._char_box(i)) for i in range(start, end))
                self._span_chars[number] = [(i, c, b) for i, c, b in boxes if b is not None]
            found.extend(
                item
                for item in self._span_chars[number]
                if x0 <= (item[2][0] + item[2][2]) / 2 <= x1 and y0 <= (item[2][1] + item[2][3]) / 2 <= y1
            )
        return found

    def _char_box(self, index: int) -> Box | None:
        if self.text()[index] in _BLANKS:
            return None
        left, top, right, bottom = self._edges
        if not pdfium_c.FPDFText_GetCharBox(self._raw, index, left, right, bottom, top):
            return None
        return self._geometry.to_display(left.value, bottom.value, right.value, top.value)


def _line_spans(text: str) -> list[tuple[int, int]]:
    """Character ranges of the lines: pdfium ends a line with CR/LF, or with a soft hyphen (U+0002, which
    ``FPDFText_GetText`` reports as U+FFFE) when it glued a word hyphenated across two lines together."""
    spans, start = [], 0
    for match in _LINE_END.finditer(text):
        hyphen = match.group() in _SOFT_HYPHENS
        end = match.end() if hyphen else match.start()
        if end > start:
            spans.append((start, end))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def _clean(raw: str) -> str:
    text = _CONTROL.sub("", raw.replace("\x02", "-").replace("\ufffe", "-"))
    return " ".join(text.split())
