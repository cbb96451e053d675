"""Offline OCR with RapidOCR (ONNX models ship inside the ``rapidocr-onnxruntime`` wheel).

Example:
    >>> from llama_index_mmrag.parsing.ocr import ocr_image, ocr_text
    >>> lines = ocr_image("diagram.png")      # doctest: +SKIP
    >>> print(ocr_text("diagram.png"))        # doctest: +SKIP
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image

ImageInput = Union[str, Path, Image.Image, np.ndarray]

_ENGINE_LOCK = threading.Lock()


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


@lru_cache(maxsize=1)
def _engine() -> Any:
    from rapidocr_onnxruntime import RapidOCR

    return RapidOCR()


def _as_array(image: ImageInput) -> np.ndarray:
    if isinstance(image, np.ndarray):
        return image
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    with Image.open(image) as img:
        return np.asarray(img.convert("RGB"))


def ocr_image(image: ImageInput, min_score: float = 0.5) -> list[OcrLine]:
    """Recognise the text lines of an image, in reading order (top to bottom, left to right).

    Args:
        image: A file path, a PIL image or an RGB array.
        min_score: Lines below this confidence are dropped.

    Returns:
        The recognised lines; empty when the image holds no readable text.
    """
    array = _as_array(image)
    with _ENGINE_LOCK:  # onnxruntime sessions are not re-entrant across threads here
        result, _ = _engine()(array)
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
