"""The paths a node names into its store are written relative to the store's folder and read back absolute under
the folder where the store is now; paths outside the store, and rows written before paths were kept relative,
keep working."""

from __future__ import annotations

from pathlib import Path

import pytest
from llama_index.core.schema import BaseNode, ImageNode, TextNode

from llama_index_mmrag.limits import MAX_TEXT_BYTES, fit_nodes
from llama_index_mmrag.schema.store_paths import RELATIVE_KEYS, resolved_node, stored_node


def _file(path: Path, data: bytes = b"png") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _image(path: Path | str) -> ImageNode:
    return ImageNode(text="a chart", image_path=str(path), metadata={"image_path": str(path), "doc": "r.pdf"})


def _round_trip(node: BaseNode, old: Path, new: Path) -> BaseNode:
    """Write under ``old``, then read as the store now at ``new`` does (the row is a serialised copy)."""
    stored = stored_node(node, old)
    return resolved_node(type(stored).model_validate_json(stored.model_dump_json()), new)


def test_paths_into_the_store_follow_it_to_its_new_folder(tmp_path: Path) -> None:
    """Every path key into the store (an image, text kept aside by fit_nodes) reads back under the new folder."""
    old, new = tmp_path / "old", tmp_path / "new"
    figure = _file(old / "parsed" / "ab" / "images" / "fig 1.png")
    node = _image(figure)
    big = TextNode(text="x" * (MAX_TEXT_BYTES + 10), metadata={"doc": "a.txt", "doc_id": "d" * 16, "modality": "text"})
    [fitted] = fit_nodes([big], old / "overflow")
    assert Path(fitted.metadata["full_text_path"]).is_file()
    for written in (node, fitted):
        before = dict(written.metadata)
        read = _round_trip(written, old, new)
        assert written.metadata == before  # the node handed to the store is left alone
        assert RELATIVE_KEYS not in read.metadata
        for key, value in before.items():
            if key.endswith("_path"):
                assert read.metadata[key] == str(new / Path(value).relative_to(old))
    assert _round_trip(node, old, new).image_path == str(new / "parsed" / "ab" / "images" / "fig 1.png")


def test_paths_outside_the_store_are_kept(tmp_path: Path) -> None:
    """A picture outside the store, and a foreign relative ``file_path``, are written and read as they are."""
    outside = _file(tmp_path / "user" / "scan.png")
    node = _image(outside)
    node.metadata["file_path"] = "docs/a.txt"
    assert stored_node(node, tmp_path / "store") is node
    read = _round_trip(node, tmp_path / "store", tmp_path / "moved")
    assert (read.image_path, read.metadata["image_path"], read.metadata["file_path"]) == (
        str(outside), str(outside), "docs/a.txt"
    )


@pytest.mark.parametrize("there", [True, False], ids=["file-at-new-place", "file-nowhere"])
def test_rows_written_with_absolute_paths_are_rebased_when_the_store_moved(tmp_path: Path, there: bool) -> None:
    """A row from before paths were kept relative names ``<old store>/parsed/...``: once the store is moved, the
    file under the store's new folder is used; where there is none, the path is kept (its reader names it)."""
    old, new = tmp_path / "a" / "old", tmp_path / "b" / "new"
    stale = old / "parsed" / "ab" / "fig.png"
    if there:
        _file(new / "parsed" / "ab" / "fig.png")
    read = resolved_node(_image(stale), new)
    expected = str(new / "parsed" / "ab" / "fig.png") if there else str(stale)
    assert (read.image_path, read.metadata["image_path"]) == (expected, expected)


def test_an_absolute_path_that_exists_is_used_as_is(tmp_path: Path) -> None:
    """An old row whose file still exists where it names it (the store was not moved) is not re-based."""
    kept = _file(tmp_path / "old" / "parsed" / "fig.png")
    _file(tmp_path / "new" / "parsed" / "fig.png", b"another")
    assert resolved_node(_image(kept), tmp_path / "new").image_path == str(kept)
