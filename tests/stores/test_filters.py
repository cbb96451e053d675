"""Security corpus for the MetadataFilters -> Milvus expression compiler, against real Milvus Lite.

Every filter is compiled with :func:`compile_filters`, run through ``MilvusVectorStore.query(...,
string_expr=expr)`` on one shared Milvus Lite store, and the returned node ids are compared with a
reference evaluator written in plain Python with LlamaIndex core's semantics (a node lacking the
key fails every test except NE and NIN; NOT is the complement), cross-checked against
``build_metadata_filter_fn`` from llama-index-core. A hostile value must yield exactly its literal
matches, or a ``FilterError``; which of the two is also pinned, so a silent change of policy fails
the suite.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode
from llama_index.core.vector_stores.types import (
    ExactMatchFilter,
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.utils import build_metadata_filter_fn
from llama_index.vector_stores.milvus import MilvusVectorStore

from llama_index_mmrag.stores.filters import (
    FILTERABLE_FIELDS,
    MAX_STRING_BYTES,
    FilterError,
    compile_filters,
    escape_string,
)

DIM = 8
TOP_K = 500
MODALITIES = ("text", "image", "table")

# Document names; several are themselves injection attempts, so an EQ on them must find exactly
# their own nodes.
DOCS: tuple[str, ...] = (
    "a.pdf",
    "b.pdf",
    'x" or doc != "',
    'quote"d.pdf',
    "back\\slash.pdf",
    "übersicht – 数据.pdf",
    "it's.pdf",
    "emoji 😀.pdf",
    "nl\nx.pdf",
    "tab\tx.pdf",
    "nul\x00.pdf",
    "pct%_u.pdf",
    "r[e]g(ex).*+?^$|{1}.pdf",
    '") or (1==1',
    "aXpdf",
    "",
    '\\" or \\"\\"==\\"',
    "  spaced  .pdf",
)

ORPHAN_ID = "orphan"  # a node with no doc, page, tags or score metadata

TEST_FIELDS: dict[str, Any] = {**FILTERABLE_FIELDS, "score": float, "tags": list[str]}

HOSTILE_VALUES: tuple[Any, ...] = (
    '"',
    "'",
    "\\",
    '\\"',
    '"\\',
    "\\\\",
    'x" or doc != "',
    '") or (1==1',
    '\\" or \\"\\"==\\"',
    'a.pdf" or "1"=="1',
    "a.pdf' or '1'=='1",
    "or 1==1",
    '" or 1==1 or doc == "',
    'a.pdf") or true or ("',
    "a.pdf\\",
    'quote"d.pdf',
    "back\\slash.pdf",
    "it's.pdf",
    "übersicht – 数据.pdf",
    "emoji 😀.pdf",
    "😀",
    "数据",
    "nl\nx.pdf",
    "nl\\nx.pdf",
    "tab\tx.pdf",
    "tab\\tx.pdf",
    "nul\x00.pdf",
    "\x00",
    "a.pdf\x00",
    "\r",
    "\u2028",
    "\ufeff",
    "%",
    "_",
    "%%",
    "pct%_u.pdf",
    "a_pdf",
    ".*",
    "a.p",
    "r[e]g(ex).*+?^$|{1}.pdf",
    "(",
    ")",
    "$meta",
    "doc",
    "",
    " ",
    "  spaced  .pdf",
    "a.pdf",
    "x" * MAX_STRING_BYTES,
    "x" * (MAX_STRING_BYTES + 1),
    "é" * 40_000,  # 80,000 UTF-8 bytes
    "\ud800",  # lone surrogate: not valid UTF-8
    None,
)


# ---------------------------------------------------------------------------------------------
# Corpus and store (one per module)
# ---------------------------------------------------------------------------------------------


def _corpus() -> tuple[list[TextNode], dict[str, dict[str, Any]]]:
    """Build the nodes and, per node id, the fields as Milvus stores them."""
    nodes: list[TextNode] = []
    stored: dict[str, dict[str, Any]] = {}
    for i, doc in enumerate(DOCS):
        for j in range(2):
            node_id = f"n{i}-{j}"
            metadata: dict[str, Any] = {
                "doc": doc,
                "page": (i + 3 * j) % 6,
                "modality": MODALITIES[(i + j) % 3],
                "parser": "docling" if i % 2 else "pdfplumber",
                "chunk_id": f"c{i}-{j}",
                "score": i + j / 2,
                "tags": [["x"], ["x", "y"], []][i % 3],
            }
            nodes.append(
                TextNode(
                    id_=node_id,
                    text=f"chunk {i}-{j}",
                    metadata=metadata,
                    embedding=[1.0, (i % 7) / 7.0, float(j), 0.5, 0.25, 0.0, 0.0, 0.125],
                    relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=f"h{i}")},
                )
            )
            # The store overwrites metadata["doc_id"] with node.ref_doc_id (the SOURCE node).
            stored[node_id] = {**metadata, "doc_id": f"h{i}"}
    nodes.append(
        TextNode(
            id_=ORPHAN_ID,
            text="orphan",
            metadata={"modality": "text"},
            embedding=[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        )
    )
    stored[ORPHAN_ID] = {"modality": "text", "doc_id": "None"}
    return nodes, stored


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MilvusVectorStore, dict]]:
    """One Milvus Lite store with the whole corpus, shared by every test in this module."""
    path: Path = tmp_path_factory.mktemp("filters") / "m.db"
    store = MilvusVectorStore(uri=str(path), dim=DIM, collection_name="filters", overwrite=True)
    nodes, stored = _corpus()
    store.add(nodes)
    assert len(stored) < TOP_K
    yield store, stored
    store.client.close()


def _search(store: MilvusVectorStore, expr: str) -> set[str]:
    assert expr, "an empty expression would be an unfiltered search"
    query = VectorStoreQuery(query_embedding=[1.0] + [0.0] * (DIM - 1), similarity_top_k=TOP_K)
    return set(store.query(query, string_expr=expr).ids)


# ---------------------------------------------------------------------------------------------
# Reference evaluator (LlamaIndex core semantics, extended to nested groups)
# ---------------------------------------------------------------------------------------------


def _ref_leaf(item: MetadataFilter, row: Mapping[str, Any]) -> bool:
    operator = FilterOperator(item.operator)
    if operator is FilterOperator.IS_EMPTY:
        return row.get(item.key) in (None, "", [])
    if row.get(item.key) is None:
        return operator in (FilterOperator.NE, FilterOperator.NIN)
    actual, value = row[item.key], item.value
    checks: dict[FilterOperator, Callable[[], bool]] = {
        FilterOperator.EQ: lambda: actual == value,
        FilterOperator.NE: lambda: actual != value,
        FilterOperator.GT: lambda: actual > value,
        FilterOperator.GTE: lambda: actual >= value,
        FilterOperator.LT: lambda: actual < value,
        FilterOperator.LTE: lambda: actual <= value,
        FilterOperator.IN: lambda: actual in value,
        FilterOperator.NIN: lambda: actual not in value,
        FilterOperator.TEXT_MATCH: lambda: value in actual,
        FilterOperator.CONTAINS: lambda: value in actual,
        FilterOperator.ANY: lambda: any(v in actual for v in value),
        FilterOperator.ALL: lambda: all(v in actual for v in value),
    }
    return checks[operator]()


def _ref(item: MetadataFilter | MetadataFilters, row: Mapping[str, Any]) -> bool:
    if not isinstance(item, MetadataFilters):
        return _ref_leaf(item, row)
    values = [_ref(member, row) for member in item.filters]
    condition = item.condition or FilterCondition.AND
    if condition is FilterCondition.AND:
        return all(values)
    if condition is FilterCondition.OR:
        return any(values)
    return not any(values)


def _expected(filters: MetadataFilters, stored: Mapping[str, Mapping[str, Any]]) -> set[str]:
    return {node_id for node_id, row in stored.items() if _ref(filters, row)}


def _mf(*members: MetadataFilter | MetadataFilters, condition: str = "and") -> MetadataFilters:
    return MetadataFilters(filters=list(members), condition=FilterCondition(condition))


def _f(key: str, value: Any, operator: FilterOperator = FilterOperator.EQ) -> MetadataFilter:
    # model_construct: a hostile caller is not bound by pydantic validation.
    return MetadataFilter.model_construct(key=key, value=value, operator=operator)


# ---------------------------------------------------------------------------------------------
# Hostile values
# ---------------------------------------------------------------------------------------------

SHAPES: dict[str, Callable[[Any], MetadataFilters]] = {
    "eq": lambda v: _mf(_f("doc", v)),
    "ne": lambda v: _mf(_f("doc", v, FilterOperator.NE)),
    "in": lambda v: _mf(_f("doc", [v], FilterOperator.IN)),
    "in_with_b": lambda v: _mf(_f("doc", [v, "b.pdf"], FilterOperator.IN)),
    "nin": lambda v: _mf(_f("doc", [v], FilterOperator.NIN)),
    "not_eq": lambda v: _mf(_f("doc", v), condition="not"),
    "or_page": lambda v: _mf(_f("doc", v), _f("page", 5), condition="or"),
    "and_modality": lambda v: _mf(_f("doc", v), _f("modality", "text")),
    "chunk_id_eq": lambda v: _mf(_f("chunk_id", v)),
    "text_match": lambda v: _mf(_f("doc", v, FilterOperator.TEXT_MATCH)),
}


def _must_reject(value: Any, shape: str) -> bool:
    if not isinstance(value, str):
        return True  # None
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return True
    if size > MAX_STRING_BYTES:
        return True
    if shape == "text_match":
        return value == "" or any(ch in value for ch in "%_\\")
    return False


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=lambda v: f"{v!r}"[:40])
def test_hostile_value_yields_exactly_literal_matches_or_error(
    corpus: tuple[MilvusVectorStore, dict], value: Any, shape: str
) -> None:
    store, stored = corpus
    filters = SHAPES[shape](value)
    if _must_reject(value, shape):
        with pytest.raises(FilterError):
            compile_filters(filters)
        return
    expr = compile_filters(filters)
    assert _search(store, expr) == _expected(filters, stored)


@pytest.mark.parametrize("doc", DOCS, ids=lambda v: f"{v!r}"[:40])
def test_every_hostile_document_name_is_found_exactly(
    corpus: tuple[MilvusVectorStore, dict], doc: str
) -> None:
    store, _ = corpus
    index = DOCS.index(doc)
    assert _search(store, compile_filters(_mf(_f("doc", doc)))) == {f"n{index}-0", f"n{index}-1"}


def test_injection_payload_does_not_widen(corpus: tuple[MilvusVectorStore, dict]) -> None:
    store, _ = corpus
    expr = compile_filters(_mf(_f("doc", 'x" or doc != "')))
    assert expr == 'doc is not null and doc == "x\\" or doc != \\""'
    assert _search(store, expr) == {"n2-0", "n2-1"}
    assert _search(store, compile_filters(_mf(_f("doc", "or 1==1")))) == set()


def test_text_match_is_a_literal_substring(corpus: tuple[MilvusVectorStore, dict]) -> None:
    store, _ = corpus
    # '.' is not a wildcard: "aXpdf" must not match "a.p".
    assert _search(store, compile_filters(_mf(_f("doc", "a.p", FilterOperator.TEXT_MATCH)))) == {
        "n0-0",
        "n0-1",
    }
    expr = compile_filters(_mf(_f("doc", "数据", FilterOperator.TEXT_MATCH)))
    assert expr == 'doc is not null and doc like "%数据%"'
    assert _search(store, expr) == {"n5-0", "n5-1"}


# ---------------------------------------------------------------------------------------------
# Escaping, checked against Milvus Lite's own tokenizer and parser
# ---------------------------------------------------------------------------------------------

_ALPHABET = [
    '"',
    "'",
    "\\",
    "\n",
    "\r",
    "\t",
    "\x00",
    "\x01",
    "\x1f",
    "\x7f",
    "%",
    "_",
    " ",
    "(",
    ")",
    "[",
    "]",
    "=",
    "!",
    "&",
    "|",
    "$",
    "a",
    "Z",
    "0",
    "é",
    "数",
    "😀",
    "\u2028",
    "\ufeff",
    " or ",
    " and ",
    "1==1",
    "\\n",
    "\\u0041",
    "\\x41",
]


def test_escape_string_round_trips_through_the_milvus_lite_tokenizer() -> None:
    tokens_module = pytest.importorskip("milvus_lite.search.filter.tokens")
    rng = random.Random(20240607)
    samples = [""] + [
        "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(1, 12))) for _ in range(3000)
    ]
    for sample in samples:
        literal = escape_string(sample)
        tokens = tokens_module.tokenize(literal)
        assert [t.kind for t in tokens] == [
            tokens_module.TokenKind.STRING,
            tokens_module.TokenKind.EOF,
        ], sample
        assert tokens[0].value == sample
        assert tokens[0].text == literal
        assert "\n" not in literal and "\r" not in literal


@pytest.mark.parametrize(
    "value", [v for v in HOSTILE_VALUES if not _must_reject(v, "eq")], ids=lambda v: f"{v!r}"[:40]
)
def test_compiled_comparison_parses_to_one_literal(value: str) -> None:
    parser = pytest.importorskip("milvus_lite.search.filter")
    ast = parser.parse_expr(compile_filters(_mf(_f("doc", value))))
    assert type(ast).__name__ == "And" and len(ast.operands) == 2
    guard, comparison = ast.operands
    assert type(guard).__name__ == "IsNullOp" and guard.negate and guard.field.name == "doc"
    assert type(comparison).__name__ == "CmpOp" and comparison.op == "=="
    assert type(comparison.left).__name__ == "FieldRef" and comparison.left.name == "doc"
    assert type(comparison.right).__name__ == "StringLit" and comparison.right.value == value


def test_escape_string_examples_and_errors() -> None:
    assert escape_string("a.pdf") == '"a.pdf"'
    assert escape_string('a"b') == '"a\\"b"'
    assert escape_string("back\\slash") == '"back\\\\slash"'
    assert escape_string("l1\nl2\r\tx") == '"l1\\nl2\\r\\tx"'
    assert escape_string("it's 😀 \x00") == '"it\'s 😀 \x00"'
    with pytest.raises(TypeError):
        escape_string(3)  # type: ignore[arg-type]
    with pytest.raises(FilterError, match="65,535"):
        escape_string("x" * (MAX_STRING_BYTES + 1))
    with pytest.raises(FilterError, match="surrogate"):
        escape_string("\udfff")


# ---------------------------------------------------------------------------------------------
# Keys and types
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "nope",
        'doc == "a.pdf" or 1',
        "doc or 1==1",
        "doc ",
        "doc\n",
        "$meta",
        '$meta["doc"]',
        "Doc",
        "text",
        "id",
        "_node_content",
        "",
        "in",
    ],
)
def test_unknown_or_malformed_key_is_rejected(key: str) -> None:
    with pytest.raises(FilterError, match="allowed keys: chunk_id, doc, doc_id"):
        compile_filters(_mf(_f(key, "a.pdf")))


@pytest.mark.parametrize(
    ("key", "value", "operator", "message"),
    [
        ("page", "3", FilterOperator.EQ, "int\\(\\)"),
        ("page", True, FilterOperator.EQ, "bool"),
        ("page", float("nan"), FilterOperator.EQ, "non-finite"),
        ("page", float("inf"), FilterOperator.GT, "non-finite"),
        ("page", -float("inf"), FilterOperator.LT, "non-finite"),
        ("page", 2**63, FilterOperator.EQ, "int64"),
        ("page", -(2**63), FilterOperator.EQ, "int64"),
        ("page", 1e300, FilterOperator.EQ, "int64"),
        ("page", ["1"], FilterOperator.IN, "expects a number"),
        ("page", [1, None], FilterOperator.IN, "expects a number"),
        ("page", 1, FilterOperator.IN, "pass a list"),
        ("page", None, FilterOperator.GTE, "value None"),
        ("doc", None, FilterOperator.EQ, "value None"),
        ("doc", None, FilterOperator.NE, "value None"),
        ("doc", None, FilterOperator.IN, "value None"),
        ("doc", 7, FilterOperator.EQ, "expects a str"),
        ("doc", b"a.pdf", FilterOperator.EQ, "expects a str"),
        ("doc", ["a.pdf"], FilterOperator.EQ, "expects a str"),
        ("doc", "a.pdf", FilterOperator.IN, "pass a list"),
        ("doc", ("a.pdf", 3), FilterOperator.IN, "expects a str"),
        ("doc", "a.pdf", FilterOperator.TEXT_MATCH_INSENSITIVE, "case-sensitive"),
        ("doc", "a.pdf", FilterOperator.CONTAINS, "array metadata"),
        ("doc", ["a.pdf"], FilterOperator.ANY, "array metadata"),
        ("page", "1", FilterOperator.TEXT_MATCH, "str fields"),
        ("doc", 3, FilterOperator.TEXT_MATCH, "substring as a str"),
        ("tags", "x", FilterOperator.EQ, "CONTAINS, ANY or ALL"),
        ("tags", ["x"], FilterOperator.IN, "ANY"),
        ("tags", [], FilterOperator.ALL, "empty list"),
        ("tags", 3, FilterOperator.CONTAINS, "expects a str"),
        ("doc", "a.pdf", "~=", "unknown operator"),
    ],
)
def test_wrongly_typed_value_is_rejected_with_a_clear_message(
    key: str, value: Any, operator: Any, message: str
) -> None:
    with pytest.raises(FilterError, match=message) as info:
        compile_filters(_mf(_f(key, value, operator)), TEST_FIELDS)
    assert repr(key) in str(info.value)


def test_none_value_message_names_key_and_alternative() -> None:
    with pytest.raises(FilterError) as info:
        compile_filters(MetadataFilters(filters=[MetadataFilter(key="page", value=None)]))
    message = str(info.value)
    assert "'page'" in message and "None" in message and "IS_EMPTY" in message


@pytest.mark.parametrize(
    "allowed",
    [
        {"bad key": str},
        {"doc\n": str},
        {"in": str},
        {"LIKE": int},
        {"flag": bool},
        {"tags": list[bool]},
        {"tags": list},
        {"meta": dict},
    ],
    ids=repr,
)
def test_bad_allow_list_is_rejected(allowed: dict[str, Any]) -> None:
    with pytest.raises(FilterError):
        compile_filters(_mf(_f("doc", "a.pdf")), allowed)


# ---------------------------------------------------------------------------------------------
# Normal filters
# ---------------------------------------------------------------------------------------------

NORMAL_CASES: dict[str, MetadataFilters] = {
    "page_range": _mf(_f("page", 2, FilterOperator.GTE), _f("page", 4, FilterOperator.LTE)),
    "page_empty_range": _mf(_f("page", 2, FilterOperator.GT), _f("page", 3, FilterOperator.LT)),
    "page_gt_float": _mf(_f("page", 2.5, FilterOperator.GT)),
    "page_eq_negative": _mf(_f("page", -1)),
    "page_in_floats": MetadataFilters(
        filters=[MetadataFilter(key="page", value=(1, 2), operator=FilterOperator.IN)]
    ),
    "modality_in": _mf(_f("modality", ["image", "table"], FilterOperator.IN)),
    "modality_nin": _mf(_f("modality", ["text"], FilterOperator.NIN)),
    "modality_ne": _mf(_f("modality", "text", FilterOperator.NE)),
    "not_single": _mf(_f("modality", "image"), condition="not"),
    "not_multi": _mf(_f("modality", "image"), _f("page", 0), condition="not"),
    "nested_or": _mf(
        _f("doc", ["a.pdf", "b.pdf"], FilterOperator.IN),
        _mf(_f("page", 0), _f("modality", "table"), condition="or"),
    ),
    "nested_not": _mf(
        _mf(_f("doc", "a.pdf"), _f("page", 0), condition="not"),
        _f("parser", "pdfplumber"),
    ),
    "deep_nesting": _mf(
        _mf(
            _mf(_f("page", 1), _f("page", 2), condition="or"),
            _f("modality", "text"),
            condition="not",
        ),
        _mf(_f("doc", "a.pdf", FilterOperator.NE), condition="and"),
        condition="or",
    ),
    "exact_match_filter": MetadataFilters(filters=[ExactMatchFilter(key="doc", value="b.pdf")]),
    "or_condition_none": MetadataFilters(filters=[_f("page", 1)], condition=None),
    "doc_is_empty": _mf(_f("doc", None, FilterOperator.IS_EMPTY)),
    "page_is_empty": _mf(_f("page", None, FilterOperator.IS_EMPTY)),
    "not_doc_is_empty": _mf(_f("doc", None, FilterOperator.IS_EMPTY), condition="not"),
    "doc_id_eq": _mf(_f("doc_id", "h3")),
    "doc_id_none": _mf(_f("doc_id", "None")),
    "chunk_id_in": _mf(_f("chunk_id", ["c1-0", "c2-1"], FilterOperator.IN)),
    "parser_ne": _mf(_f("parser", "docling", FilterOperator.NE)),
    "doc_lexicographic": _mf(_f("doc", "b", FilterOperator.GTE), _f("doc", "c", FilterOperator.LT)),
    "text_match_suffix": _mf(_f("doc", ".pdf", FilterOperator.TEXT_MATCH)),
    "text_match_quote": _mf(_f("doc", 'e"d', FilterOperator.TEXT_MATCH)),
    "text_match_newline": _mf(_f("doc", "l\nx", FilterOperator.TEXT_MATCH)),
    "in_empty": _mf(_f("doc", [], FilterOperator.IN)),
    "nin_empty": _mf(_f("doc", [], FilterOperator.NIN)),
    "score_gte": _mf(_f("score", 2.5, FilterOperator.GTE), _f("score", 4, FilterOperator.LTE)),
    "tags_contains": _mf(_f("tags", "y", FilterOperator.CONTAINS)),
    "tags_any": _mf(_f("tags", ["y", "z"], FilterOperator.ANY)),
    "tags_any_empty": _mf(_f("tags", [], FilterOperator.ANY)),
    "tags_all": _mf(_f("tags", ["x", "y"], FilterOperator.ALL)),
    "tags_is_empty": _mf(_f("tags", None, FilterOperator.IS_EMPTY)),
    "tags_contains_and_text_match": _mf(
        _f("tags", "x", FilterOperator.CONTAINS), _f("doc", "pdf", FilterOperator.TEXT_MATCH)
    ),
}


@pytest.mark.parametrize("name", sorted(NORMAL_CASES))
def test_normal_filters_match_reference_semantics(
    corpus: tuple[MilvusVectorStore, dict], name: str
) -> None:
    store, stored = corpus
    filters = NORMAL_CASES[name]
    assert _search(store, compile_filters(filters, TEST_FIELDS)) == _expected(filters, stored)


def _is_flat(filters: MetadataFilters) -> bool:
    return all(isinstance(member, MetadataFilter) for member in filters.filters)


@pytest.mark.parametrize("name", sorted(n for n, f in NORMAL_CASES.items() if _is_flat(f)))
def test_flat_filters_agree_with_llama_index_core(
    corpus: tuple[MilvusVectorStore, dict], name: str
) -> None:
    """Same node set as LlamaIndex core's in-memory filter function (SimpleVectorStore)."""
    store, stored = corpus
    filters = NORMAL_CASES[name]
    matches = build_metadata_filter_fn(lambda node_id: stored[node_id], filters)
    expected = {node_id for node_id in stored if matches(node_id)}
    assert _search(store, compile_filters(filters, TEST_FIELDS)) == expected


def test_normal_filters_spot_checks(corpus: tuple[MilvusVectorStore, dict]) -> None:
    store, stored = corpus
    run = lambda name: _search(store, compile_filters(NORMAL_CASES[name], TEST_FIELDS))  # noqa: E731
    assert {stored[i]["page"] for i in run("page_range")} == {2, 3, 4}
    assert run("page_empty_range") == set()
    assert run("in_empty") == set()
    assert run("nin_empty") == set(stored)
    assert run("doc_is_empty") == {ORPHAN_ID, "n15-0", "n15-1"}
    assert run("doc_id_eq") == {"n3-0", "n3-1"}
    assert run("doc_id_none") == {ORPHAN_ID}
    assert run("exact_match_filter") == {"n1-0", "n1-1"}
    assert run("not_single") == {i for i, row in stored.items() if row.get("modality") != "image"}


def test_not_on_a_single_filter_is_honoured() -> None:
    expr = compile_filters(_mf(_f("modality", "image"), condition="not"))
    assert expr == 'not (modality is not null and modality == "image")'
    expr = compile_filters(_mf(_f("page", 1), _f("doc", "a", FilterOperator.NE), condition="not"))
    assert expr == 'not ((page is not null and page == 1) or (doc is null or doc != "a"))'


# ---------------------------------------------------------------------------------------------
# Structure, extra expressions and the store's string_expr
# ---------------------------------------------------------------------------------------------


def test_no_filters_compile_to_empty_expression() -> None:
    assert compile_filters(None) == ""
    assert compile_filters(MetadataFilters(filters=[])) == ""
    assert compile_filters(MetadataFilters(filters=[]), extra=["", "  "]) == ""
    assert compile_filters(None, extra=["page == 1"]) == "page == 1"


def test_extra_is_anded_and_parenthesised(corpus: tuple[MilvusVectorStore, dict]) -> None:
    store, stored = corpus
    expr = compile_filters(
        _mf(_f("modality", "text")), extra=["page == 1 or page == 2", 'doc != ")"']
    )
    assert expr == (
        '(modality is not null and modality == "text") and (page == 1 or page == 2) '
        'and (doc != ")")'
    )
    expected = {
        i
        for i, row in stored.items()
        if row.get("modality") == "text" and row.get("page") in (1, 2) and row.get("doc") != ")"
    }
    assert _search(store, expr) == expected


@pytest.mark.parametrize(
    "extra", ["page == 1) or (true", "(page == 1", 'doc == "unterminated', "doc == 'x"]
)
def test_unbalanced_extra_is_rejected(extra: str) -> None:
    with pytest.raises(FilterError, match="extra\\[0\\]"):
        compile_filters(_mf(_f("page", 1)), extra=[extra])


def test_extra_must_be_a_sequence_not_a_bare_string() -> None:
    with pytest.raises(FilterError, match="wrap it in a list"):
        compile_filters(_mf(_f("page", 1)), extra="page == 2")  # type: ignore[arg-type]
    with pytest.raises(FilterError, match="extra\\[0\\] must be a str"):
        compile_filters(None, extra=[3])  # type: ignore[list-item]


def test_empty_nested_group_and_runaway_nesting_are_rejected() -> None:
    with pytest.raises(FilterError, match="empty"):
        compile_filters(_mf(_f("page", 1), MetadataFilters(filters=[]), condition="or"))
    group: MetadataFilters = _mf(_f("page", 1))
    for _ in range(40):
        group = _mf(group, _f("page", 2), condition="or")
    with pytest.raises(FilterError, match="nested"):
        compile_filters(group)


def test_unknown_condition_and_objects_are_rejected() -> None:
    with pytest.raises(FilterError, match="condition"):
        compile_filters(MetadataFilters.model_construct(filters=[_f("page", 1)], condition="xor"))
    with pytest.raises(FilterError, match="Unsupported filter object"):
        compile_filters(MetadataFilters.model_construct(filters=[{"key": "page", "value": 1}]))
    with pytest.raises(FilterError, match="MetadataFilters or None"):
        compile_filters(_f("page", 1))  # type: ignore[arg-type]


def test_raw_pymilvus_search_and_query_accept_the_expression(
    corpus: tuple[MilvusVectorStore, dict],
) -> None:
    store, stored = corpus
    filters = NORMAL_CASES["nested_or"]
    expr = compile_filters(filters)
    expected = _expected(filters, stored)
    hits = store.client.search(
        collection_name=store.collection_name,
        data=[[1.0] + [0.0] * (DIM - 1)],
        filter=expr,
        limit=TOP_K,
        output_fields=["doc"],
    )
    assert {hit["id"] for hit in hits[0]} == expected
    rows = store.client.query(store.collection_name, filter=expr, output_fields=["doc"])
    assert {row["id"] for row in rows} == expected


def test_store_ignores_string_expr_when_doc_ids_are_set(
    corpus: tuple[MilvusVectorStore, dict], caplog: pytest.LogCaptureFixture
) -> None:
    """Pins the documented pitfall: with doc_ids the store drops string_expr (wider results)."""
    store, _ = corpus
    query = VectorStoreQuery(
        query_embedding=[1.0] + [0.0] * (DIM - 1), similarity_top_k=TOP_K, doc_ids=["h0"]
    )
    with caplog.at_level(logging.WARNING):
        ids = set(store.query(query, string_expr=compile_filters(_mf(_f("page", 5)))).ids)
    assert ids == {"n0-0", "n0-1"}  # page == 5 was not applied
    assert "string_expr" in caplog.text
