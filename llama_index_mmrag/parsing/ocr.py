"""Offline OCR with RapidOCR (ONNX models ship inside the ``rapidocr-onnxruntime`` wheel).

Tuned for throughput on CPUs (about 3x faster than RapidOCR's defaults at the same recall on document
figures and pages):

- the image is resized so that its short side is at least 736 px (small figures need the upscale to find
  their text) but its long side at most 1280 px, and detection runs at that size (RapidOCR's default would
  blow a 76x960 banner up to 736x9300);
- text lines are recognised one at a time (batches pad every line to the widest one, which costs more than
  it saves on a single thread);
- the text-direction classifier is skipped (upright text is the norm in documents).

The recogniser (PP-OCRv4, trained mostly on Chinese) often drops the spaces between English words
("werecreated andsupported byabroad"); :func:`restore_spaces` puts them back with ``wordninja``'s
English word-frequency model, touching only long runs of letters that are not words themselves.

The engine is built lazily once per process. Processes that run several OCR jobs side by side (the PDF
parser's worker pool) call :func:`set_ocr_threads` with 1 so that the workers do not fight over the cores.

Example:
    >>> from llama_index_mmrag.parsing.ocr import ocr_image, ocr_text
    >>> lines = ocr_image("diagram.png")      # doctest: +SKIP
    >>> print(ocr_text("diagram.png"))        # doctest: +SKIP
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import wordninja
from PIL import Image, UnidentifiedImageError

ImageInput = Union[str, Path, bytes, bytearray, memoryview, Image.Image, np.ndarray]
"""What OCR reads: a file path (``str`` or ``Path``), encoded image bytes (PNG, JPEG ...), a base64 string or
``data:`` URL of such bytes, a PIL image, or an RGB / grayscale array."""

_MAX_PATH_CHARS = 4096
_MIN_BASE64_CHARS = 64  # the smallest real image (a 1x1 PNG) takes 90 base64 characters
_DATA_URL = re.compile(r"^data:[\w/+.-]*(;[\w=.-]+)*;base64,", re.IGNORECASE)

_LETTER_RUN = re.compile(r"[A-Za-z]{7,}")
_GLUED_PUNCTUATION = re.compile(r"(?<=[A-Za-z])([,;])(?=[A-Za-z])")
_ENGINE_LOCK = threading.Lock()
_THREADS: int | None = None
_ENGINE: Any = None
_INHERITED: list[Any] = []  # engines a forked child got from its parent: never used, never destroyed


class ImageReadError(ValueError):
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
    global _THREADS, _ENGINE
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 or None, got {threads}")
    with _ENGINE_LOCK:
        _THREADS = threads
        _ENGINE = None


DETECTION_MIN_SIDE = 736
"""Images are upscaled until their short side reaches this many pixels (within the long-side limit)."""

DETECTION_MAX_SIDE = 1280
"""Images are downscaled until their long side is at most this many pixels."""


def _engine() -> Any:
    """The process's RapidOCR engine, built on first use (call with ``_ENGINE_LOCK`` held)."""
    global _ENGINE
    if _ENGINE is None:
        from rapidocr_onnxruntime import RapidOCR

        engine = RapidOCR() if _THREADS is None else RapidOCR(intra_op_num_threads=_THREADS, inter_op_num_threads=1)
        # rapidocr-onnxruntime 1.4 ignores det_*/rec_* keyword overrides, so set the two knobs on the parts:
        engine.text_det.limit_type = "max"  # detect at the size _fit_for_detection chose (never upscale again)
        engine.text_rec.rec_batch_num = 1
        _ENGINE = engine
    return _ENGINE


def _fit_for_detection(array: np.ndarray) -> tuple[np.ndarray, float]:
    """Resize so the short side reaches DETECTION_MIN_SIDE and the long side stays within DETECTION_MAX_SIDE."""
    height, width = array.shape[:2]
    factor = min(max(1.0, DETECTION_MIN_SIDE / max(1, min(height, width))), DETECTION_MAX_SIDE / max(height, width))
    if abs(factor - 1.0) < 0.02:
        return array, 1.0
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    resized = np.asarray(Image.fromarray(array).resize(size, Image.Resampling.BILINEAR))
    return resized, factor


def _reset_in_child() -> None:
    """A forked child must neither use nor destroy the parent's onnxruntime sessions.

    Their thread pools did not survive the fork: running them, or destroying them (which joins those
    threads), would hang. The child keeps them referenced and builds its own engine on first use.
    """
    global _ENGINE_LOCK, _ENGINE
    _ENGINE_LOCK = threading.Lock()
    if _ENGINE is not None:
        _INHERITED.append(_ENGINE)
    _ENGINE = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def _describe_input(image: object) -> str:
    """A short name for an image input, for error messages (never the whole payload)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        head = bytes(image[:8])
        return f"<{len(image)} image bytes starting {head!r}>"
    if isinstance(image, str) and len(image) > 80:
        return f"<a {len(image)}-character string starting {image[:24]!r}>"
    return str(image)


def _open_bytes(data: bytes, name: str) -> Image.Image:
    if not data:
        raise ImageReadError(f"{name}: the image is empty (0 bytes)")
    accepted = "pass PNG, JPEG, GIF, BMP, TIFF or WebP data"
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
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


def _as_bgr(image: ImageInput) -> np.ndarray:
    """RapidOCR reads arrays as BGR (OpenCV order); our arrays are RGB (an alpha channel is dropped)."""
    opened = load_image(image)
    if isinstance(opened, Image.Image):
        if opened.mode in ("RGBA", "LA", "PA") or (opened.mode == "P" and "transparency" in opened.info):
            background = Image.new("RGB", opened.size, "white")  # transparent pixels read as white paper
            background.paste(opened.convert("RGBA"), mask=opened.convert("RGBA").getchannel("A"))
            opened = background
        array = np.asarray(opened.convert("RGB"))
    else:
        array = opened
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 3:
        return np.ascontiguousarray(array[:, :, ::-1])
    return array


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
    array, factor = _fit_for_detection(_as_bgr(image))
    with _ENGINE_LOCK:  # onnxruntime sessions are not re-entrant across threads here
        result, _ = _engine()(array, use_cls=False)
    lines: list[OcrLine] = []
    for box, text, score in result or []:
        if float(score) < min_score or not str(text).strip():
            continue
        xs = [float(p[0]) / factor for p in box]
        ys = [float(p[1]) / factor for p in box]
        lines.append(OcrLine(restore_spaces(str(text).strip()), (min(xs), min(ys), max(xs), max(ys)), float(score)))
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
