"""Offline OCR with RapidOCR (ONNX models ship inside the ``rapidocr-onnxruntime`` wheel).

The text-direction classifier is skipped (upright text is the norm in documents and it costs about a third
of the time), and the engine is built lazily once per process. Processes that run several OCR jobs side by
side (the PDF parser's worker pool) call :func:`set_ocr_threads` with 1 so that the workers do not fight
over the cores.

Example:
    >>> from llama_index_mmrag.parsing.ocr import ocr_image, ocr_text
    >>> lines = ocr_image("diagram.png")      # doctest: +SKIP
    >>> print(ocr_text("diagram.png"))        # doctest: +SKIP
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image

ImageInput = Union[str, Path, Image.Image, np.ndarray]

_ENGINE_LOCK = threading.Lock()
_THREADS: int | None = None


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
    global _THREADS
    if threads is not None and threads < 1:
        raise ValueError(f"threads must be at least 1 or None, got {threads}")
    with _ENGINE_LOCK:
        _THREADS = threads
        _engine.cache_clear()


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    if _THREADS is None:
        return RapidOCR()
    return RapidOCR(intra_op_num_threads=_THREADS, inter_op_num_threads=1)


def _reset_in_child() -> None:
    """A forked child must not reuse the parent's lock state or onnxruntime sessions (their threads are gone)."""
    global _ENGINE_LOCK
    _ENGINE_LOCK = threading.Lock()
    _engine.cache_clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)


def _as_bgr(image: ImageInput) -> np.ndarray:
    """RapidOCR reads arrays as BGR (OpenCV order); our arrays are RGB."""
    if isinstance(image, np.ndarray):
        array = image
    elif isinstance(image, Image.Image):
        array = np.asarray(image.convert("RGB"))
    else:
        with Image.open(image) as img:
            array = np.asarray(img.convert("RGB"))
    if array.ndim == 3 and array.shape[2] == 3:
        return np.ascontiguousarray(array[:, :, ::-1])
    return array


def ocr_image(image: ImageInput, min_score: float = 0.5) -> list[OcrLine]:
    """Recognise the text lines of an image, in reading order (top to bottom, left to right).

    Args:
        image: A file path, a PIL image or an RGB (or grayscale) array.
        min_score: Lines below this confidence are dropped.

    Returns:
        The recognised lines; empty when the image holds no readable text.
    """
    array = _as_bgr(image)
    with _ENGINE_LOCK:  # onnxruntime sessions are not re-entrant across threads here
        result, _ = _engine()(array, use_cls=False)
    lines: list[OcrLine] = []
    for box, text, score in result or []:
        if float(score) < min_score or not str(text).strip():
            continue
        xs = [float(p[0]) for p in box]
        ys = [float(p[1]) for p in box]
        lines.append(OcrLine(str(text).strip(), (min(xs), min(ys), max(xs), max(ys)), float(score)))
    lines.sort(key=lambda line: (round(line.bbox[1] / 10), line.bbox[0]))
    return lines


def ocr_text(image: ImageInput, min_score: float = 0.5) -> str:
    """Return the recognised text of an image, one line per recognised line.

    Args:
        image: A file path, a PIL image or an RGB array.
        min_score: Lines below this confidence are dropped.
    """
    return "\n".join(line.text for line in ocr_image(image, min_score=min_score))
