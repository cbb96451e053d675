"""Questions of every shape, through every public way to ask one, offline: no crash, no traceback, no LLM call.

The corpus (:mod:`tests.support.questions`) is generated from families with a fixed seed. Each surface runs the
whole corpus against one small real store (Milvus Lite, the LightRAG graph, the packaged embedding) and collects
every failure, so one run names every family that breaks. Only an empty question (nothing visible in it) is an
error, the documented usage error; everything else is answered, with evidence or with "no evidence".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import NodeWithScore, QueryBundle
from typer.testing import CliRunner

import llama_index_mmrag.graph.store as graph_store
import llama_index_mmrag.rag as rag_module
from llama_index_mmrag import LightRAGRetriever, MilvusModalRetriever, MultimodalCompositeRetriever, MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.graph.store import GRAPH_MODES
from llama_index_mmrag.models.adapters import NoLLMConfiguredError
from llama_index_mmrag.retrievers.question import EmptyQuestionError
from tests.support.questions import Question, make_questions
from tests.support.store_copies import copy_store

CORPUS = make_questions()
NO_EVIDENCE = "No evidence was found for this question."


class LLMCallCounter:
    """Wraps the offline LLM function LightRAG is given: counts calls, then behaves exactly as before."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner
        self.prompts: list[str] = []

    async def __call__(self, prompt: str, *args: Any, **kwargs: Any) -> str:
        self.prompts.append(prompt)
        return await self.inner(prompt, *args, **kwargs)


@pytest.fixture(scope="module")
def llm_calls() -> Iterator[LLMCallCounter]:
    """The offline LLM function, counted (installed before the store's LightRAG instance is built)."""
    counter = LLMCallCounter(graph_store.no_llm_func)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(graph_store, "no_llm_func", counter)
        yield counter


@pytest.fixture(scope="module")
def store(
    llm_calls: LLMCallCounter,
    tmp_path_factory: pytest.TempPathFactory,
    faq_store: Path,
    sample_faq: Path,
    sample_diagram: Path,
) -> Iterator[MultimodalRAG]:
    """One small real store for the module: the demo's FAQ and architecture diagram, ingested offline (a copy of
    the session's FAQ store, the diagram ingested into it)."""
    rag = MultimodalRAG(storage_dir=copy_store(faq_store, tmp_path_factory.mktemp("fuzz") / "store"), top_k=3)
    report = rag.ingest([sample_faq, sample_diagram], show_progress=False)
    assert report.ok, report.failures
    assert rag.graph.llm_func is None  # offline
    lightrag = rag.graph.run(rag.graph._rag_instance())
    with pytest.raises(NoLLMConfiguredError):  # the counter sees what LightRAG calls, and raises as before
        rag.graph.run(lightrag.llm_model_func("probe"))
    assert llm_calls.prompts == ["probe"]
    llm_calls.prompts.clear()
    yield rag
    rag.close()


def _run(questions: list[Question], ask: Callable[[str], Any], check: Callable[[Question, Any], str | None]) -> list[str]:
    """Ask every question; return one line per failure (an exception, or what ``check`` found wrong)."""
    failures: list[str] = []
    for question in questions:
        try:
            result = ask(question.text)
        except EmptyQuestionError as exc:
            if not question.empty:
                failures.append(f"{question.label}: refused as empty: {exc}")
            elif "empty" not in str(exc):
                failures.append(f"{question.label}: unclear usage error: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001  (the point: every failure of every question is reported)
            failures.append(f"{question.label}: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        if question.empty:
            failures.append(f"{question.label}: an empty question was not refused")
            continue
        problem = check(question, result)
        if problem:
            failures.append(f"{question.label}: {problem}")
    return failures


def _nodes_ok(_: Question, nodes: Any) -> str | None:
    if not isinstance(nodes, list) or not all(isinstance(n, NodeWithScore) for n in nodes):
        return f"not a list of NodeWithScore: {type(nodes).__name__}"
    missing = [n.node.node_id for n in nodes if not {"doc", "page", "modality"} <= set(n.node.metadata)]
    return f"nodes without provenance: {missing}" if missing else None


def _answer_ok(_: Question, response: Any) -> str | None:
    answer = getattr(response, "response", None)
    if not isinstance(answer, str) or not answer.strip():
        return f"no answer text: {answer!r}"
    if not response.source_nodes and answer != NO_EVIDENCE:
        return f"an answer without sources that is not 'no evidence': {answer[:80]!r}"
    return None


def _assert_none(failures: list[str], calls: LLMCallCounter, before: int) -> None:
    llm = [f"LLM function called offline {len(calls.prompts) - before} time(s)"] if len(calls.prompts) > before else []
    problems = llm + failures
    assert not problems, f"{len(problems)} failure(s) over {len(CORPUS)} questions:\n" + "\n".join(problems[:60])


def test_the_corpus_covers_every_family_with_at_least_200_questions() -> None:
    families = {q.family for q in CORPUS}
    assert len(CORPUS) >= 200
    assert {
        "empty", "whitespace", "control_only", "stopwords", "punctuation", "emoji_unicode", "control_chars",
        "lone_surrogates", "long_100k", "expressions", "quotes_backslashes", "markup", "numbers", "other_scripts",
        "page_references", "reported",
    } <= families
    assert make_questions() == CORPUS  # deterministic
    assert all(len(q.text) == 100_000 for q in CORPUS if q.family == "long_100k")


def test_as_retriever_retrieve(store: MultimodalRAG, llm_calls: LLMCallCounter) -> None:
    before = len(llm_calls.prompts)
    retriever = store.as_retriever()
    _assert_none(_run(CORPUS, retriever.retrieve, _nodes_ok), llm_calls, before)


async def test_as_retriever_aretrieve(store: MultimodalRAG, llm_calls: LLMCallCounter) -> None:
    before = len(llm_calls.prompts)
    retriever = store.as_retriever()
    failures: list[str] = []
    for question in CORPUS:
        try:
            nodes = await retriever.aretrieve(question.text)
        except EmptyQuestionError:
            if not question.empty:
                failures.append(f"{question.label}: refused as empty")
            continue
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{question.label}: {type(exc).__name__}: {str(exc)[:160]}")
            continue
        problem = "an empty question was not refused" if question.empty else _nodes_ok(question, nodes)
        if problem:
            failures.append(f"{question.label}: {problem}")
    _assert_none(failures, llm_calls, before)


def test_as_tool_call_through_as_query_engine_query(store: MultimodalRAG, llm_calls: LLMCallCounter) -> None:
    """``as_tool()`` wraps ``as_query_engine()``: one call per question runs both, and both results are checked."""
    before = len(llm_calls.prompts)
    tool = store.as_tool()
    assert type(tool.query_engine) is type(store.as_query_engine())

    def output_ok(question: Question, output: Any) -> str | None:
        if not isinstance(output.content, str) or not output.content.strip():
            return f"empty tool output {output!r}"
        return _answer_ok(question, output.raw_output)  # the query engine's Response

    _assert_none(_run(CORPUS, tool.call, output_ok), llm_calls, before)


def test_hand_built_composite(store: MultimodalRAG, llm_calls: LLMCallCounter) -> None:
    before = len(llm_calls.prompts)
    composite = MultimodalCompositeRetriever(
        [
            MilvusModalRetriever(store.vector_store, store.embed_model, similarity_top_k=5),
            LightRAGRetriever(store.graph, store.vector_store, mode="hybrid", top_k=5),
        ],
        top_k=5,
    )
    _assert_none(_run(CORPUS, composite.retrieve, _nodes_ok), llm_calls, before)


async def test_every_stage_of_the_query_engine_reads_the_checked_question(store: MultimodalRAG) -> None:
    """Postprocessors and the synthesizer get the engine's bundle, not the retriever's: it is checked at the entry."""
    seen: list[str] = []

    class Record(BaseNodePostprocessor):
        def _postprocess_nodes(self, nodes: list[NodeWithScore], query_bundle: QueryBundle | None = None) -> list[NodeWithScore]:
            seen.append(query_bundle.query_str if query_bundle else "")
            return nodes

    engine = store.as_query_engine(node_postprocessors=[Record()])
    engine.query("Milvus\udcff\x00architecture ")
    await engine.aquery("\tMilvus\udcff\x00architecture")
    assert seen == ["Milvus\ufffd architecture"] * 2
    with pytest.raises(EmptyQuestionError):
        engine.query(" \x00 ")
    assert len(seen) == 2  # refused before any stage ran


KEYWORD_POOR = {"empty", "whitespace", "control_only", "stopwords", "punctuation", "numbers", "quotes_backslashes", "reported"}
GRAPH_SAMPLE = [q for i, q in enumerate(CORPUS) if q.family in KEYWORD_POOR or i % 4 == 0]
"""Every question without content words, and a quarter of the others (each mode is one more pass)."""


@pytest.mark.parametrize("mode", sorted(set(GRAPH_MODES) - {"local", "hybrid"}))  # those run in the tests above
def test_graph_branch_never_calls_an_llm_offline(store: MultimodalRAG, llm_calls: LLMCallCounter, mode: str) -> None:
    """Questions with no usable keywords (stop words, punctuation, numbers, ...) find nothing in the graph."""
    before = len(llm_calls.prompts)
    retriever = LightRAGRetriever(store.graph, store.vector_store, mode=mode, top_k=5)
    _assert_none(_run(GRAPH_SAMPLE, retriever.retrieve, _nodes_ok), llm_calls, before)


@pytest.fixture()
def cli_store(store: MultimodalRAG, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The module's store, handed to the CLI instead of reopening it for every question (each open loads the
    models; the CLI's own open and close are tested in test_cli.py)."""
    path = store.settings.storage_dir

    def shared(storage_dir: Path | None = None, **_: Any) -> MultimodalRAG:
        assert Path(storage_dir).resolve() == path.resolve()
        return store

    monkeypatch.setattr(rag_module, "MultimodalRAG", shared)
    monkeypatch.setattr(store, "close", lambda: None)
    return path


def _cli_args(question: Question, path: Path, *extra: str) -> list[str]:
    # A question starting with "-" reads as an option in any POSIX command line; "--" ends the options.
    return ["query", "--store", str(path), *extra, "--", question.text]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_cli_query(cli_store: Path, llm_calls: LLMCallCounter, as_json: bool) -> None:
    """Every question goes through ``mmrag query`` once: alternately as text and with ``--json`` (each family both
    ways), since both runs would repeat the same query engine call."""
    before = len(llm_calls.prompts)
    runner = CliRunner()
    failures: list[str] = []
    for question in CORPUS[int(as_json) :: 2]:
        result = runner.invoke(app, _cli_args(question, cli_store, *(["--json"] if as_json else [])))
        output = result.output
        problem = None
        if "Traceback" in output:
            problem = "traceback in the output"
        elif question.empty:
            if result.exit_code != 2 or "empty" not in output:
                problem = f"exit {result.exit_code} without the usage error: {output[-200:]!r}"
        elif result.exit_code != 0:
            problem = f"exit {result.exit_code}: {type(result.exception).__name__}: {str(result.exception)[:160]}"
        elif as_json:
            try:
                payload = json.loads(result.stdout)
            except ValueError as exc:
                problem = f"stdout is not JSON ({exc}): {result.stdout[:200]!r}"
            else:
                if set(payload) != {"answer", "sources"} or not isinstance(payload["sources"], list):
                    problem = f"JSON without answer/sources: {sorted(payload)}"
        elif not result.output.strip():
            problem = "nothing printed"
        if problem:
            failures.append(f"{question.label}: {problem}")
    _assert_none(failures, llm_calls, before)
