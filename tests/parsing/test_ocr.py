"""OCR reads every form an image comes in, and says which image it could not read and why."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from llama_index_mmrag.parsing.ocr import ImageReadError, load_image, ocr_text
from tests.processors.conftest import draw_text_png

WORDS = "ANNUAL RAINFALL BY REGION"


@pytest.fixture(scope="module")
def rainfall_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PNG whose pixels read ANNUAL RAINFALL BY REGION (a TTF font at 44 px)."""
    return draw_text_png(tmp_path_factory.mktemp("ocr") / "rainfall.png", WORDS, size=(860, 90))


def _transparent(path: Path) -> Image.Image:
    """Black letters on a fully transparent background (what a PNG export of a slide often is)."""
    with Image.open(path) as image:
        grey = image.convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 0))
    rgba.putalpha(grey.point(lambda v: 255 - v))  # ink opaque, paper transparent
    return rgba


FORMS: dict[str, Callable[[Path], Any]] = {
    "path-str": str,
    "path": lambda p: p,
    "bytes": lambda p: p.read_bytes(),
    "bytearray": lambda p: bytearray(p.read_bytes()),
    "base64-str": lambda p: base64.b64encode(p.read_bytes()).decode("ascii"),
    "data-url": lambda p: "data:image/png;base64," + base64.b64encode(p.read_bytes()).decode("ascii"),
    "pil-rgb": lambda p: Image.open(p).convert("RGB"),
    "pil-grey": lambda p: Image.open(p).convert("L"),
    "pil-transparent": _transparent,
    "jpeg-bytes": lambda p: _jpeg(p),
    "array": lambda p: np.asarray(Image.open(p).convert("RGB")),
}


def _jpeg(path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.open(path).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("form", list(FORMS))
def test_every_image_form_reads_the_words_in_its_pixels(rainfall_png: Path, form: str) -> None:
    text = ocr_text(FORMS[form](rainfall_png))

    assert " ".join(text.upper().split()) == WORDS


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda tmp: str(tmp / "missing.png"), "missing.png: no such image file"),
        (lambda tmp: tmp / "missing.png", "missing.png: no such image file"),
        (lambda tmp: tmp, "is a folder, not an image file"),
        (
            lambda tmp: b"\x00\x01 definitely not a picture",
            "<27 image bytes starting b'\\x00\\x01 defin'>: not a readable image (no known image format)",
        ),
        (lambda tmp: b"", "the image is empty (0 bytes)"),
        (lambda tmp: base64.b64encode(b"plain words, no picture " * 4).decode(), "not a readable image"),
        (lambda tmp: "no picture here! " * 300, "neither an image file path nor base64 image data"),
        (lambda tmp: "chart.png", "chart.png: no such image file"),
        (lambda tmp: _corrupt_png(tmp), "corrupt.png: not a readable image"),
    ],
    ids=["missing-str", "missing-path", "folder", "junk-bytes", "empty-bytes", "base64-junk", "long-junk", "short-name",
         "truncated"],
)
def test_unreadable_images_raise_an_error_naming_the_input(
    tmp_path: Path, make: Callable[[Path], Any], named: str
) -> None:
    with pytest.raises(ImageReadError) as raised:
        ocr_text(make(tmp_path))

    assert named in str(raised.value)
    assert len(str(raised.value)) < 400  # the payload itself is never dumped into the message


def _corrupt_png(tmp: Path) -> Path:
    path = tmp / "corrupt.png"
    buffer = io.BytesIO()
    Image.new("RGB", (200, 80), "white").save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue()[:60])  # a PNG header and nothing after it
    return path


def test_other_objects_are_a_type_error_that_lists_what_is_accepted() -> None:
    with pytest.raises(TypeError, match="a path, image bytes, a base64 string, a PIL image or an array, not int"):
        load_image(42)  # type: ignore[arg-type]
