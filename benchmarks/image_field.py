"""What the image vector field costs at ingest: the same documents into a store without one and a store with one.

The image model is a stand-in (no image-text model runs here offline): ``ColourEmbedding`` (11-d), or a
deterministic hashed ``MultiModalEmbedding`` of ``--dim`` dimensions, the size of ``tongyi-embedding-vision-plus``
(1152) by default, so the storage figures are those of the real model. Ingest seconds, rows, the store's Milvus
Lite folder on disk and its extra bytes per row are printed, and hybrid query latency with and without the image
request.

    python benchmarks/image_field.py --pictures 12 --dim 1152 --text-words 6000

``--text-words`` adds a generated text document cut into 64-token chunks, so that the rows without pixels (which
hold a zero vector in the field) are many and the bytes per row are not lost in the collection's fixed overhead.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from llama_index.core.base.embeddings.base import Embedding
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType
from PIL import Image, ImageDraw

from llama_index_mmrag import MilvusModalRetriever, MultimodalRAG
from llama_index_mmrag.models.colour import ColourEmbedding

SAMPLE = Path(__file__).resolve().parent.parent / "sample"


class HashedEmbedding(MultiModalEmbedding):
    """Unit vectors from a SHA-256 of the text or the picture's bytes: a model's size, none of its sense."""

    model_name: str = "hashed"
    dim: int = 1152

    def _vector(self, seed: bytes) -> Embedding:
        rng = random.Random(hashlib.sha256(seed).digest())
        values = [rng.gauss(0.0, 1.0) for _ in range(self.dim)]
        norm = math.sqrt(sum(v * v for v in values))
        return [v / norm for v in values]

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._vector(query.encode())

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._vector(query.encode())

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._vector(text.encode())

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return self._vector(text.encode())

    def _get_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._vector(Path(str(img_file_path)).read_bytes())

    async def _aget_image_embedding(self, img_file_path: ImageType) -> Embedding:
        return self._get_image_embedding(img_file_path)


def _pictures(folder: Path, count: int) -> list[Path]:
    rng = random.Random(7)
    paths = []
    for i in range(count):
        picture = Image.new("RGB", (320, 200), (255, 255, 255))
        draw = ImageDraw.Draw(picture)
        for bar in range(6):  # a bar chart of random heights and colours
            height = rng.randint(20, 180)
            colour = tuple(rng.randint(0, 255) for _ in range(3))
            draw.rectangle([20 + bar * 48, 190 - height, 56 + bar * 48, 190], fill=colour)
        path = folder / f"chart-{i:02d}.png"
        picture.save(path)
        paths.append(path)
    return paths


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _text(folder: Path, words: int) -> list[Path]:
    if not words:
        return []
    rng = random.Random(11)
    vocabulary = "milvus vector index segment query shard replica cluster collection field schema chart".split()
    text = " ".join(rng.choice(vocabulary) for _ in range(words))
    path = folder / "notes.txt"
    path.write_text(". ".join(text[i : i + 300] for i in range(0, len(text), 300)), encoding="utf-8")
    return [path]


def _run(label: str, files: list[Path], store: Path, image_model: MultiModalEmbedding | None) -> dict[str, float]:
    start = time.perf_counter()
    with MultimodalRAG(storage_dir=store, image_embed_model=image_model, chunk_size=64, chunk_overlap=0) as rag:
        report = rag.ingest(files, show_progress=False)
        assert report.ok, report.failures
        ingest_s = time.perf_counter() - start
        rows = sum(sum(r.modalities.values()) for r in rag.documents())
        retriever = MilvusModalRetriever(rag.vector_store, rag.embed_model, similarity_top_k=10)
        retriever.retrieve("warm up")
        latencies = []
        for i in range(30):
            t = time.perf_counter()
            retriever.retrieve(f"which chart shows the tallest bar {i}")
            latencies.append((time.perf_counter() - t) * 1000)
    milvus = _size(store / "milvus.db")
    print(f"{label}: ingest {ingest_s:.1f} s, {rows} rows, milvus.db {milvus / 1024:.0f} KiB, "
          f"hybrid query p50 {statistics.median(latencies):.1f} ms")
    return {"ingest_s": ingest_s, "rows": rows, "milvus": milvus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pictures", type=int, default=12)
    parser.add_argument("--dim", type=int, default=1152, help="dimension of the hashed stand-in (0: ColourEmbedding)")
    parser.add_argument("--text-words", type=int, default=0, help="words of a generated text document added")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    work = Path(tempfile.mkdtemp(prefix="image-field-"))
    try:
        files = [*_pictures(work, args.pictures), SAMPLE / "milvus_faq.txt", *_text(work, args.text_words)]
        model = HashedEmbedding(dim=args.dim) if args.dim else ColourEmbedding()
        dim = args.dim or len(ColourEmbedding().get_query_embedding("x"))
        without = _run("no image field", files, work / "without", None)
        with_field = _run(f"image field ({dim}-d)", files, work / "with", model)
        extra = (with_field["milvus"] - without["milvus"]) / with_field["rows"]
        print(f"extra bytes per row on disk: {extra:.0f} (raw vector: {4 * dim}); "
              f"ingest {with_field['ingest_s'] / without['ingest_s']:.2f}x")
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)  # owned: mkdtemp made it for this run


if __name__ == "__main__":
    main()
