"""Benchmark whether ingestion stays flat as the store grows: the same probe documents ingested into stores of
N documents, with the seconds per page (wall and CPU) and the bytes written durably per document, split into the
store's journal and the graph's own files.

Two phases, so that the same stores can be probed by two versions of the package:

- ``build``: fills a store with one-page filler documents (the text of dev-set PDF pages, re-used under new
  names) and keeps a copy of it (closed) at each size N;
- ``probe``: for each size, opens a fresh copy of that store and ingests the probe documents (one-page PDFs cut
  from a born-digital dev-set PDF), each written under the journal as any ingest does.

Embedding: ``--embed hash`` (the default) is a deterministic bag-of-words hash into 384 dimensions, so that 1,000
documents build in minutes on 2 cores. Embedding costs the same per page at any store size (it is what the
packaged MiniLM spends most of an ingest on, see "Where an ingest's CPU goes"), so leaving it out shows what
grows with the store at a larger share; ``--embed local`` uses the packaged MiniLM (slow to build large stores).

Bytes are counted where they are made durable: every ``fsync`` of a regular file under ``<store>/journal`` (the
journal's records and copies) or ``<store>/lightrag`` (LightRAG's GraphML and JSON files and their change logs),
each fsync counting the file's size, or for a file appended to since its last fsync (a change log) what was
appended. Milvus Lite runs in this process (``MMRAG_LITE_SERVER=off``), so the CPU seconds include it.

Usage:
    python benchmarks/store_growth.py build --work DIR [--sizes 10 100 1000] [--dataset DIR] [--embed hash]
    python benchmarks/store_growth.py probe --work DIR [--sizes 10 100 1000] [--probes 3] [--label NAME]

Example:
    python benchmarks/store_growth.py build --work /tmp/growth
    python benchmarks/store_growth.py probe --work /tmp/growth --label after
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("MMRAG_LITE_SERVER", "off")  # Milvus Lite in this process: its CPU is counted

from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402

DATASET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "mmlongbench-dev"
PROBE_SOURCE = "2401.18059v1.pdf"  # born-digital: no OCR in the probe
DIM = 384


class HashEmbedding(BaseEmbedding):
    """Words hashed into 384 buckets, normalised: deterministic, about a microsecond per word.

    Example:
        >>> e = HashEmbedding()
        >>> len(e.get_text_embedding("Milvus stores vectors")), e.get_text_embedding("a") == e.get_text_embedding("a")
        (384, True)
    """

    @classmethod
    def class_name(cls) -> str:
        return "HashEmbedding384"

    @staticmethod
    def _embed(text: str) -> list[float]:
        vector = [0.0] * DIM
        for word in re.findall(r"\w+", text.lower()) or ["empty"]:
            vector[int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little") % DIM] += 1.0
        norm = sum(v * v for v in vector) ** 0.5
        return [v / norm for v in vector]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._embed(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embed(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]


def _open(store: Path, embed: str) -> Any:
    from llama_index_mmrag import MultimodalRAG

    if embed == "hash":
        return MultimodalRAG(storage_dir=store, embed_model=HashEmbedding(), embed_dim=DIM)
    return MultimodalRAG(storage_dir=store)


def _filler_texts(dataset: Path, count: int) -> list[str]:
    """The first 1,500 characters of ``count`` dev-set PDF pages with at least 400, cycling through the set."""
    import pypdfium2 as pdfium

    pages: list[str] = []
    for pdf_path in sorted((dataset / "docs").glob("*.pdf")):
        pdf = pdfium.PdfDocument(str(pdf_path))
        for index in range(len(pdf)):
            text = pdf[index].get_textpage().get_text_range().strip()
            if len(text) >= 400:
                pages.append(text[:1500])
        pdf.close()
    return [pages[i % len(pages)] + f"\n\nFiller copy {i}." for i in range(count)]


def _probe_pdfs(dataset: Path, folder: Path, count: int) -> list[Path]:
    """``count`` one-page PDFs cut from :data:`PROBE_SOURCE` (its pages 2 to count + 1)."""
    import pypdfium2 as pdfium

    folder.mkdir(parents=True, exist_ok=True)
    source = pdfium.PdfDocument(str(dataset / "docs" / PROBE_SOURCE))
    paths = []
    for i in range(count):
        page = pdfium.PdfDocument.new()
        page.import_pages(source, [i + 1])
        path = folder / f"probe-{i + 1}.pdf"
        page.save(str(path))
        paths.append(path)
    return paths


@contextlib.contextmanager
def _graph_saved_once(rag: Any) -> Iterator[None]:
    """Within: the graph's file storages keep their changes in memory; at the end they are saved once, and the
    journal's last good copy refreshed.

    LightRAG saves every file whole after each document, so filling a store document by document costs time
    quadratic in its size; the store this leaves is the one a document-by-document fill leaves (only the
    building is faster), so that 1,000 documents build in minutes.
    """
    from llama_index_mmrag.graph import file_storage
    from llama_index_mmrag.graph.kg_loader import apersist

    classes = (file_storage.MMRAGNetworkXStorage, file_storage._AtomicJsonMixin)
    saves = {cls: cls.index_done_callback for cls in classes}

    async def later(self: Any) -> bool:
        return True

    for cls in classes:
        cls.index_done_callback = later  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, save in saves.items():
            cls.index_done_callback = save  # type: ignore[method-assign]

        async def save_all() -> None:
            lightrag = await rag.graph._rag_instance()  # noqa: SLF001  (the store's own LightRAG)
            for name in ("full_docs", "doc_status", "llm_response_cache", "full_entities", "full_relations"):
                storage = getattr(lightrag, name, None)
                if storage is not None:
                    await storage.index_done_callback()
            await apersist(lightrag)

        rag.graph.run(save_all())
        rag.index.journal.keep_last_good()


def build(work: Path, sizes: list[int], dataset: Path, embed: str) -> None:
    """Fill one store up to each size in turn, copying it (closed) to ``work/store-N`` at each."""
    texts = _filler_texts(dataset, max(sizes))
    filler = work / "filler"
    filler.mkdir(parents=True, exist_ok=True)
    store = work / "building"
    done = 0
    for size in sorted(sizes):
        paths = []
        for i in range(done, size):
            path = filler / f"filler-{i:04d}.txt"
            path.write_text(texts[i], encoding="utf-8")
            paths.append(path)
        start = time.perf_counter()
        with _open(store, embed) as rag:
            with _graph_saved_once(rag):
                report = rag.ingest(paths, show_progress=False)
            assert report.ok, report.failures
            docs = rag.stats()["docs"]
        done = size
        shutil.copytree(store, work / f"store-{size}", dirs_exist_ok=False)
        print(f"built {docs} documents in {time.perf_counter() - start:.0f} s (load {_load()})", flush=True)


class _DurableBytes:
    """Bytes made durable (``fsync`` of a regular file) under the store's journal and graph folders: a file's size,
    or what was appended to it since it was last fsynced (or seen when counting began)."""

    def __init__(self, store: Path) -> None:
        self.roots = {"journal": str(store.resolve() / "journal") + "/", "graph": str(store.resolve() / "lightrag") + "/"}
        self.bytes: Counter[str] = Counter()
        self._fsync = os.fsync
        self._synced = {
            (p.stat().st_ino, str(p.resolve())): p.stat().st_size for p in store.resolve().rglob("*") if p.is_file()
        }

    def __enter__(self) -> _DurableBytes:
        def counting_fsync(fd: int) -> None:
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode):
                try:
                    path = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    path = ""
                before = self._synced.get((info.st_ino, path), 0)
                self._synced[(info.st_ino, path)] = info.st_size
                for name, root in self.roots.items():
                    if path.startswith(root):
                        self.bytes[name] += info.st_size - before if info.st_size >= before else info.st_size
            self._fsync(fd)

        os.fsync = counting_fsync
        return self

    def __exit__(self, *exc: object) -> None:
        os.fsync = self._fsync


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _graph_bytes(store: Path) -> int:
    return sum(p.stat().st_size for p in (store / "lightrag").rglob("*") if p.is_file())


def probe(work: Path, sizes: list[int], probes: int, dataset: Path, embed: str, label: str) -> list[dict[str, Any]]:
    """Ingest the probe PDFs into a fresh copy of each built store; one row of figures per size."""
    import psutil

    pdfs = _probe_pdfs(dataset, work / "probes", probes)
    rows = []
    me = psutil.Process()
    # the first pass warms up (parser, models, first-use imports) and is not reported
    for turn, size in enumerate([min(sizes), *sorted(sizes)]):
        store = work / f"probe-{label}-{size}"
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(work / f"store-{size}", store)
        with _open(store, embed) as rag:
            rag.stats()  # the store opened and its graph loaded before the clock starts
            load_before = _load()
            cpu0, wall0 = me.cpu_times(), time.perf_counter()
            with _DurableBytes(store) as durable:
                report = rag.ingest(pdfs, show_progress=False)
            wall = time.perf_counter() - wall0
            cpu1 = me.cpu_times()
            assert report.ok, report.failures
            pages = probes  # one page each
            cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
            row = {
                "label": label, "docs": size, "pages": pages,
                "wall_s_per_page": round(wall / pages, 3), "cpu_s_per_page": round(cpu / pages, 3),
                "journal_bytes_per_doc": durable.bytes["journal"] // probes,
                "graph_bytes_per_doc": durable.bytes["graph"] // probes,
                "graph_files_bytes": _graph_bytes(store),
                "load_before": load_before, "load_after": _load(),
            }
        shutil.rmtree(store, ignore_errors=True)
        if turn == 0:
            continue
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    """Run one phase (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phase", choices=["build", "probe"])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--dataset", type=Path, default=DATASET)
    parser.add_argument("--embed", choices=["hash", "local"], default="hash")
    parser.add_argument("--probes", type=int, default=3)
    parser.add_argument("--label", default="run")
    args = parser.parse_args(argv)
    if args.phase == "build":
        build(args.work, args.sizes, args.dataset, args.embed)
    else:
        probe(args.work, args.sizes, args.probes, args.dataset, args.embed, args.label)


if __name__ == "__main__":
    main(sys.argv[1:])
