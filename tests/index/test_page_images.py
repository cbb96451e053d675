"""Page images through a whole store: a scanned deck's pages are found as images, cited by page, served from the
store after it moved, and handed to a multimodal LLM with the answer's evidence in one call.

One store per module: a generated three-page scan (tests/support/scans.py: a chart page, a blank page, the chart
page rotated; every page a picture only) ingested offline, then moved away from where it was built, its source
folder deleted.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path

import dashscope
import pytest
from llama_index.core.schema import NodeWithScore
from PIL import Image

from llama_index_mmrag import ImageModalPostprocessor, MultimodalRAG
from llama_index_mmrag.models.dashscope import DashScopeMultiModalLLM
from llama_index_mmrag.parsing.pdf.page_image import PAGE_IMAGE_MAX_SIDE
from llama_index_mmrag.schema import node_image
from llama_index_mmrag.synthesis import citation
from tests.support.dashscope_server import FAKE_API_KEY, MULTIMODAL_GENERATION_PATH, DashScopeFakeServer
from tests.support.fake_mm_llm import FakeMultiModalLLM
from tests.support.scans import CHART_TITLE, make_scanned_chart_pdf

QUESTION = "How did container throughput by quarter change?"
DOC = "scan.pdf"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("page-images")
    user = base / "user"
    user.mkdir()
    make_scanned_chart_pdf(user / DOC)
    built = base / "built" / "store"
    with MultimodalRAG(storage_dir=built, top_k=5) as rag:
        report = rag.ingest([user / DOC], show_progress=False)
        assert report.ok, report.failures
    shutil.rmtree(user)
    kept = base / "kept" / "store"
    kept.parent.mkdir()
    shutil.move(built, kept)
    shutil.rmtree(base / "built")
    return kept


def _inside(path: str | None, store: Path) -> bool:
    return path is not None and Path(path).is_file() and Path(path).resolve().is_relative_to(store.resolve())


def _page_images(rag: MultimodalRAG) -> list[NodeWithScore]:
    found = rag.as_retriever(modalities=["image"], doc=DOC).retrieve(QUESTION)
    return [r for r in found if r.node.metadata.get("image_kind") == "page"]


def test_each_scanned_page_is_kept_as_a_page_image_cited_by_its_page(store: Path) -> None:
    with MultimodalRAG(storage_dir=store, top_k=5, page_aggregation=False) as rag:
        assert rag.document(DOC).modalities.get("image") == 2  # the chart page and its rotated copy; the blank none
        found = _page_images(rag)
        assert sorted(r.node.metadata["page"] for r in found) == [0, 2]
        best = found[0].node
        assert best.metadata["page"] == 0 and citation(found[0]) == f"[{DOC}, p.1, image]"
        assert best.metadata["bbox"] == [0.0, 0.0, 612.0, 792.0]
        assert CHART_TITLE in best.get_content()  # its text is the page's OCR text: findable offline
        path, _ = node_image(best)
        assert _inside(path, store) and best.metadata["image_path"] == path  # moved with the store
        with Image.open(path) as picture:
            assert picture.format == "JPEG" and max(picture.size) <= PAGE_IMAGE_MAX_SIDE
        # every node of the page names its page image, at the store's new place too
        texts = rag.as_retriever(modalities=["text"], doc=DOC).retrieve(QUESTION)
        on_page = [r.node for r in texts if r.node.metadata["page"] == 0]
        assert on_page and all(n.metadata["page_image_path"] == path for n in on_page)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_a_multimodal_llm_is_handed_the_retrieved_pages_in_one_call(store: Path) -> None:
    vlm = FakeMultiModalLLM()
    with MultimodalRAG(storage_dir=store, top_k=5, vlm=vlm) as rag:
        response = rag.as_query_engine(multimodal=True).query(QUESTION)
        pages = {n.node.metadata["page"]: n.node.metadata.get("page_image_path") or n.node.metadata["image_path"]
                 for n in response.source_nodes}
        assert sorted(pages) == [0, 2]
        [call] = vlm.calls  # one call for the answer, every picture in it
        handed = sorted(hashlib.sha256(image).hexdigest() for image in call.images)
        assert handed == sorted(_sha(path) for path in pages.values()) and all(_inside(p, store) for p in pages.values())

        # at most max_images pictures, best node first
        retrieved = rag.as_retriever().retrieve(QUESTION)
        bounded = ImageModalPostprocessor(multimodal=True, max_images=1).postprocess_nodes(retrieved, query_str=QUESTION)
        carrying = [r for r in bounded if node_image(r.node)[1] is not None]
        assert len(retrieved) > 1 and [r.node.node_id for r in carrying] == [bounded[0].node.node_id]


async def test_qwen_vl_max_gets_the_page_images_over_the_dashscope_api(
    store: Path, dashscope_server: DashScopeFakeServer
) -> None:
    vlm = DashScopeMultiModalLLM(api_key=FAKE_API_KEY, base_url=dashscope_server.base_url)
    try:
        with MultimodalRAG(storage_dir=store, top_k=5, vlm=vlm) as rag:
            response = await rag.as_query_engine(multimodal=True).aquery(QUESTION)
    finally:
        await dashscope.close_shared_aio_session()
    [request] = dashscope_server.requests_to(MULTIMODAL_GENERATION_PATH)
    images = [part["image"] for message in request.input["messages"] for part in message["content"] if "image" in part]
    assert len(images) == 2 and all(url.startswith("data:image/jpeg;base64,") for url in images)
    sent = {hashlib.sha256(base64.b64decode(url.partition(",")[2])).hexdigest()[:12] for url in images}
    pages = {n.node.metadata.get("page_image_path") or n.node.metadata["image_path"] for n in response.source_nodes}
    assert sent == {_sha(path)[:12] for path in pages}
    assert all(f"sha256:{digest}" in str(response) for digest in sent)  # the server saw exactly those pictures
