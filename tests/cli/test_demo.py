"""`mmrag demo --store DIR` removes nothing it did not create: a folder holding anything else is refused and left
untouched; a new folder becomes a demo store that a rerun reuses, files added to it included."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from llama_index_mmrag import cli
from tests.cli.conftest import invoke


@pytest.mark.parametrize("content", ["file", "folder", "store"])
def test_demo_refuses_a_folder_it_did_not_make_and_leaves_it_untouched(tmp_path: Path, content: str) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    if content == "file":
        (folder / "thesis.docx").write_bytes(b"six months of work")
    elif content == "folder":
        (folder / "photos").mkdir()
        (folder / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    else:  # a store built by `mmrag ingest` is not the demo's either
        (folder / "manifest.json").write_text('{"version": 1, "docs": {}}')
    before = sorted((p.relative_to(folder), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*"))

    result = invoke("demo", "--store", str(folder))

    assert result.exit_code == 2, result.output
    assert "not empty and was not made by `mmrag demo`" in result.output and "mine" in result.output
    assert "Traceback" not in result.output
    assert sorted((p.relative_to(folder), p.read_bytes() if p.is_file() else None) for p in folder.rglob("*")) == before


def test_demo_refuses_a_file_given_as_its_store(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("keep me")
    result = invoke("demo", "--store", str(path))
    assert result.exit_code == 2 and "is a file" in result.output
    assert path.read_text() == "keep me"


def test_demo_builds_a_new_store_and_a_rerun_reuses_it_keeping_what_was_added(tmp_path: Path) -> None:
    store = tmp_path / "demo"
    first = invoke("demo", "--store", str(store))
    assert first.exit_code == 0, first.output
    assert "simultaneous insertion and search" in first.stdout
    assert "[milvus_faq.txt, p.1, text]" in first.stdout  # the first page is page 1
    assert "Image hit:" in first.stdout and "milvus_architecture.png" in first.stdout
    assert (store / cli.DEMO_MARKER).is_file() and (store / "manifest.json").is_file()

    (store / "my-notes.txt").write_text("written into the demo store by its user")
    second = invoke("demo", "--store", str(store))
    assert second.exit_code == 0, second.output
    assert "2 unchanged" in second.output  # the same store, reused: nothing rebuilt, nothing removed
    assert (store / "my-notes.txt").read_text() == "written into the demo store by its user"


def test_a_temporary_demo_store_is_removed_and_the_image_hit_names_a_picture_that_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MMRAG_IMAGE_EMBED_MODEL", "colour-histogram")  # the image question is also asked by pixels
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("mmrag-demo-*"))
    result = invoke("demo")
    assert result.exit_code == 0, result.output
    assert set(temporary.glob("mmrag-demo-*")) <= before  # the temporary store went with the run ...
    [hit] = [line.removeprefix("Image hit: ") for line in result.stdout.splitlines() if line.startswith("Image hit: ")]
    assert Path(hit).is_file() and Path(hit).name == "milvus_architecture.png"  # ... and the hit is still there
    pixels = "Image hit by its pixels (colour-histogram): "
    [by_pixels] = [line.removeprefix(pixels) for line in result.stdout.splitlines() if line.startswith(pixels)]
    assert Path(by_pixels) == Path(hit)  # the image field alone finds the same picture
