"""Offline OCR with RapidOCR (ONNX models ship inside the ``rapidocr-onnxruntime`` wheel).

Tuned for throughput on CPUs (about 3x faster than RapidOCR's defaults at the same recall on document
figures and pages):

- the image is resized so that its short side is at least 736 px (small figures need the upscale to find
  their text) but its long side at most 1280 px, and detection runs at that size (RapidOCR's default would
  blow a 76x960 banner up to 736x9300);
- text lines are recognised one at a time (batches pad every line to the widest one, which costs more than
  it saves on a single thread: RapidOCR's batches of 6 cost 47% more CPU-seconds on the development set's
  scanned pages, ``benchmarks/ocr_cost.py``);
- the text-direction classifier is skipped (upright text is the norm in documents);
- what the engine sees is bounded whatever the input's shape: a long strip (a scrolling screenshot, a banner:
  long side more than :data:`STRIP_ASPECT` times the short one and over the detection size) is read in at most
  :data:`MAX_TILES` overlapping tiles, a short side is padded (never stretched) to :data:`DETECTION_MIN_HEIGHT`,
  an image thinner than :data:`MIN_TEXT_SIDE` pixels holds no text and is not read, and an image of more than
  :data:`~llama_index_mmrag.limits.MAX_IMAGE_PIXELS` pixels is refused before it is decoded (a JPEG is first
  decoded at a reduced size, which may bring it under the limit). Without this RapidOCR blows a 30000x1 image
  up to 38400x9600 pixels (2 GB).

The recogniser (PP-OCRv4, trained mostly on Chinese) often drops the spaces between English words
("werecreated andsupported byabroad"); :func:`restore_spaces` puts them back with ``wordninja``'s
English word-frequency model, touching only long runs of letters that are not words themselves.

The engine is built lazily once per process. Processes that run several OCR jobs side by side (the PDF
parser's worker pool) call :func:`set_ocr_threads` with 1 so that the workers do not fight over the cores.

Example:
    >>> from llama_index_mmrag.parsing.ocr import ocr_text
    >>> print(ocr_text("milvus_architecture.png"))  # the lines' text, words re-split (OcrLine: the lines themselves)
    Milvus Architecture
    Access Layer
    ...
    Object Storage Meta Storage etcd Log Broker
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import wordninja
from PIL import Image, UnidentifiedImageError

from llama_index_mmrag.errors import InputError
from llama_index_mmrag.parsing.process_engine import ProcessEngine

ImageInput = Union[str, Path, bytes, bytearray, memoryview, Image.Image, np.ndarray]
"""What OCR reads: a file path (``str`` or ``Path``), encoded image bytes (PNG, JPEG ...), a base64 string or
``data:`` URL of such bytes, a PIL image, or an RGB / grayscale array."""

_MAX_PATH_CHARS = 4096
_MIN_BASE64_CHARS = 64  # the smallest real image (a 1x1 PNG) takes 90 base64 characters
_DATA_URL = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)

_LETTER_RUN = re.compile(r"[A-Za-z]{7,}")
_GLUED_PUNCTUATION = re.compile(r"(?<=[A-Za-z])([,;])(?=[A-Za-z])")


class ImageReadError(InputError, ValueError):
    """An image handed to OCR cannot be read; the message names the image and says what to do.

    Example:
        >>> try:
        ...     ocr_text("missing.png")
        ... except ImageReadError as exc:
        ...     print(exc)
        missing.png: no such image file; check the path
    """


@dataclass(frozen=True)
class OcrLine:
    """One line of recognised text.

    Args:
        text: The recognised text.
        bbox: ``(x0, y0, x1, y1)`` in pixels of the input image, top-left origin.
        score: Recognition confidence in ``[0, 1]``.

    Example:
        >>> title = Image.open("milvus_architecture.png").crop((490, 15, 910, 85))   # the diagram's title
        >>> [first] = ocr_image(title)
        >>> first.text, first.score > 0.9, first.bbox[0] < first.bbox[2]
        ('Milvus Architecture', True, True)
    """

    text: str
    bbox: tuple[float, float, float, float]
    score: float


def set_ocr_threads(threads: int | None) -> None:
    """Set how many threads the OCR engine of this process may use (``None``: onnxruntime's default).

    The engine is rebuilt on the next call.

    Args:
        threads: Threads per inference session, at least 1, or ``None``.
    """
    _OCR.set_threads(threads)


DETECTION_MIN_SIDE = 736
"""Images are upscaled until their short side reaches this many pixels (within the long-side limit)."""

DETECTION_MAX_SIDE = 1280
"""Images are downscaled until their long side is at most this many pixels (strips: per tile)."""

DETECTION_MIN_HEIGHT = 32
"""A short side below this is padded with white up to it (RapidOCR would upscale and letterbox it)."""

MIN_TEXT_SIDE = 8
"""Images with a side shorter than this many pixels cannot hold a legible line and are not read."""

STRIP_ASPECT = 4.0
"""An image whose long side is over this many times its short side (and over DETECTION_MAX_SIDE) is a strip,
read tile by tile at up to full resolution instead of shrunk whole."""

MAX_TILES = 16
"""Most tiles a strip is read in; a longer strip is downscaled to fit."""

_TILE_OVERLAP = 256  # pixels: a word or line up to this long is never cut by a tile's edge


def _build_engine(threads: int | None) -> Any:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR() if threads is None else RapidOCR(intra_op_num_threads=threads, inter_op_num_threads=1)
    # rapidocr-onnxruntime 1.4 ignores det_*/rec_* keyword overrides, so set the two knobs on the parts:
    engine.text_det.limit_type = "max"  # detect at the size detection_scale chose (never upscale again)
    engine.text_rec.rec_batch_num = 1
    return engine


_OCR: ProcessEngine[Any] = ProcessEngine(_build_engine)


def _engine() -> Any:
    """The process's RapidOCR engine, built on first use (call with ``_OCR.lock`` held)."""
    return _OCR.get()


def detection_scale(width: int, height: int) -> float:
    """The factor an image is resized by for detection.

    An ordinary image: its short side up to DETECTION_MIN_SIDE, its long side within DETECTION_MAX_SIDE. A
    strip: full resolution (its short side within DETECTION_MAX_SIDE, its long side within MAX_TILES tiles).

    Args:
        width: Image width in pixels.
        height: Image height in pixels.
    """
    short, long = max(1, min(width, height)), max(1, width, height)
    if _is_strip(width, height):
        factor = min(1.0, DETECTION_MAX_SIDE / short, MAX_TILES * (DETECTION_MAX_SIDE - _TILE_OVERLAP) / long)
    else:
        factor = min(max(1.0, DETECTION_MIN_SIDE / short), DETECTION_MAX_SIDE / long)
    return 1.0 if abs(factor - 1.0) < 0.02 else factor


def _is_strip(width: int, height: int) -> bool:
    short, long = max(1, min(width, height)), max(width, height)
    return long > DETECTION_MAX_SIDE and long > STRIP_ASPECT * short


def _resized(array: np.ndarray, factor: float) -> np.ndarray:
    if factor == 1.0:
        return array
    height, width = array.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BILINEAR))


def detection_tiles(array: np.ndarray) -> list[tuple[np.ndarray, int, int, float, float]]:
    """Cut a (resized) image into what the engine reads: ``(tile, x0, y0, keep_from, keep_to)``.

    ``x0, y0`` place the tile in ``array``; a line found in the tile is kept when its box starts (along the
    long axis, in ``array``'s coordinates) in ``[keep_from, keep_to)``. Each tile reaches into the next one
    by an overlap, so a line starting in a tile is read whole there (up to the overlap's length) and once.
    Every tile's long side is at most DETECTION_MAX_SIDE (for arrays resized by :func:`detection_scale`) and
    its short side is padded to at least DETECTION_MIN_HEIGHT.

    Args:
        array: The image, already resized by :func:`detection_scale`.
    """
    height, width = array.shape[:2]
    long = max(width, height)
    if not _is_strip(width, height) and long <= DETECTION_MAX_SIDE:
        return [(_padded(array), 0, 0, -math.inf, math.inf)]
    step = DETECTION_MAX_SIDE - _TILE_OVERLAP
    starts = list(range(0, long, step))
    tiles = []
    for start in starts:
        end = min(long, start + DETECTION_MAX_SIDE)
        keep_from = -math.inf if start == 0 else float(start)  # a box may reach a pixel past the image's edge
        keep_to = math.inf if start == starts[-1] else float(start + step)
        tile = array[:, start:end] if width >= height else array[start:end]
        x0, y0 = (start, 0) if width >= height else (0, start)
        tiles.append((_padded(tile), x0, y0, keep_from, keep_to))
    return tiles


def _padded(array: np.ndarray) -> np.ndarray:
    """The array with white added below or to the right until both sides reach DETECTION_MIN_HEIGHT."""
    height, width = array.shape[:2]
    if min(height, width) >= DETECTION_MIN_HEIGHT:
        return np.ascontiguousarray(array)
    pad = [(0, max(0, DETECTION_MIN_HEIGHT - height)), (0, max(0, DETECTION_MIN_HEIGHT - width))]
    pad += [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, constant_values=255)


def _describe_input(image: object) -> str:
    """A short name for an image input, for error messages (never the whole payload)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        head = bytes(image[:8])
        return f"<{len(image)} image bytes starting {head!r}>"
    if isinstance(image, str) and len(image) > 80:
        return f"<a {len(image)}-character string starting {image[:24]!r}>"
    return str(image)


def image_too_large(name: str, detail: str) -> ImageReadError:
    """The error for an image over :data:`~llama_index_mmrag.limits.MAX_IMAGE_PIXELS`: names it, its size and
    the limit, and says what to do.

    Args:
        name: The image (a path, or a short description of the data).
        detail: Its size, or the decoder's own words.
    """
    from llama_index_mmrag.limits import MAX_IMAGE_PIXELS

    return ImageReadError(
        f"{name}: the image is too large to read ({detail}); the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels "
        "(MAX_IMAGE_PIXELS in llama_index_mmrag.limits): downscale it (for example `convert big.png -resize "
        "25% smaller.png`) and give the smaller copy"
    )


def _within_pixel_limit(image: Image.Image, name: str) -> None:
    """Refuse an image over MAX_IMAGE_PIXELS before decoding it; a JPEG is first set to decode reduced."""
    from llama_index_mmrag.limits import MAX_IMAGE_PIXELS

    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS and image.format == "JPEG":  # JPEG decodes at 1/2, 1/4 or 1/8 cheaply
        scale = next((k for k in (2, 4, 8) if math.ceil(width / k) * math.ceil(height / k) <= MAX_IMAGE_PIXELS), 8)
        image.draft(image.mode, (math.ceil(width / scale), math.ceil(height / scale)))
    if image.size[0] * image.size[1] > MAX_IMAGE_PIXELS:
        raise image_too_large(name, f"{width}x{height} pixels, {width * height / 1e6:.0f} megapixels")


def _open_bytes(data: bytes, name: str) -> Image.Image:
    if not data:
        raise ImageReadError(f"{name}: the image is empty (0 bytes)")
    accepted = "pass PNG, JPEG, GIF, BMP, TIFF or WebP data"
    try:
        image = Image.open(io.BytesIO(data))
        _within_pixel_limit(image, name)
        image.load()
    except Image.DecompressionBombError as exc:
        raise image_too_large(name, str(exc).rstrip(".")) from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not a readable image (no known image format); {accepted}") from exc
    except (OSError, ValueError) as exc:
        raise ImageReadError(f"{name}: not a readable image ({exc}); {accepted}") from exc
    return image


def _open_path(path: Path) -> Image.Image:
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ImageReadError(f"{path}: no such image file; check the path") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{path}: is a folder, not an image file") from exc
    except OSError as exc:
        raise ImageReadError(f"{path}: cannot read the image file ({exc.strerror or exc})") from exc
    return _open_bytes(data, str(path))


def _open_string(text: str) -> Image.Image:
    """A string is a file path, a ``data:`` URL or base64 image data, tried in that order."""
    match = _DATA_URL.match(text)
    if match is None and len(text) <= _MAX_PATH_CHARS and "\x00" not in text:
        try:
            if Path(text).is_file() or Path(text).is_dir():
                return _open_path(Path(text))
        except OSError:  # a name too long for the file system: not a path
            pass
    payload = text[match.end() :] if match else text
    data = b""
    if match is not None or len(text) >= _MIN_BASE64_CHARS:  # shorter strings are file names
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            data = b""
    if data:
        return _open_bytes(data, _describe_input(text))
    if match is None and len(text) <= _MAX_PATH_CHARS and "\n" not in text:
        raise ImageReadError(f"{text}: no such image file; check the path")
    raise ImageReadError(f"{_describe_input(text)}: neither an image file path nor base64 image data")


def load_image(image: ImageInput) -> Image.Image | np.ndarray:
    """Open any :data:`ImageInput` as a PIL image (arrays are returned as they are).

    Args:
        image: A path, encoded bytes, a base64 string or ``data:`` URL, a PIL image or an array.

    Raises:
        ImageReadError: When the file is missing or the data is not an image; the message names the input.
        TypeError: For any other kind of object.

    Example:
        >>> import base64, io
        >>> from PIL import Image
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (4, 3), "white").save(buffer, format="PNG")
        >>> load_image(buffer.getvalue()).size, load_image(base64.b64encode(buffer.getvalue()).decode()).size
        ((4, 3), (4, 3))
    """
    if isinstance(image, (np.ndarray, Image.Image)):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return _open_bytes(bytes(image), _describe_input(image))
    if isinstance(image, Path):
        return _open_path(image)
    if isinstance(image, str):
        return _open_string(image)
    raise TypeError(
        f"OCR reads a path, image bytes, a base64 string, a PIL image or an array, not {type(image).__name__}"
    )


def _as_bgr(image: ImageInput) -> tuple[np.ndarray, float]:
    """The image resized for detection (:func:`detection_scale`), as RapidOCR reads arrays: BGR (OpenCV order;
    our arrays are RGB, an alpha channel is dropped); and the factor it was resized by."""
    opened = load_image(image)
    if isinstance(opened, Image.Image):
        factor = detection_scale(*opened.size)
        if opened.mode in ("RGBA", "LA", "PA") or (opened.mode == "P" and "transparency" in opened.info):
            background = Image.new("RGB", opened.size, "white")  # transparent pixels read as white paper
            background.paste(opened.convert("RGBA"), mask=opened.convert("RGBA").getchannel("A"))
            opened = background
        opened = opened.convert("RGB")
        if factor < 1.0:  # shrink before the array copies below, not after
            size = (max(1, round(opened.size[0] * factor)), max(1, round(opened.size[1] * factor)))
            opened = opened.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        array = _resized(np.asarray(opened), max(factor, 1.0))
    else:
        factor = detection_scale(opened.shape[1], opened.shape[0])
        array = _resized(opened, factor)
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 3:
        return np.ascontiguousarray(array[:, :, ::-1]), factor
    return array, factor


def ocr_image(image: ImageInput, min_score: float = 0.5) -> list[OcrLine]:
    """Recognise the text lines of an image, in reading order (top to bottom, left to right).

    Args:
        image: A file path, encoded image bytes, a base64 string or ``data:`` URL, a PIL image or an RGB (or
            grayscale) array.
        min_score: Lines below this confidence are dropped.

    Returns:
        The recognised lines; empty when the image holds no readable text.

    Raises:
        ImageReadError: When the image cannot be read (missing file, not image data); names the input.
    """
    array, factor = _as_bgr(image)
    height, width = array.shape[:2]
    if min(height, width) / factor < MIN_TEXT_SIDE:
        return []
    lines: list[OcrLine] = []
    for tile, x0, y0, keep_from, keep_to in detection_tiles(array):
        with _OCR.lock:  # onnxruntime sessions are not re-entrant across threads here
            result, _ = _engine()(tile, use_cls=False)
        for box, text, score in result or []:
            if float(score) < min_score or not str(text).strip():
                continue
            xs = [float(p[0]) + x0 for p in box]
            ys = [float(p[1]) + y0 for p in box]
            begins = min(xs) if width >= height else min(ys)
            if not keep_from <= begins < keep_to:
                continue  # starts in the next tile, which reads it whole
            bbox = (min(xs) / factor, min(ys) / factor, min(max(xs), width) / factor, min(max(ys), height) / factor)
            lines.append(OcrLine(restore_spaces(str(text).strip()), bbox, float(score)))
    lines.sort(key=lambda line: (round(line.bbox[1] / 10), line.bbox[0]))
    return lines


def restore_spaces(text: str) -> str:
    """Put back the spaces OCR dropped between English words.

    Only runs of 7+ ASCII letters that are not words themselves are split, and only when every piece is a
    known word of at least two letters (``a`` and ``I`` excepted) and, in mixed case, no capitalised piece
    after the first is shorter than three letters (brand names such as "LinkedIn" stay whole); capitals and
    punctuation are kept.

    Args:
        text: One recognised line.

    Example:
        >>> restore_spaces("EuropeincludingIndexVentures,firmswhoaremembers")
        'Europe including Index Ventures, firms who are members'
    """
    return _LETTER_RUN.sub(_split_run, _GLUED_PUNCTUATION.sub(r"\1 ", text))


def _split_run(match: re.Match[str]) -> str:
    run = match.group()
    known = wordninja.DEFAULT_LANGUAGE_MODEL._wordcost  # the model's vocabulary (no public accessor)
    if run.lower() in known:
        return run
    parts = wordninja.split(run)
    if len(parts) < 2 or "".join(parts) != run:
        return run
    if not all(part.lower() in known and (len(part) >= 2 or part in ("a", "A", "I")) for part in parts):
        return run
    if not run.isupper() and any(part[0].isupper() and len(part) < 3 for part in parts[1:]):
        return run
    return " ".join(parts)


def ocr_text(image: ImageInput, min_score: float = 0.5) -> str:
    """Return the recognised text of an image, one output line per visual line.

    Boxes whose vertical extents overlap by more than half the smaller box sit on one visual line and
    are joined with a space, left to right (the detector often boxes words of one line separately).

    Args:
        image: A file path, encoded image bytes, a base64 string or ``data:`` URL, a PIL image or an RGB array.
        min_score: Lines below this confidence are dropped.

    Raises:
        ImageReadError: When the image cannot be read (missing file, not image data); names the input.
    """
    rows: list[list[OcrLine]] = []
    for line in ocr_image(image, min_score=min_score):
        if rows and _same_row(rows[-1][-1], line):
            rows[-1].append(line)
        else:
            rows.append([line])
    return "\n".join(" ".join(box.text for box in sorted(row, key=lambda b: b.bbox[0])) for row in rows)


def _same_row(a: OcrLine, b: OcrLine) -> bool:
    overlap = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
    return overlap > 0.5 * min(a.bbox[3] - a.bbox[1], b.bbox[3] - b.bbox[1])
