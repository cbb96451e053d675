"""After a document is deleted no text of it is left anywhere in the store: not in the graph's descriptions
("... mentioned together in gamma.pdf (page 0)"), not in LightRAG's key-value files, not in any Milvus row; the
other documents' entities and relations, with their own descriptions, are intact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.graph.file_storage import read_graph_file
from llama_index_mmrag.stores.milvus import iterate_collection
from tests.readers.documents import make_pdf

ALPHA = (
    "The Orion Telescope and the Vega Station share data with Lyra.",
    "The Orion Telescope calibrates the Vega Station every night.",
)
BETA = ("The Vega Station sends images of the Orion Telescope to Lyra.",)
# gamma's own words (Kestrel, Zubenelgenubi) are in no other document; its pages repeat the shared entities, so
# the same entities and relations get descriptions from several of its chunks
GAMMA = (
    "Gamma note: the Orion Telescope saw Kestrel. The Vega Station slept.",  # two sentences: "mentioned together"
    *(
        f"Gamma note {n}: the Orion Telescope and the Vega Station saw {thing}."
        for n, thing in enumerate(("the Kestrel Comet", "Zubenelgenubi rise", "Kestrel fade", "Zubenelgenubi set"))
    ),
)
GAMMA_TRACES = ("gamma", "kestrel", "zubenelgenubi")


def _store_texts(store: Path, milvus_db: Path) -> dict[str, str]:
    """Every file of the store but Milvus's own data (read through Milvus instead), as text."""
    return {
        str(path.relative_to(store)): path.read_bytes().decode("utf-8", "replace").lower()
        for path in store.rglob("*")
        if path.is_file() and milvus_db not in path.parents
    }


def _milvus_rows(rag: MultimodalRAG) -> dict[str, list[dict[str, Any]]]:
    """Every row of every collection of the store's Milvus, without vectors."""
    client = rag.vector_store.client
    rows: dict[str, list[dict[str, Any]]] = {}
    for name in client.list_collections():
        fields = [
            f["name"]
            for f in client.describe_collection(name)["fields"]
            if "VECTOR" not in str(f["type"]).upper()
        ]
        rows[name] = list(iterate_collection(client, name, fields))
    return rows


def _hits(text: str) -> list[str]:
    return [trace for trace in GAMMA_TRACES if trace in text.lower()]


@pytest.fixture(scope="module")
def deleted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("docs")
    paths = [make_pdf(folder / "alpha.pdf", ALPHA), make_pdf(folder / "beta.pdf", BETA), make_pdf(folder / "gamma.pdf", GAMMA)]
    store = tmp_path_factory.mktemp("store")
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest(paths, show_progress=False).ok
        graph_file = next((rag.settings.graph_dir).rglob("*.graphml"))
        before = read_graph_file(graph_file)  # the GraphML with its change log
        rag.delete("gamma.pdf")
        after = nx.read_graphml(graph_file)  # written whole: a delete leaves no earlier version in a change log
        state = {
            "store": store,
            "before": before,
            "after": after,
            "texts": _store_texts(store, rag.settings.milvus_lite_path),
            "rows": _milvus_rows(rag),
            "answer_docs": {
                str(n.node.metadata.get("doc"))
                for n in rag.as_retriever().retrieve("What does the Orion Telescope calibrate every night?")
            },
        }
    return state


def test_the_deleted_document_had_shared_entities_and_text_in_the_graph(deleted: dict[str, Any]) -> None:
    before = deleted["before"]
    described = " ".join(str(d.get("description", "")) for _, _, d in before.edges(data=True)).lower()
    assert "gamma.pdf" in described and "kestrel" in described  # what must go
    assert before.has_edge("orion telescope", "vega station")


def test_no_file_of_the_store_holds_any_text_of_the_deleted_document(deleted: dict[str, Any]) -> None:
    hits = {name: _hits(text) for name, text in deleted["texts"].items() if _hits(text)}
    assert hits == {}


def test_no_milvus_row_holds_any_text_of_the_deleted_document(deleted: dict[str, Any]) -> None:
    hits = [
        (collection, row.get("id"), _hits(json.dumps(row, ensure_ascii=False, default=str)))
        for collection, rows in deleted["rows"].items()
        for row in rows
        if _hits(json.dumps(row, ensure_ascii=False, default=str))
    ]
    assert hits == []
    assert all(deleted["rows"].values()), "every collection still holds the other documents' rows"


def test_the_other_documents_facts_are_intact(deleted: dict[str, Any]) -> None:
    after = deleted["after"]
    edge = after.edges["orion telescope", "vega station"]
    assert {"alpha.pdf", "beta.pdf"} <= set(str(edge["file_path"]).split("<SEP>"))
    assert "orion telescope" in edge["description"].lower() and "vega station" in edge["description"].lower()
    assert after.has_node("lyra") and "alpha.pdf" in after.nodes["lyra"]["file_path"]
    for name in ("orion telescope", "vega station"):
        description = after.nodes[name]["description"].lower()
        assert description and not _hits(description)
    assert "alpha.pdf" in deleted["answer_docs"]


def test_a_replaced_version_leaves_no_text_of_the_old_one(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    alpha = make_pdf(folder / "alpha.pdf", ALPHA)
    gamma = make_pdf(folder / "gamma.pdf", GAMMA)
    store = tmp_path / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        assert rag.ingest([alpha, gamma], show_progress=False).ok
        make_pdf(gamma, tuple(page.replace("Kestrel", "Merlin").replace("Zubenelgenubi", "Merlin") for page in GAMMA))
        report = rag.ingest([gamma], show_progress=False)
        assert report.ingested == ["gamma.pdf"], report.failures
        texts = _store_texts(store, rag.settings.milvus_lite_path)
        rows = json.dumps(_milvus_rows(rag), ensure_ascii=False, default=str).lower()
    old = ("kestrel", "zubenelgenubi")
    assert {name: [w for w in old if w in text] for name, text in texts.items() if any(w in text for w in old)} == {}
    assert not [w for w in old if w in rows]
    assert "merlin" in rows and any("merlin" in text for text in texts.values())
