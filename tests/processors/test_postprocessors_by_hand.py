"""The modal postprocessors used by hand, offline: they describe what ingestion would, or warn naming the node.

A user builds nodes themselves (an ``ImageNode`` of a PNG, a table node from another reader) and runs the
postprocessors on them. Offline, the image postprocessor must read the words in the picture, whichever way
the node holds it, and every failure is a warning that names the node, never a silent empty result.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from llama_index.core.schema import (
    BaseNode,
    Document,
    ImageDocument,
    ImageNode,
    MediaResource,
    MetadataMode,
    NodeWithScore,
    TextNode,
)

from llama_index_mmrag.processors import (
    EquationModalPostprocessor,
    ImageModalPostprocessor,
    ModalPostprocessor,
    TableModalPostprocessor,
)
from tests.processors.conftest import draw_text_png
from tests.support.fake_mm_llm import FakeMultiModalLLM

WORDS = "ANNUAL RAINFALL BY REGION"


@pytest.fixture(scope="module")
def rainfall_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PNG whose pixels read ANNUAL RAINFALL BY REGION."""
    return draw_text_png(tmp_path_factory.mktemp("hand") / "chart.png", WORDS, size=(860, 90))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


IMAGE_NODES: dict[str, Callable[[Path], BaseNode]] = {
    "image-node-path": lambda p: ImageNode(id_="fig-1", image_path=str(p)),
    "image-node-base64-no-path": lambda p: ImageNode(id_="fig-1", image=_b64(p), image_mimetype="image/png"),
    "document-resource-path": lambda p: Document(id_="fig-1", image_resource=MediaResource(path=p)),
    "document-resource-bytes": lambda p: Document(id_="fig-1", image_resource=MediaResource(data=p.read_bytes())),
    "image-document-bytes": lambda p: ImageDocument(id_="fig-1", image=p.read_bytes()),
    "image-node-data-url": lambda p: ImageNode(id_="fig-1", image=f"data:image/png;base64,{_b64(p)}"),
    "image-node-url-data": lambda p: ImageNode(id_="fig-1", image_url=f"data:image/png;base64,{_b64(p)}"),
    "image-node-url-file": lambda p: ImageNode(id_="fig-1", image_url=p.as_uri()),
    "text-node-image-metadata": lambda p: TextNode(id_="fig-1", metadata={"modality": "image", "image_path": str(p)}),
}


def _words(text: str) -> str:
    return " ".join(text.upper().split())


@pytest.mark.parametrize("form", list(IMAGE_NODES))
async def test_offline_image_postprocessor_reads_the_words_of_an_image_however_the_node_holds_it(
    rainfall_png: Path, form: str, caplog: pytest.LogCaptureFixture
) -> None:
    node = IMAGE_NODES[form](rainfall_png)
    stored = node.model_dump()

    with caplog.at_level(logging.WARNING):
        [result] = await ImageModalPostprocessor().apostprocess_nodes(
            [NodeWithScore(node=node, score=0.5)], query_str="rainfall"
        )

    copy = result.node
    assert WORDS in _words(copy.metadata["description"])
    assert WORDS in _words(copy.get_content(metadata_mode=MetadataMode.LLM))  # what the answering step reads
    assert copy.metadata["description_model"] == "offline"
    assert WORDS in _words(copy.metadata["entity_summary"])
    assert node.model_dump() == stored  # the caller's node is not changed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_sync_twin_reads_the_words_too(rainfall_png: Path) -> None:
    node = ImageNode(id_="fig-1", image=_b64(rainfall_png))

    [result] = ImageModalPostprocessor().postprocess_nodes([NodeWithScore(node=node, score=0.5)], query_str="rainfall")

    assert WORDS in _words(result.node.metadata["description"])


def test_nodes_described_at_ingestion_are_not_read_again(rainfall_png: Path) -> None:
    node = ImageNode(
        id_="fig-1", text="Image: Rainfall", image_path=str(rainfall_png), metadata={"description_model": "offline"}
    )
    processor = ImageModalPostprocessor()

    [result] = processor.postprocess_nodes([NodeWithScore(node=node, score=0.5)], query_str="x")

    assert result.node.metadata["description"] == "Image: Rainfall"
    assert processor.describer.stats.ocr_runs == 0


def _junk_png(tmp: Path) -> Path:
    path = tmp / "junk.png"
    path.write_bytes(b"not a picture at all")
    return path


FAILURES: dict[str, tuple[Callable[[Path], BaseNode], Callable[[], ModalPostprocessor], str]] = {
    "missing-file": (
        lambda tmp: ImageNode(id_="fig-missing", image_path=str(tmp / "gone.png")),
        ImageModalPostprocessor,
        "gone.png",
    ),
    "no-image-at-all": (
        lambda tmp: ImageNode(id_="fig-empty"),
        ImageModalPostprocessor,
        "no file path and no inline data",
    ),
    "web-url-only": (
        lambda tmp: ImageNode(id_="fig-web", image_url="https://example.com/chart.png"),
        ImageModalPostprocessor,
        "web URLs are not fetched",
    ),
    "bytes-not-an-image": (
        lambda tmp: ImageNode(id_="fig-junk", image=base64.b64encode(b"plain words").decode()),
        ImageModalPostprocessor,
        "not a readable image",
    ),
    "file-not-an-image": (
        lambda tmp: ImageNode(id_="fig-junkfile", image_path=str(_junk_png(tmp))),
        ImageModalPostprocessor,
        "junk.png",
    ),
    "empty-table": (
        lambda tmp: TextNode(id_="tab-empty", text="", metadata={"modality": "table", "doc": "r.pdf", "page": 2}),
        TableModalPostprocessor,
        "the table is empty",
    ),
    "empty-equation": (
        lambda tmp: TextNode(id_="eq-empty", text=" ", metadata={"modality": "equation", "doc": "r.pdf"}),
        EquationModalPostprocessor,
        "the equation is empty",
    ),
    "table-model-fails": (
        lambda tmp: TextNode(id_="tab-1", text="| a | b |\n|---|---|\n| 1 | 2 |", metadata={"modality": "table"}),
        lambda: TableModalPostprocessor(llm=FakeMultiModalLLM(fail_with="quota exceeded"), on_error="offline"),
        "quota exceeded",
    ),
    "equation-model-fails": (
        lambda tmp: TextNode(id_="eq-1", text="E = mc^2", metadata={"modality": "equation"}),
        lambda: EquationModalPostprocessor(llm=FakeMultiModalLLM(fail_with="quota exceeded"), on_error="offline"),
        "quota exceeded",
    ),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_a_failure_is_a_warning_naming_the_node_and_the_node_still_gets_a_description(
    tmp_path: Path, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    make, build, reason = FAILURES[case]
    node, processor = make(tmp_path), build()

    with caplog.at_level(logging.WARNING):
        [result] = await processor.apostprocess_nodes([NodeWithScore(node=node, score=0.5)], query_str="x")

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"node {node.node_id}" in w and reason in w for w in warnings), warnings
    assert result.node.node_id == node.node_id and result.score == 0.5
    assert result.node.metadata["description"].strip()  # never an empty description
    assert result.node.metadata["entity_name"].strip()


async def test_with_on_error_raise_the_error_names_the_node(rainfall_png: Path) -> None:
    from llama_index_mmrag.processors import ModalDescriptionError

    processor = ImageModalPostprocessor(vlm=FakeMultiModalLLM(fail_with="quota exceeded"))
    node = ImageNode(id_="fig-7", image_path=str(rainfall_png))

    with pytest.raises(ModalDescriptionError, match=r"node fig-7 \(.*chart\.png\): .*quota exceeded"):
        await processor.apostprocess_nodes([NodeWithScore(node=node, score=0.5)], query_str="x")
