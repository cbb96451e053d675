"""Pytest set-up shared by the tests (tests/) and the package's docstring examples (``--doctest-modules``).

Both run offline: no model hub, no cloud key, each store on its own local Milvus Lite server. A docstring
example runs in a fresh folder (``tmp_dir``) holding links to the demo's files (``milvus_faq.txt``,
``milvus_architecture.png``; ``sample_dir`` is where they live), so it names files as a user in their own
folder would. An example that names ``rag`` gets one small store, built once per session on the offline path
from those two files; examples only read it (one that writes builds its own store in ``tmp_dir``). An example
that names ``report.pdf`` finds a four-page report there (text, a table, a figure, a scanned page: drawn once by
``tests/support/pdfs.py``). An example that names DashScope talks to a loopback server that speaks DashScope's
API, with ``DASHSCOPE_API_KEY`` set.
"""

from __future__ import annotations

import doctest
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _var in ("DASHSCOPE_API_KEY", "MILVUS_URI", "MILVUS_TOKEN", "OPENAI_API_KEY", "MMRAG_LITE_SERVER"):
    os.environ.pop(_var, None)
# Each test store gets its own local Milvus Lite server process; it stops a few seconds after its last user
# instead of a minute, so that a suite's hundreds of stores never have many servers up at once.
os.environ.setdefault("MMRAG_LITE_IDLE_S", "3")

SAMPLE_DIR = Path(__file__).resolve().parent / "sample"


@pytest.fixture(autouse=True)
def _release_anonymous_store_holds() -> Iterator[None]:
    """Stores a test opened without a ``MultimodalRAG`` (a bare vector store, a graph) are let go after it."""
    yield
    from llama_index_mmrag.stores.lite_server import release_anonymous_holds

    release_anonymous_holds()


@pytest.fixture(scope="session")
def sample_faq() -> Path:
    """The demo's FAQ (text)."""
    return SAMPLE_DIR / "milvus_faq.txt"


@pytest.fixture(scope="session")
def sample_diagram() -> Path:
    """The demo's architecture diagram (an image with text in it)."""
    return SAMPLE_DIR / "milvus_architecture.png"


@pytest.fixture(scope="session")
def doctest_rag(tmp_path_factory: pytest.TempPathFactory, sample_faq: Path, sample_diagram: Path) -> Iterator[Any]:
    """The store the docstring examples query: the demo's FAQ and diagram, ingested offline."""
    from llama_index_mmrag import MultimodalRAG

    rag = MultimodalRAG(storage_dir=tmp_path_factory.mktemp("doctest-store"), top_k=5)
    report = rag.ingest([sample_faq, sample_diagram], show_progress=False)
    assert report.ok, report.failures
    yield rag
    rag.close()


@pytest.fixture(scope="session")
def doctest_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report the docstring examples parse: ``make_sample_pdf``'s four pages."""
    from tests.support.pdfs import make_sample_pdf

    path = tmp_path_factory.mktemp("doctest-pdf") / "report.pdf"
    make_sample_pdf(path)
    return path


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest) -> None:
    """Give a docstring example its names; the store is built only if some example uses ``rag``."""
    from _pytest.doctest import DoctestItem

    if not isinstance(request.node, DoctestItem):
        return
    namespace = request.getfixturevalue("doctest_namespace")
    monkeypatch = request.getfixturevalue("monkeypatch")
    work = request.getfixturevalue("tmp_path")
    for sample in SAMPLE_DIR.iterdir():  # an example names the demo's files as a user in their folder would
        (work / sample.name).symlink_to(sample)
    monkeypatch.chdir(work)
    namespace["sample_dir"] = SAMPLE_DIR
    namespace["tmp_dir"] = work
    sources = "\n".join(e.source for e in request.node.dtest.examples if not e.options.get(doctest.SKIP))
    if re.search(r"\brag\b", sources):
        namespace["rag"] = request.getfixturevalue("doctest_rag")
    if '"report.pdf"' in sources:
        (work / "report.pdf").symlink_to(request.getfixturevalue("doctest_pdf"))
    if "DashScope" in sources:  # DashScope's API, answered by a loopback server that speaks it
        import dashscope

        from tests.support.dashscope_server import FAKE_API_KEY, DashScopeFakeServer

        server = DashScopeFakeServer()
        server.__enter__()
        request.addfinalizer(lambda: server.__exit__(None, None, None))
        monkeypatch.setenv("DASHSCOPE_API_KEY", FAKE_API_KEY)
        monkeypatch.setattr(dashscope, "base_http_api_url", server.base_url)
