"""A store folder moved or copied elsewhere keeps serving its images: every image path a retrieved node carries
(the vector branch, the graph branch, the image postprocessor and its hand-off to a multimodal LLM, ``mmrag
query --json``) is a file inside the store at its new place.

One store is built per module from a user's folder (a one-page PDF whose figure the parser extracts into the
store, and a standalone PNG, which ingestion copies into the store), then moved away from where it was built, and
the user's folder is deleted: neither where the store was built nor where its files came from exists any more.
Each test works on its own copy.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from llama_index.core.schema import MetadataMode, NodeWithScore
from llama_index.vector_stores.milvus import MilvusVectorStore
from typer.testing import CliRunner

from llama_index_mmrag import ImageModalPostprocessor, LightRAGRetriever, MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.schema import node_image
from tests.support.pdfs import make_figure_pdf

FIGURE_QUESTION = "What does the sales dashboard of the terminal show?"
DIAGRAM_QUESTION = "What does the Milvus architecture diagram show?"
IMAGES = {"report.pdf": FIGURE_QUESTION, "milvus_architecture.png": DIAGRAM_QUESTION}


@pytest.fixture(scope="module")
def kept_store(tmp_path_factory: pytest.TempPathFactory, sample_diagram: Path) -> Path:
    """A store of ``report.pdf`` (a figure) and ``milvus_architecture.png``, moved from where it was built, its
    source files gone."""
    base = tmp_path_factory.mktemp("moved")
    user = base / "user"
    user.mkdir()
    make_figure_pdf(user / "report.pdf")
    shutil.copy(sample_diagram, user / sample_diagram.name)
    built = base / "built" / "store"
    with MultimodalRAG(storage_dir=built, top_k=5) as rag:
        report = rag.ingest([user / "report.pdf", user / sample_diagram.name], show_progress=False)
        assert report.ok, report.failures
        assert rag.document("report.pdf").modalities.get("image") == 1
    shutil.rmtree(user)
    kept = base / "kept" / "store"
    kept.parent.mkdir()
    shutil.move(built, kept)
    built.parent.rmdir()
    return kept


def _inside(path: str | None, store: Path) -> bool:
    return path is not None and Path(path).is_file() and Path(path).resolve().is_relative_to(store.resolve())


def _images(results: Sequence[NodeWithScore]) -> list[NodeWithScore]:
    return [r for r in results if r.node.metadata.get("modality") == "image"]


def _assert_images_served(store: Path, cli: bool = True) -> None:
    """Every image the store returns, by every branch and consumer, is a readable file inside ``store``."""
    with MultimodalRAG(storage_dir=store, top_k=5) as rag:
        for doc, question in IMAGES.items():
            found = _images(rag.as_retriever(modalities=["image"], doc=doc).retrieve(question))
            assert found, f"no image of {doc} retrieved"
            node = found[0].node
            path, _ = node_image(node)
            assert _inside(path, store), path
            assert _inside(node.metadata["image_path"], store), node.metadata["image_path"]

            # the picture handed to a multimodal LLM is the file's bytes
            handed = ImageModalPostprocessor(multimodal=True).postprocess_nodes(found, query_str=question)
            assert base64.b64decode(handed[0].node.image) == Path(path).read_bytes()

        graph = LightRAGRetriever(rag.graph, rag.vector_store, mode="hybrid", modalities=["image"])
        from_graph = graph.retrieve(DIAGRAM_QUESTION)
        assert from_graph, "the graph no longer answers at the store's new place"
        assert all(_inside(node_image(r.node)[0], store) for r in from_graph)

    if not cli:
        return
    result = CliRunner().invoke(app, ["query", DIAGRAM_QUESTION, "--store", str(store), "--modality", "image", "--json"])
    assert result.exit_code == 0, result.output
    sources = json.loads(result.stdout)["sources"]
    assert sources and all(_inside(s["image_path"], store) for s in sources), sources


def test_a_moved_store_serves_its_images_from_its_new_place(kept_store: Path, tmp_path: Path) -> None:
    """``shutil.move`` of the whole store: images, graph and ``mmrag query`` work at the new path."""
    source = tmp_path / "before" / "store"
    shutil.copytree(kept_store, source)
    moved = tmp_path / "after" / "renamed"
    moved.parent.mkdir()
    shutil.move(source, moved)
    _assert_images_served(moved)


def _write_as_before(store: Path, doc: str) -> None:
    """Rewrite ``doc``'s image row as stores wrote it before paths were kept relative: absolute, under ``store``."""
    with MultimodalRAG(storage_dir=store) as rag:
        nodes = [n for n in rag.vector_store.get_nodes(node_ids=rag.document(doc).node_ids) if n.metadata["modality"] == "image"]
        for node in nodes:
            node.embedding = rag.embed_model.get_text_embedding(node.get_content(metadata_mode=MetadataMode.EMBED))
        MilvusVectorStore.add(rag.vector_store, nodes)  # LlamaIndex's own write: the paths as they are
        rows = rag.vector_store.client.query(
            rag.vector_store.collection_name, ids=[n.node_id for n in nodes], output_fields=["image_path"]
        )
    assert rows and all(Path(r["image_path"]).is_relative_to(store) for r in rows), rows


def test_a_copied_store_serves_its_own_images_once_the_original_is_deleted(kept_store: Path, tmp_path: Path) -> None:
    """A copy (``copytree``) whose original is then deleted reads its own files, not the original's; so does a row
    written before paths were kept relative (the figure's, absolute under the original), re-based onto the copy."""
    original = tmp_path / "original"
    shutil.copytree(kept_store, original)
    _write_as_before(original, "report.pdf")
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    shutil.rmtree(original)
    _assert_images_served(copy, cli=False)
