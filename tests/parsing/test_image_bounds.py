"""Images of any shape or size cost OCR a bounded amount: what the engine reads is never bigger than one
detection frame, a long strip is read tile by tile without losing its text, and an image over the pixel limit
is refused before it is decoded, with an error naming the file and the limit, while the rest of a batch goes on.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from llama_index_mmrag.limits import MAX_IMAGE_PIXELS
from llama_index_mmrag.parsing import ocr
from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.parsing.image import parse_image_file
from llama_index_mmrag.readers.rag_anything import BatchLoadError, RAGAnythingReader

# What RapidOCR may grow an input to: it letterboxes strips wider than 8:1 to a height of width / 4.
FRAME = ocr.DETECTION_MAX_SIDE


@pytest.fixture()
def engine_inputs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, ...]]]:
    """The shapes of the arrays handed to the (real) OCR engine."""
    seen: list[tuple[int, ...]] = []
    real = ocr._engine

    def recording_engine() -> Any:
        engine = real()

        def run(array: np.ndarray, **kwargs: Any) -> Any:
            seen.append(array.shape)
            return engine(array, **kwargs)

        return run

    monkeypatch.setattr(ocr, "_engine", recording_engine)
    yield seen


def _bounded(shapes: list[tuple[int, ...]]) -> bool:
    return all(max(s[:2]) <= FRAME and min(s[:2]) >= ocr.DETECTION_MIN_HEIGHT for s in shapes)


def _words_picture(size: tuple[int, int], words: dict[tuple[int, int], str]) -> Image.Image:
    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=40)
    for place, word in words.items():
        draw.text(place, word, fill="black", font=font)
    return picture


def _png_of_size(path: Path, width: int, height: int) -> Path:
    """A real, valid, all-white 1-bit PNG of any size, written row by row (a few KB for 400 megapixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("size", [(30000, 1), (1, 30000), (30000, 5), (20000, 40)], ids=str)
def test_extreme_aspect_ratios_reach_the_engine_bounded(
    tmp_path: Path, engine_inputs: list[tuple[int, ...]], size: tuple[int, int]
) -> None:
    path = tmp_path / "strip.png"
    Image.new("RGB", size, "white").save(path)
    [item] = parse_image_file(path)
    assert item["ocr_text"] == "" and item["bbox"] == [0.0, 0.0, float(size[0]), float(size[1])]
    assert len(engine_inputs) <= ocr.MAX_TILES and _bounded(engine_inputs), engine_inputs


def test_a_tall_screenshot_is_read_in_tiles_from_top_to_bottom(
    tmp_path: Path, engine_inputs: list[tuple[int, ...]]
) -> None:
    path = tmp_path / "scroll.png"
    _words_picture((700, 7000), {(40, 60): "QUARTERLY", (40, 3490): "TONNAGE", (40, 6880): "HARBOUR"}).save(path)
    lines = ocr.ocr_image(path)
    assert [line.text for line in lines] == ["QUARTERLY", "TONNAGE", "HARBOUR"]
    assert all(abs(line.bbox[1] - top) < 40 for line, top in zip(lines, (60, 3490, 6880)))  # the image's own pixels
    assert len(engine_inputs) > 1 and _bounded(engine_inputs), engine_inputs


def test_a_long_banner_keeps_its_words(tmp_path: Path, engine_inputs: list[tuple[int, ...]]) -> None:
    path = tmp_path / "banner.png"
    _words_picture((9000, 90), {(100, 20): "HARBOUR", (4480, 20): "TONNAGE", (8600, 20): "BERTH"}).save(path)
    assert ocr.ocr_text(path).split() == ["HARBOUR", "TONNAGE", "BERTH"]
    assert _bounded(engine_inputs), engine_inputs


@pytest.mark.parametrize("size", [(20000, 20000), (10000, 6000)], ids=str)
def test_an_image_over_the_pixel_limit_is_refused_naming_the_file_and_the_limit(
    tmp_path: Path, engine_inputs: list[tuple[int, ...]], size: tuple[int, int]
) -> None:
    path = _png_of_size(tmp_path / "poster.png", *size)
    limit = f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels"
    with pytest.raises(ocr.ImageReadError, match="too large") as read_error:
        ocr.ocr_text(path)
    with pytest.raises(ParseError) as parse_error:
        parse_image_file(path)
    for message in (str(read_error.value), str(parse_error.value)):
        assert "poster.png" in message and limit in message and "MAX_IMAGE_PIXELS" in message and "downscale" in message
    assert engine_inputs == []


def test_a_jpeg_over_the_limit_is_decoded_reduced_and_read(tmp_path: Path, engine_inputs: list[tuple[int, ...]]) -> None:
    path = tmp_path / "photo.jpg"
    big = Image.new("L", (9000, 6000), 255)
    ImageDraw.Draw(big).text((200, 200), "TONNAGE", fill=0, font=ImageFont.load_default(size=400))
    big.save(path, quality=80)
    del big
    assert "TONNAGE" in ocr.ocr_text(path)
    assert _bounded(engine_inputs), engine_inputs


def test_the_rest_of_a_batch_goes_on_past_an_oversized_image(tmp_path: Path) -> None:
    poster = _png_of_size(tmp_path / "poster.png", 10000, 6000)
    note = tmp_path / "note.txt"
    note.write_text("The harbour handled record tonnage in March.")
    with pytest.raises(BatchLoadError) as batch:
        RAGAnythingReader().load_data([poster, note])
    [failure] = batch.value.failures
    assert failure.path.name == "poster.png" and "megapixels" in failure.reason
    assert "record tonnage" in " ".join(d.text for d in batch.value.documents)
