r"""Safe compiler from LlamaIndex ``MetadataFilters`` to a Milvus boolean filter expression.

Milvus Lite has no filter templates (``filter_params``), so filter values have to be written into
the expression string. The Milvus store's own ``MetadataFilters`` translation
(``llama_index.vector_stores.milvus.utils.parse_standard_filters``) does that unsafely: strings
are interpolated without escaping backslashes, a ``NOT`` on a single filter is dropped and a
``None`` value silently removes the filter (an unfiltered search). This module replaces it: every
key is checked against an allow-list, every value against the key's type, and every string is
written as a literal that Milvus decodes back to exactly the input, so a user-supplied string can
never widen a result set.

Example:
    >>> from llama_index.core.vector_stores.types import (
    ...     FilterCondition, FilterOperator, MetadataFilter, MetadataFilters)
    >>> print(compile_filters(MetadataFilters(filters=[
    ...     MetadataFilter(key="doc", value='x" or doc != "'),
    ...     MetadataFilter(key="page", value=2, operator=FilterOperator.GTE),
    ... ])))
    (doc is not null and doc == "x\" or doc != \"") and (page is not null and page >= 2)
    >>> print(compile_filters(MetadataFilters(
    ...     filters=[MetadataFilter(key="modality", value="image")],
    ...     condition=FilterCondition.NOT)))
    not (modality is not null and modality == "image")

Passing the expression to Milvus:
    * ``MilvusVectorStore.query`` / ``aquery``: keyword ``string_expr``, e.g.
      ``store.query(VectorStoreQuery(query_embedding=v, similarity_top_k=k), string_expr=expr)``;
      through a retriever:
      ``VectorIndexRetriever(index, vector_store_kwargs={"string_expr": expr})``.
      **The store silently ignores** ``string_expr`` (it only logs a warning) as soon as the
      query carries ``filters``, ``doc_ids`` or ``node_ids``, or ``milvus_scalar_filters`` is
      passed. Leave all of those unset and express doc or node restrictions through this
      compiler (``doc_id``, ``chunk_id``) or ``extra``; otherwise the restriction is lost.
    * Raw pymilvus: ``MilvusClient.search(collection_name, data=[v], filter=expr, limit=k)``,
      ``MilvusClient.query(collection_name, filter=expr)``, the same ``filter=`` keyword on
      ``AsyncMilvusClient``, and ``AnnSearchRequest(..., expr=expr)`` for ``hybrid_search``.
    * An empty string means "no filter": :func:`compile_filters` returns ``""`` only when
      neither filters nor ``extra`` expressions were given.

How keys are addressed:
    ``MilvusVectorStore`` creates its collection with ``enable_dynamic_field=True`` and writes
    each node as ``node_to_metadata_dict(node)`` plus ``id``, ``text`` and ``embedding``: every
    metadata key (``doc``, ``page``, ``modality``, ...) becomes a top-level dynamic field, so a
    bare identifier (``doc == "a.pdf"``, the same as ``$meta["doc"] == "a.pdf"``) addresses it.
    Bare identifiers also address schema fields, which ``$meta[...]`` would not: ``doc_id`` is a
    schema VARCHAR field that the store fills with ``node.ref_doc_id`` (the ``SOURCE``
    relationship, or the string ``"None"``), overwriting any ``doc_id`` metadata key. Keys must
    match ``^[A-Za-z_][A-Za-z0-9_]*$`` and must not be an expression keyword (``and``, ``in``,
    ``like``, ...), which the Milvus grammar could not read as a field name.

How string literals are written (measured against milvus-lite 3.2.2, whose filter parser is the
pure-Python ``milvus_lite.search.filter``):
    * Inside ``"..."`` the parser accepts exactly six escapes: ``\"``, ``\'``, ``\\``, ``\n``,
      ``\r``, ``\t``. Any other escape (``\u``, ``\U``, ``\x``, octal, ``\a``, ``\?``, ``\%``,
      ``\_``) is a parse error, and a raw CR or LF ends the literal with an error. Every other
      code point may appear raw, including NUL, other control characters, U+2028 and emoji;
      ``'`` is literal inside ``"..."``.
    * :func:`escape_string` therefore writes ``\`` as ``\\``, ``"`` as ``\"``, LF, CR and TAB as
      ``\n``, ``\r``, ``\t``, and everything else raw. Those escapes are also valid for the Milvus
      server's parser (ANTLR ``Plan.g4`` plus Go ``strconv.Unquote``). Decoding is the exact
      inverse of encoding: the output holds no unescaped ``"``, no lone ``\`` and no raw line
      break, so the literal ends at the closing quote written here and decodes to the input.
    * Strings that are not valid UTF-8 (lone surrogates) cannot travel over gRPC and are
      rejected, as are strings over 65,535 UTF-8 bytes (the VARCHAR cap: no stored value can be
      that long).

Typing and semantics decisions:
    * ``int`` fields accept ``int`` and finite ``float`` values (integral floats are written as
      ints: pydantic may turn ``(1, 2)`` into ``[1.0, 2.0]``); ``float`` fields accept ``int``
      and finite ``float``. ``bool``, NaN, infinities, integers outside int64 and numeric strings
      are rejected: convert ``"3"`` with ``int()`` yourself, the compiler never guesses.
    * ``str`` fields accept ``str`` only; ``<``, ``>`` and friends compare lexicographically.
    * Array fields are declared as ``list[str]``, ``list[int]`` or ``list[float]`` in
      ``allowed`` and support ``CONTAINS`` (``json_contains``), ``ANY`` (``json_contains_any``),
      ``ALL`` (``json_contains_all``) and ``IS_EMPTY``. ``ALL`` with an empty list is rejected
      (it would match everything); ``ANY`` with an empty list matches nothing.
    * ``None`` as a value is a :class:`FilterError`, never an unfiltered search. ``IS_EMPTY``
      matches missing values: ``key is null``, plus ``key == ""`` for strings and
      ``array_length(key) == 0`` for arrays; on Milvus Lite a missing dynamic key counts as null.
    * ``IN []`` matches nothing (the literal reading); ``NIN []`` excludes nothing.
    * ``TEXT_MATCH`` is a case-sensitive substring match (the semantics of LlamaIndex's
      ``SimpleVectorStore``), compiled to ``key like "%needle%"``. Needles containing ``%``,
      ``_`` or ``\`` are rejected: Milvus Lite honours ``\%``/``\_`` in patterns only on its Arrow
      evaluation path and treats the backslash literally on its Python fallback path (taken for
      mixed-type data or array functions), and Milvus servers have not always supported escapes
      in ``like``, so no pattern matches those needles literally everywhere. Empty needles are
      rejected too (they would match every string). ``TEXT_MATCH_INSENSITIVE`` is rejected:
      Milvus has no case-insensitive ``like``.
    * Conditions: ``AND``, ``OR`` and ``NOT``; ``NOT`` means "none of the filters match"
      (LlamaIndex core semantics), compiled to ``not ((f1) or (f2) ...)``, and is honoured on a
      single filter. Nested ``MetadataFilters`` are parenthesised; an empty nested group is
      rejected because its meaning (all or nothing) is ambiguous. An empty top-level group means
      no filter.
    * Missing keys follow LlamaIndex core (``SimpleVectorStore``): a node that lacks the key (or
      holds null) fails ``EQ``, ``GT``..., ``IN``, ``TEXT_MATCH``, ``CONTAINS``, ``ANY`` and
      ``ALL`` and passes ``NE`` and ``NIN``; ``NOT`` is the plain complement. Every leaf carries
      an explicit guard (``key is not null and ...`` or ``key is null or ...``) because Milvus
      Lite alone is inconsistent here: ``==``, ``!=``, ``>`` and ``like`` treat a missing key as
      null (so ``not (doc == "a")`` drops nodes without ``doc``) while ``in``, ``not in`` and
      ``json_contains`` treat it as false (so ``doc not in [...]`` keeps them). With the guards
      every leaf is true or false, whatever evaluation path Lite takes. On a Milvus server where
      ``is null`` cannot see a missing dynamic key, the guards become unknown and such nodes are
      dropped: narrower, never wider.
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args, get_origin

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llama_index_mmrag.stores.literals import MAX_STRING_BYTES, FilterError, escape_string
from llama_index_mmrag.stores.literals import STRING_ESCAPES as _STRING_ESCAPES
from llama_index_mmrag.stores.literals import check_string as _check_string
from llama_index_mmrag.stores.literals import show_value as _show

__all__ = [
    "FILTERABLE_FIELDS",
    "MAX_NESTING_DEPTH",
    "MAX_STRING_BYTES",
    "FieldType",
    "FilterError",
    "compile_filters",
    "escape_string",
]

FieldType = type | types.GenericAlias
"""What an allow-list maps a key to: ``str``, ``int``, ``float`` or ``list[str|int|float]``."""

FILTERABLE_FIELDS: dict[str, type] = {
    "doc": str,
    "doc_id": str,
    "modality": str,
    "page": int,
    "page_label": str,
    "parser": str,
    "chunk_id": str,
}
"""Default allow-list: the provenance keys every node of this project carries."""

MAX_NESTING_DEPTH = 32
"""Deepest nesting of ``MetadataFilters`` accepted (guards the recursive compilers)."""

_INT64_MAX = 2**63 - 1
_INT64_MIN = -(2**63) + 1  # -(2**63) is written as unary minus on 2**63, which overflows.

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Words the Milvus Lite tokenizer or the server's Plan.g4 lexer reads as keywords or function names
# (compared case-insensitively): such a key would not parse as a field reference.
_RESERVED_KEYS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "like",
        "is",
        "null",
        "exists",
        "iso",
        "interval",
        "true",
        "false",
        "meta",
        "text_match",
        "phrase_match",
        "random_sample",
        "json_contains",
        "json_contains_all",
        "json_contains_any",
        "array_contains",
        "array_contains_all",
        "array_contains_any",
        "array_length",
        "json_length",
    }
)

_LIKE_SPECIALS = ("%", "_", "\\")

_COMPARISONS: dict[FilterOperator, str] = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
}


@dataclass(frozen=True)
class _Field:
    """A resolved allow-list entry."""

    key: str
    scalar: Literal["str", "int", "float"]
    is_list: bool

    @property
    def label(self) -> str:
        return f"list[{self.scalar}]" if self.is_list else self.scalar


def compile_filters(
    filters: MetadataFilters | None,
    allowed: Mapping[str, FieldType] = FILTERABLE_FIELDS,
    *,
    extra: Sequence[str] = (),
) -> str:
    """Compile LlamaIndex metadata filters into a safe Milvus boolean expression.

    Args:
        filters: The filters to compile (``MetadataFilter``, ``ExactMatchFilter`` and nested
            ``MetadataFilters`` with ``AND``/``OR``/``NOT`` conditions); ``None`` or an empty group
            means no filter.
        allowed: Allow-list mapping each filterable key to its type: ``str``, ``int``, ``float``,
            or ``list[str]``/``list[int]``/``list[float]`` for array metadata. Defaults to
            :data:`FILTERABLE_FIELDS`.
        extra: Already-compiled, trusted expressions to AND in (e.g. a tenant restriction). Each
            is parenthesised and must have balanced parentheses and closed string literals; blank
            strings are skipped.

    Returns:
        The expression, with every part parenthesised when there is more than one, or ``""`` when
        there is nothing to filter on. Pass it as ``string_expr=`` to ``MilvusVectorStore.query``
        or as ``filter=`` to pymilvus.

    Raises:
        FilterError: An unknown or malformed key, a value of the wrong type, ``None`` outside
            ``IS_EMPTY``, an unsupported operator, an empty nested group or a malformed ``extra``.

    Example:
        >>> compile_filters(MetadataFilters(filters=[
        ...     MetadataFilter(key="doc", value=["a.pdf"], operator=FilterOperator.NIN),
        ... ]), extra=['modality == "table"'])
        '(doc is null or doc not in ["a.pdf"]) and (modality == "table")'
        >>> compile_filters(MetadataFilters(filters=[
        ...     MetadataFilter(key="page", value=0),
        ...     MetadataFilter(key="page", value=1),
        ... ], condition=FilterCondition.OR))
        '(page is not null and page == 0) or (page is not null and page == 1)'
    """
    fields = _resolve_allowed(allowed)
    parts: list[str] = []
    if filters is not None:
        if not isinstance(filters, MetadataFilters):
            raise FilterError(
                f"compile_filters expects MetadataFilters or None, got {type(filters).__name__}; "
                "wrap single filters as MetadataFilters(filters=[...])."
            )
        if filters.filters:
            parts.append(_compile_group(filters, fields, depth=0))
    if isinstance(extra, str):
        raise FilterError(
            f"extra must be a sequence of expressions, got the str {_show(extra)}; "
            "wrap it in a list: extra=[expr]."
        )
    for index, expression in enumerate(extra):
        if not isinstance(expression, str):
            raise FilterError(
                f"extra[{index}] must be a str expression, got {type(expression).__name__}."
            )
        if not expression.strip():
            continue
        _check_balanced(expression, index)
        parts.append(expression.strip())
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0]
    return " and ".join(f"({part})" for part in parts)


# ---------------------------------------------------------------------------------------------
# Allow-list
# ---------------------------------------------------------------------------------------------


def _resolve_allowed(allowed: Mapping[str, FieldType]) -> dict[str, _Field]:
    if not isinstance(allowed, Mapping):
        raise FilterError(
            f"allowed must map keys to types, got {type(allowed).__name__}; "
            "pass e.g. {'doc': str, 'page': int}."
        )
    fields: dict[str, _Field] = {}
    for key, field_type in allowed.items():
        _check_key_syntax(key, where="Allow-listed key")
        is_list = get_origin(field_type) is list
        args = get_args(field_type) if is_list else (field_type,)
        scalar = _scalar_name(args[0] if len(args) == 1 else None)
        if scalar is None:
            expected = "list[str], list[int] or list[float]" if is_list else (
                "str, int, float or list[str]/list[int]/list[float]"
            )
            raise FilterError(f"Allow-listed key {key!r} has unsupported type {field_type!r}; use {expected}.")
        fields[key] = _Field(key, scalar, is_list=is_list)
    return fields


def _scalar_name(field_type: Any) -> Literal["str", "int", "float"] | None:
    if field_type is str:
        return "str"
    if field_type is int:
        return "int"
    if field_type is float:
        return "float"
    return None


def _check_key_syntax(key: Any, *, where: str) -> None:
    if not isinstance(key, str) or _KEY_RE.fullmatch(key) is None:
        raise FilterError(
            f"{where} {_show(key)} is not a plain identifier; keys must match "
            "^[A-Za-z_][A-Za-z0-9_]*$."
        )
    if key.lower() in _RESERVED_KEYS:
        raise FilterError(
            f"{where} {key!r} is a Milvus expression keyword and cannot be used as a field name; "
            "rename the metadata key."
        )


def _lookup(key: Any, fields: Mapping[str, _Field]) -> _Field:
    if isinstance(key, str) and key in fields:
        return fields[key]
    raise FilterError(
        f"Filter key {_show(key)} is not filterable; allowed keys: {', '.join(sorted(fields))}. "
        "Add it to the allow-list (allowed=...) if nodes carry it."
    )


# ---------------------------------------------------------------------------------------------
# Groups and single filters
# ---------------------------------------------------------------------------------------------


def _compile_group(group: MetadataFilters, fields: Mapping[str, _Field], *, depth: int) -> str:
    if depth >= MAX_NESTING_DEPTH:
        raise FilterError(
            f"MetadataFilters are nested more than {MAX_NESTING_DEPTH} levels deep; flatten them."
        )
    condition = _condition(group.condition)
    members = list(group.filters or [])
    compiled: list[str] = []
    for member in members:
        if isinstance(member, MetadataFilters):
            if not member.filters:
                raise FilterError(
                    "A nested MetadataFilters group is empty; its meaning (match all or none) "
                    "is ambiguous. Remove it."
                )
            compiled.append(_compile_group(member, fields, depth=depth + 1))
        elif isinstance(member, MetadataFilter):  # ExactMatchFilter is an alias of it
            compiled.append(_compile_filter(member, fields))
        else:
            raise FilterError(
                f"Unsupported filter object {type(member).__name__}: {_show(member)}; use "
                "MetadataFilter or MetadataFilters."
            )
    if condition is FilterCondition.NOT:
        if len(compiled) == 1:
            return f"not ({compiled[0]})"
        return "not (" + " or ".join(f"({part})" for part in compiled) + ")"
    if len(compiled) == 1:
        return compiled[0]
    joiner = " and " if condition is FilterCondition.AND else " or "
    return joiner.join(f"({part})" for part in compiled)


def _condition(condition: Any) -> FilterCondition:
    if condition is None:
        return FilterCondition.AND
    try:
        return FilterCondition(condition)
    except ValueError:
        raise FilterError(
            f"Unknown filter condition {_show(condition)}; use FilterCondition.AND, OR or NOT."
        ) from None


def _operator(operator: Any, key: str) -> FilterOperator:
    try:
        return FilterOperator(operator)
    except ValueError:
        raise FilterError(
            f"Filter on {key!r} has unknown operator {_show(operator)}; use a FilterOperator."
        ) from None


def _compile_filter(item: MetadataFilter, fields: Mapping[str, _Field]) -> str:
    field = _lookup(item.key, fields)
    key = field.key
    operator = _operator(getattr(item, "operator", FilterOperator.EQ), key)
    value = item.value

    if operator is FilterOperator.IS_EMPTY:
        if field.is_list:
            return f"{key} is null or array_length({key}) == 0"
        if field.scalar == "str":
            return f'{key} is null or {key} == ""'
        return f"{key} is null"

    if value is None:
        raise FilterError(
            f"Filter on {key!r} has value None; a None value must never turn into an "
            "unfiltered search. Use FilterOperator.IS_EMPTY to match nodes without a value, or "
            "drop the filter."
        )

    if operator in (FilterOperator.NE, FilterOperator.NIN):
        # Nodes without the key pass a negative test (LlamaIndex core semantics).
        return f"{key} is null or {_compile_test(field, operator, value)}"
    # Nodes without the key fail a positive test.
    return f"{key} is not null and {_compile_test(field, operator, value)}"


def _compile_test(field: _Field, operator: FilterOperator, value: Any) -> str:
    """Compile the comparison itself, without the null guard."""
    key = field.key
    if operator in _COMPARISONS:
        if field.is_list:
            raise FilterError(
                f"Filter on {key!r} ({field.label}) cannot use {operator.name}; use CONTAINS, "
                "ANY or ALL for array fields."
            )
        return f"{key} {_COMPARISONS[operator]} {_scalar_literal(field, value)}"

    if operator in (FilterOperator.IN, FilterOperator.NIN):
        if field.is_list:
            raise FilterError(
                f"Filter on {key!r} ({field.label}) cannot use {operator.name}; use ANY (contains "
                "any of) or ALL (contains all of) for array fields."
            )
        values = _list_literal(field, value, operator)
        return f"{key} {'in' if operator is FilterOperator.IN else 'not in'} {values}"

    if operator is FilterOperator.TEXT_MATCH:
        return _compile_text_match(field, value)

    if operator is FilterOperator.TEXT_MATCH_INSENSITIVE:
        raise FilterError(
            f"Filter on {key!r} uses TEXT_MATCH_INSENSITIVE, which Milvus cannot evaluate (its "
            "'like' is case-sensitive); use TEXT_MATCH with the stored casing, or IN with the "
            "variants you expect."
        )

    if operator in (FilterOperator.CONTAINS, FilterOperator.ANY, FilterOperator.ALL):
        if not field.is_list:
            raise FilterError(
                f"Filter on {key!r} ({field.label}) cannot use {operator.name}, which applies to "
                "array metadata; use EQ/IN for exact values or TEXT_MATCH for substrings."
            )
        if operator is FilterOperator.CONTAINS:
            return f"json_contains({key}, {_scalar_literal(field, value)})"
        values = _list_literal(field, value, operator)
        if operator is FilterOperator.ALL:
            if values == "[]":
                raise FilterError(
                    f"Filter on {key!r} uses ALL with an empty list, which would match every "
                    "node; drop the filter if that is intended."
                )
            return f"json_contains_all({key}, {values})"
        return f"json_contains_any({key}, {values})"

    raise FilterError(  # pragma: no cover - every FilterOperator is handled above
        f"Filter on {key!r} uses unsupported operator {operator!r}."
    )


def _compile_text_match(field: _Field, value: Any) -> str:
    key = field.key
    if field.is_list or field.scalar != "str":
        raise FilterError(
            f"Filter on {key!r} ({field.label}) cannot use TEXT_MATCH; it applies to str fields."
        )
    if not isinstance(value, str):
        raise FilterError(
            f"Filter on {key!r} uses TEXT_MATCH with {_describe(value)}; pass the substring "
            "as a str."
        )
    if value == "":
        raise FilterError(
            f"Filter on {key!r} uses TEXT_MATCH with an empty string, which would match every "
            "value; drop the filter if that is intended."
        )
    bad = sorted({ch for ch in value if ch in _LIKE_SPECIALS})
    if bad:
        raise FilterError(
            f"Filter on {key!r} uses TEXT_MATCH with {_show(value)}, which contains "
            f"{', '.join(repr(ch) for ch in bad)}: Milvus 'like' cannot match those literally on "
            "every backend. Use EQ or IN with the exact value instead."
        )
    _check_string(value, where=f"Filter on {key!r}:")
    # The cap applies to the needle (a stored value may be that long), not to the pattern.
    return f'{key} like "%{value.translate(_STRING_ESCAPES)}%"'


# ---------------------------------------------------------------------------------------------
# Literals
# ---------------------------------------------------------------------------------------------


def _list_literal(field: _Field, value: Any, operator: FilterOperator) -> str:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise FilterError(
            f"Filter on {field.key!r} uses {operator.name} with {_describe(value)}; pass a list "
            f"of {field.scalar} values, e.g. [{_example(field)}]."
        )
    return "[" + ", ".join(_scalar_literal(field, element) for element in value) + "]"


def _scalar_literal(field: _Field, value: Any) -> str:
    key = field.key
    if field.scalar == "str":
        if not isinstance(value, str):
            raise FilterError(
                f"Filter on {key!r} expects a str, got {_describe(value)}; pass the value as a str."
            )
        _check_string(value, where=f"Filter on {key!r}:")
        return escape_string(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        hint = " Convert it with int() or float() first." if isinstance(value, str) else ""
        raise FilterError(
            f"Filter on {key!r} expects a number ({field.scalar}), got {_describe(value)}.{hint}"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FilterError(
                f"Filter on {key!r} has non-finite number {value!r}; pass a finite number."
            )
        if field.scalar == "int" and value.is_integer():
            value = int(value)
        else:
            return repr(value)
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise FilterError(
            f"Filter on {key!r} has integer {_show(value)} outside the int64 range Milvus stores."
        )
    return str(value)


def _check_balanced(expression: str, index: int) -> None:
    """Reject an ``extra`` expression that could escape its parentheses."""
    depth = 0
    quote: str | None = None
    position = 0
    while position < len(expression):
        char = expression[position]
        if quote is not None:
            if char == "\\":
                position += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                break
        position += 1
    if quote is not None or depth != 0:
        raise FilterError(
            f"extra[{index}] {_show(expression)} has unbalanced parentheses or an unterminated "
            "string literal; pass complete expressions (e.g. from compile_filters)."
        )


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {_show(value)}"


def _example(field: _Field) -> str:
    return {"str": '"a.pdf", "b.pdf"', "int": "1, 2", "float": "0.5, 1.5"}[field.scalar]
