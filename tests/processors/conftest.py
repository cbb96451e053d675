"""Fixtures of the modal-processor tests: a small document with a picture, a table and an equation."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from llama_index_mmrag.schema import ContentBlock
from tests.support.fake_mm_llm import FakeMultiModalLLM

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
TABLE_BODY = "| Index | Recall | Latency |\n|---|---|---|\n| HNSW | 0.98 | 2 ms |\n| IVF_FLAT | 0.95 | 5 ms |"
LATEX = r"\cos(a, b) = \frac{a \cdot b}{\|a\| \|b\|}"
DOC = {"doc": "milvus_arch.pdf", "doc_id": "sha-of-milvus-arch", "parser": "mmrag"}


def draw_text_png(path: Path, words: str, size: tuple[int, int] = (420, 90)) -> Path:
    """A white PNG with ``words`` in large black letters (for OCR)."""
    image = Image.new("RGB", size, "white")
    font = ImageFont.truetype(str(FONT), 44) if FONT.exists() else ImageFont.load_default(size=44)
    ImageDraw.Draw(image).text((16, 18), words, fill="black", font=font)
    image.save(path)
    return path


@pytest.fixture
def blue_png(tmp_path: Path) -> Path:
    """A real 40x30 blue PNG."""
    path = tmp_path / "architecture.png"
    Image.new("RGB", (40, 30), (40, 80, 220)).save(path)
    return path


@pytest.fixture
def doc_blocks(blue_png: Path) -> list[ContentBlock]:
    """One page: a heading, a paragraph, a figure, a table and an equation."""
    return [
        ContentBlock(modality="text", text="Architecture", text_level=1, page=0, index=0, **DOC),
        ContentBlock(
            modality="text",
            text="Milvus separates storage and compute. The Query Node serves vector searches.",
            page=0,
            index=1,
            **DOC,
        ),
        ContentBlock(
            modality="image", img_path=str(blue_png), captions=["Figure 1: Milvus architecture"], page=0, index=2, **DOC
        ),
        ContentBlock(
            modality="table", table_body=TABLE_BODY, captions=["Table 1: Index types"], page=0, index=3, **DOC
        ),
        ContentBlock(modality="equation", latex=LATEX, page=0, index=4, **DOC),
    ]


@pytest.fixture
def fake_vlm() -> FakeMultiModalLLM:
    """A deterministic multimodal LLM answering RAG-Anything's JSON."""
    return FakeMultiModalLLM()
