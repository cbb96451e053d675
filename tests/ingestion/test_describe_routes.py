"""The facade's pipeline and a LlamaIndex ``IngestionPipeline`` with the modal transforms describe a file the
same way: one describe call, one OCR rule (an image is read once: by its parser, or else by the describer)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import BaseNode
from raganything.parser import Parser, register_parser

from llama_index_mmrag.ingestion import DocumentPipeline
from llama_index_mmrag.processors import default_postprocessors
from llama_index_mmrag.processors.describer import ModalDescriber
from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
from llama_index_mmrag.runtime import engine_loop
from tests.readers.documents import DIAGRAM_WORDS, make_png

FOOTNOTE = "Source: regional reports, unaudited."


class PictureBlindParser(Parser):
    """A parser of ``.json`` content lists that, like many outside this package, does not read pictures."""

    def check_installation(self) -> bool:
        return True

    def parse_document(self, file_path: str | Path, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        return json.loads(Path(file_path).read_text(encoding="utf-8"))


register_parser("picture-blind", PictureBlindParser)


def _content_list(folder: Path) -> Path:
    """A page with text, a picture with words (no ``ocr_text``: not read), a captioned table with a footnote."""
    picture = make_png(folder / "diagram.png")
    items = [
        {"type": "text", "text": "Revenue by region", "text_level": 1, "page_idx": 0},
        {"type": "text", "text": "The diagram shows the query node.", "page_idx": 0},
        {"type": "image", "img_path": str(picture), "image_caption": ["Figure 1: query path"], "page_idx": 0},
        {
            "type": "table",
            "table_body": "| Region | Q1 |\n|---|---|\n| North | 10 |",
            "table_caption": ["Table 1: revenue"],
            "table_footnote": [FOOTNOTE],
            "page_idx": 0,
        },
        {"type": "text", "text": "North leads the quarter.", "page_idx": 0},
    ]
    path = folder / "report.json"
    path.write_text(json.dumps(items), encoding="utf-8")
    return path


def _modal_texts(nodes: list[BaseNode]) -> list[str]:
    return [n.get_content() for n in nodes if n.metadata.get("modality") != "text"]


@pytest.mark.parametrize(
    ("make", "parser", "ocr_runs"),
    [
        (_content_list, "picture-blind", 1),  # its parser did not read the picture: the describer reads it, once
        (lambda folder: make_png(folder / "diagram.png"), "mmrag", 0),  # read while parsing: not read again
    ],
    ids=["picture-not-read-by-its-parser", "picture-read-by-its-parser"],
)
def test_the_facade_pipeline_and_an_ingestion_pipeline_give_the_same_modal_texts(
    tmp_path: Path, make: Callable[[Path], Path], parser: str, ocr_runs: int
) -> None:
    path = make(tmp_path)
    reader = RAGAnythingReader(parser=parser, output_dir=str(tmp_path / "parsed"))

    facade_describer = ModalDescriber()
    pipeline = DocumentPipeline(
        None,  # type: ignore[arg-type]  (the prepare half writes nothing)
        None,  # type: ignore[arg-type]  (nor embeds)
        reader=lambda: reader,
        describer=lambda: facade_describer,
        overflow_dir=tmp_path / "overflow",
    )
    prepared = engine_loop().run(pipeline.aprepare_parsed(reader.parse(path)))

    transforms = default_postprocessors()
    described = IngestionPipeline(transformations=transforms).run(documents=reader.load_data(path))

    facade_texts, pipeline_texts = _modal_texts(prepared.nodes), _modal_texts(described)
    assert facade_texts and facade_texts == pipeline_texts
    image_text = next(t for t in facade_texts if t.startswith("Image"))
    assert all(word in image_text for word in DIAGRAM_WORDS), image_text  # read once, by someone
    assert facade_describer.stats.ocr_runs == ocr_runs
    assert transforms[0].describer.stats.ocr_runs == ocr_runs
    if parser == "picture-blind":
        assert FOOTNOTE in next(t for t in facade_texts if t.startswith("Table"))
