"""RAGAnythingReader: provenance on every document, async loading, and bad input that is named, never dropped."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from llama_index.core.schema import Document, ImageDocument

from llama_index_mmrag.parsing.errors import ParseError
from llama_index_mmrag.readers.rag_anything import BatchLoadError, RAGAnythingReader
from tests.readers.documents import (
    DIAGRAM_WORDS,
    TABLE_HEADER,
    make_corrupt_pdf,
    make_docx,
    make_html,
    make_pdf,
    make_png,
    make_truncated_pdf,
)

PROVENANCE = {"doc", "doc_id", "page", "bbox", "modality", "parser"}
pytestmark = pytest.mark.filterwarnings("ignore:Could not process an image")  # the remote <img>, refused on purpose


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("good")
    return {
        "docx": make_docx(folder),
        "png": make_png(folder / "diagram.png"),
        "pdf": make_pdf(folder / "paper.pdf"),
        "html": make_html(folder),
    }


@pytest.fixture(scope="module")
def loaded(files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> list[Document]:
    reader = RAGAnythingReader(output_dir=str(tmp_path_factory.mktemp("parsed")))
    return reader.load_data([files["docx"], files["png"], files["pdf"]])


def _by_doc(documents: list[Document], name: str) -> list[Document]:
    return [d for d in documents if d.metadata["doc"] == name]


def test_every_document_carries_provenance(loaded: list[Document]) -> None:
    assert {d.metadata["doc"] for d in loaded} == {"report.docx", "diagram.png", "paper.pdf"}
    for document in loaded:
        assert PROVENANCE <= document.metadata.keys()
        assert isinstance(document.metadata["page"], int) and document.metadata["page"] >= 0
        assert len(document.metadata["doc_id"]) == 64


def test_docx_documents_come_from_docling_with_a_markdown_table_and_an_image(loaded: list[Document]) -> None:
    docx = _by_doc(loaded, "report.docx")
    assert {d.metadata["parser"] for d in docx} == {"docling-offline"}
    assert {d.metadata["modality"] for d in docx} == {"text", "table", "image"}
    (table,) = [d for d in docx if d.metadata["modality"] == "table"]
    assert table.metadata["table_body"].startswith("| " + " | ".join(TABLE_HEADER) + " |\n| --- |")
    (image,) = [d for d in docx if d.metadata["modality"] == "image"]
    assert isinstance(image, ImageDocument) and Path(image.image_path).is_file()


def test_a_png_is_one_image_document_with_the_words_drawn_in_it(loaded: list[Document], files: dict[str, Path]) -> None:
    (image,) = _by_doc(loaded, "diagram.png")
    assert isinstance(image, ImageDocument)
    assert image.metadata["modality"] == "image" and image.metadata["parser"] == "mmrag"
    assert image.metadata["page"] == 0 and image.metadata["bbox"] == [0.0, 0.0, 640.0, 200.0]
    assert all(word in image.text.upper() for word in DIAGRAM_WORDS)
    assert Path(image.image_path) == files["png"].resolve()


def test_pdf_pages_are_zero_based_with_boxes(loaded: list[Document]) -> None:
    pdf = _by_doc(loaded, "paper.pdf")
    assert [d.metadata["page"] for d in pdf] == [0, 1]
    assert "hybrid search" in pdf[0].text
    assert all(d.metadata["bbox"] and len(d.metadata["bbox"]) == 4 for d in pdf)


def test_doc_id_is_the_content_hash_and_stable_across_reads(files: dict[str, Path], loaded: list[Document], tmp_path: Path) -> None:
    again = RAGAnythingReader(output_dir=str(tmp_path)).parse(files["pdf"])
    first = {d.metadata["doc_id"] for d in _by_doc(loaded, "paper.pdf")}
    assert first == {again.doc_id}
    assert [d.id_ for d in _by_doc(loaded, "paper.pdf")] == [f"{again.doc_id}:{b.index}" for b in again.blocks]


def test_the_parsed_blocks_are_also_a_rag_anything_content_list(files: dict[str, Path], tmp_path: Path) -> None:
    parsed = RAGAnythingReader(output_dir=str(tmp_path)).parse(files["html"])
    items = parsed.content_list()
    assert [item["type"] for item in items] == [block.modality for block in parsed.blocks]
    table = next(item for item in items if item["type"] == "table")
    assert table["table_body"].startswith("| Component | Role |") and table["table_caption"] == ["Table 1: components"]
    image = next(item for item in items if item["type"] == "image")
    assert Path(image["img_path"]).is_absolute() and image["image_caption"] == ["Figure 1: architecture"]


def test_the_log_says_which_parser_ran_and_why(files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="llama_index_mmrag.readers.rag_anything"):
        parsed = RAGAnythingReader(output_dir=str(tmp_path)).parse(files["html"])
    assert parsed.parser == "docling-offline" and "without any model" in parsed.reason
    lines = [r.getMessage() for r in caplog.records if r.name == "llama_index_mmrag.readers.rag_anything"]
    assert lines == [f"parsing guide.html with docling-offline: {parsed.reason}"]


async def test_aload_data_loads_the_same_documents_natively(files: dict[str, Path], loaded: list[Document], tmp_path: Path) -> None:
    reader = RAGAnythingReader(output_dir=str(tmp_path), max_concurrency=2)
    documents = await reader.aload_data([files["pdf"], files["html"]])
    assert [d.metadata["doc"] for d in documents][:2] == ["paper.pdf", "paper.pdf"]
    assert [d.text for d in documents[:2]] == [d.text for d in _by_doc(loaded, "paper.pdf")]
    html = _by_doc(documents, "guide.html")
    assert {d.metadata["modality"] for d in html} == {"text", "table", "image"}


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    empty = folder / "empty.pdf"
    empty.write_bytes(b"")
    unsupported = folder / "archive.zip"
    unsupported.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    fake_docx = folder / "fake.docx"
    fake_docx.write_text("this is plain text, not a Word document")
    return {
        "empty": empty,
        "truncated": make_truncated_pdf(folder / "truncated.pdf"),
        "corrupt": make_corrupt_pdf(folder / "corrupt.pdf"),
        "password": make_pdf(folder / "locked.pdf", ("Secret page.",), password="pw"),
        "unsupported": unsupported,
        "fake_docx": fake_docx,
    }


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("empty", "empty (0 bytes)"),
        ("truncated", "truncated"),
        ("corrupt", "damaged"),
        ("password", "password-protected"),
        ("unsupported", "unsupported file type .zip"),
        ("fake_docx", "not really a .docx"),
    ],
)
def test_bad_files_raise_a_parse_error_naming_file_and_reason(bad_files: dict[str, Path], key: str, words: str, tmp_path: Path) -> None:
    path = bad_files[key]
    with pytest.raises(ParseError) as info:
        RAGAnythingReader(output_dir=str(tmp_path)).parse(path)
    error = info.value
    assert isinstance(error, ParseError)  # the PDF module's own error class is converted to ours
    assert error.path.name == path.name and words in error.reason
    assert path.name in str(error) and not error.reason.startswith(str(path))


def test_a_missing_file_and_a_blank_file_are_named(tmp_path: Path) -> None:
    reader = RAGAnythingReader(output_dir=str(tmp_path))
    with pytest.raises(ParseError, match="no such file"):
        reader.parse(tmp_path / "nowhere.pdf")
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n   \n")
    with pytest.raises(ParseError, match="found no text"):
        reader.parse(blank)


@pytest.fixture()
def mixed_folder(tmp_path: Path, bad_files: dict[str, Path]) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "faq.txt").write_text("Milvus Lite runs in process.\n\nIt stores data in a local file.\n")
    make_pdf(folder / "good.pdf", ("A good PDF page with a readable text layer.",))
    for key in ("empty", "truncated", "password", "unsupported"):
        (folder / bad_files[key].name).write_bytes(bad_files[key].read_bytes())
    (folder / ".hidden.txt").write_text("skipped: hidden files are not read")
    return folder


def _assert_batch(error: BatchLoadError) -> None:
    assert sorted(f.path.name for f in error.failures) == ["archive.zip", "empty.pdf", "locked.pdf", "truncated.pdf"]
    reasons = {f.path.name: f.reason for f in error.failures}
    assert "password-protected" in reasons["locked.pdf"] and "truncated" in reasons["truncated.pdf"]
    assert all(name in str(error) for name in reasons)
    assert {d.metadata["doc"] for d in error.documents} == {"faq.txt", "good.pdf"}
    assert len([d for d in error.documents if d.metadata["doc"] == "faq.txt"]) == 2


def test_a_mixed_folder_loads_the_good_files_and_lists_the_failures(mixed_folder: Path) -> None:
    with pytest.raises(BatchLoadError) as info:
        RAGAnythingReader(output_dir=str(mixed_folder.parent / "out")).load_data(mixed_folder)
    _assert_batch(info.value)


async def test_a_mixed_folder_async_behaves_the_same(mixed_folder: Path) -> None:
    with pytest.raises(BatchLoadError) as info:
        await RAGAnythingReader(output_dir=str(mixed_folder.parent / "out")).aload_data(mixed_folder)
    _assert_batch(info.value)


def test_lazy_load_yields_good_files_before_reporting_failures(mixed_folder: Path) -> None:
    seen: list[str] = []
    with pytest.raises(BatchLoadError):
        for document in RAGAnythingReader(output_dir=str(mixed_folder.parent / "out")).lazy_load_data(mixed_folder):
            seen.append(document.metadata["doc"])
    assert set(seen) == {"faq.txt", "good.pdf"}


def test_a_forced_parser_that_cannot_run_offline_fails_with_the_reason(files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ParseError) as info:
        RAGAnythingReader(parser="docling", output_dir=str(tmp_path)).parse(files["pdf"])
    assert "cannot run here" in info.value.reason and info.value.path.name == "paper.pdf"
    with pytest.raises(ValueError, match="max_concurrency"):
        RAGAnythingReader(max_concurrency=0)
