"""Pictures kept inside the store: copied whole, also when several ingests of one picture copy it at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
import shutil
from pathlib import Path

from llama_index_mmrag.ingestion.images import keep_images_in_store
from llama_index_mmrag.schema import ContentBlock


def _block(path: Path) -> ContentBlock:
    return ContentBlock(modality="image", img_path=str(path), doc=path.name, doc_id="0123456789abcdef0123", parser="mmrag", page=0)


def test_concurrent_copies_of_one_picture_all_succeed_and_leave_it_whole(tmp_path: Path) -> None:
    source = tmp_path / "chart.png"
    source.write_bytes(os.urandom(4 << 20))  # big enough for the copies to overlap
    parsed = tmp_path / "store" / "parsed"
    for _ in range(10):  # each round, 8 ingests copy the picture at once into an empty store
        shutil.rmtree(parsed, ignore_errors=True)
        blocks = [_block(source) for _ in range(8)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            copied = list(pool.map(lambda block: keep_images_in_store([block], parsed), blocks))
        assert copied == [1] * 8
        [target] = {Path(block.img_path) for block in blocks}
        assert target.read_bytes() == source.read_bytes()
        assert [p.name for p in target.parent.iterdir()] == ["chart.png"]  # no partial file left behind
