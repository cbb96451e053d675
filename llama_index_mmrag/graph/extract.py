"""Build a LightRAG knowledge graph without an LLM.

In the spirit of GraphRAG's fast (LLM-free) indexing, every chunk is read by a small rule-based analyser:

- **named things**: runs of capitalised words ("Query Node", "Bank of America"), CamelCase and ALL-CAPS words
  ("LightRAG", "HNSW"), typed PERSON / ORGANIZATION / LOCATION / DATE / ACRONYM / PROPER_NOUN by cue words;
- **key phrases** (CONCEPT): RAKE-style runs of lower-case content words between stop words and punctuation
  ("vector database", "object storage"), plural-normalised on the head word;
- **years and quantities** (DATE, QUANTITY): "2024", "10 ms", "99.9%";
- **modal items**: a table, image or equation chunk becomes an entity of its own (TABLE / FIGURE / EQUATION,
  named after its caption), linked to its column headers (ATTRIBUTE), to what its caption names and to what
  its body contains.

Relationships are co-occurrences: two entities in one chunk get weight 1, plus 1 for every sentence (table
row) they share; a modal item's edge to a contained entity weighs its number of mentions, to a column header
or a caption entity 1. Entity names are case-folded with whitespace collapsed, so one thing seen in two chunks
or two documents is one node. Everything is deterministic: the same chunks give the same dict, byte for byte.

Two ways to load the result into LightRAG:

1. ``await rag.ainsert_custom_kg(build_custom_kg(chunks))``: LightRAG's own loader. Its chunk ids are
   ``make_chunk_id(content)`` of the bare text
   (:func:`llama_index_mmrag.schema.make_chunk_id`, not ours), every entity and relationship keeps ONE source chunk (the last
   declaration wins, across calls too) and nothing can be deleted later with LightRAG's API.
2. ``await ainsert_kg(rag, build_custom_kg(chunks))`` (:mod:`llama_index_mmrag.graph.kg_loader`): our loader over the same storages. Chunks are
   stored under OUR chunk ids (so graph answers and Milvus hits dedupe exactly), entities and relationships
   accumulate all their source chunks and documents (LightRAG's ``<SEP>`` convention, with its source-id
   limits), weights add up, and ``await adelete_kg(rag, build_custom_kg(same_chunks))`` removes exactly that
   contribution again. Prefer this one.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from lightrag.constants import GRAPH_FIELD_SEP
from lightrag.utils import compute_mdhash_id

from llama_index_mmrag.modalities import MODALITIES
from llama_index_mmrag.schema import strip_provenance
from llama_index_mmrag.schema.tables import is_separator_row

if TYPE_CHECKING:
    from lightrag import LightRAG

__all__ = [
    "ENTITY_TYPES",
    "FoundEntity",
    "GraphChunk",
    "TextAnalysis",
    "analyze_text",
    "build_custom_kg",
    "normalize_entity_name",
    "split_sentences",
]

ENTITY_TYPES: tuple[str, ...] = (
    "TABLE",
    "FIGURE",
    "EQUATION",
    "PERSON",
    "ORGANIZATION",
    "LOCATION",
    "DATE",
    "ATTRIBUTE",
    "ACRONYM",
    "PROPER_NOUN",
    "QUANTITY",
    "CONCEPT",
)
"""Entity types, strongest first: when one name is typed differently in two places the stronger type wins.
The item types of modalities registered later (:mod:`llama_index_mmrag.modalities`) rank before all of them."""

_TYPE_RANK = {name: rank for rank, name in enumerate(ENTITY_TYPES)}


def type_rank(entity_type: str) -> int | None:
    """An entity type's rank, 0 strongest (see :data:`ENTITY_TYPES`); ``None`` for a type this package does not make.

    Args:
        entity_type: An entity type, e.g. ``"TABLE"``.

    Example:
        >>> type_rank("TABLE") < type_rank("CONCEPT"), type_rank("SPACESHIP")
        (True, None)
    """
    rank = _TYPE_RANK.get(entity_type)
    if rank is None and any(m.entity_type == entity_type for m in MODALITIES.modal()):
        return -1
    return rank


def _stronger(a: str, b: str) -> bool:
    """Whether entity type ``a`` ranks strictly before ``b`` (unknown types rank last)."""
    ra, rb = type_rank(a), type_rank(b)
    last = len(ENTITY_TYPES)
    return (last if ra is None else ra) < (last if rb is None else rb)

_MAX_SNIPPET_CHARS = 200
_MAX_EVIDENCE_SENTENCES = 2
_MAX_CAPTION_CHARS = 80
_MAX_HEADER_CHARS = 60
_MAX_DESCRIPTION_FRAGMENTS = 8
_MAX_SENTENCE_EDGES = 8  # same-sentence relations kept per chunk
TEMPLATE_EDGE_KEYWORDS = frozenset({"co-occurrence", "contains", "column", "caption"})
"""Keywords of edges whose description is written from a template of the two names and the place ("A and B
are mentioned together in doc p. 3"): it says nothing the keywords and names do not, so it is not embedded."""

# --------------------------------------------------------------------------------------------------------------
# Word lists (built in: no NLTK data can be downloaded here)
# --------------------------------------------------------------------------------------------------------------

STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above across after afterwards again against all almost alone along already also although always am
    among amongst an and another any anyhow anyone anything anyway anywhere are around as at back be became
    because become becomes becoming been before beforehand behind being below beside besides between beyond
    both but by can cannot could did do does doing done down due during each either else elsewhere enough
    etc even ever every everyone everything everywhere except few for former formerly from further had has
    have having he hence her here hereafter hereby herein hereupon hers herself him himself his how however i
    ie if in indeed into is it its itself just last latter latterly least less lot lots many may me meanwhile
    might mine more moreover most mostly much must my myself namely neither never nevertheless next no nobody
    none noone nor not nothing now nowhere of off often on once one only onto or other others otherwise our
    ours ourselves out over own per perhaps please rather re same seem seemed seeming seems several she should
    since so some somehow someone something sometime sometimes somewhere still such than that the their theirs
    them themselves then thence there thereafter thereby therefore therein thereupon these they this those
    though through throughout thru thus to together too toward towards under until up upon us very via was we
    well were what whatever when whence whenever where whereafter whereas whereby wherein whereupon wherever
    whether which while whither who whoever whole whom whose why will with within without would yet you your
    yours yourself yourselves e.g i.e eg vs versus cf ok yes
    """.split()
)
"""Function words: they end phrases and never start a name."""

VERB_WORDS: frozenset[str] = frozenset(
    """
    accept accepts accepted add adds added allow allows allowed apply applies applied ask asks asked based begin
    begins began build builds built calls called came changes changed come comes compare compares compared
    consider considers considered consist consists consisted contain contains contained create creates created
    define defines defined describe describes described enable enables enabled ensure ensures ensured explain
    explains explained find finds found follow follows followed gave get gets got give gives given go goes gone
    got handle handles handled helps helped holds held include includes included keep keeps kept know knows
    known leads led let lets like likes liked listed looks looked made make makes mean means meant needs needed
    offers offered provide provides provided put puts read reads reach reaches reached receive receives received
    refer refers referred remain remains remained represent represents represented require requires required
    returns returned runs ran said say says see sees seen send sends sent show shows showed shown starts started
    stay stays stores stored supports supported take takes took taken tell tells told tend tends think thinks
    thought turns turned uses used using want wants wanted went works worked write writes wrote written
    """.split()
)
"""Common verb forms: without a part-of-speech tagger they are the main source of bad phrases."""

QUESTION_WORDS: frozenset[str] = frozenset(
    """
    what which who whom whose when where why how explain describe tell list show give find compare summarize
    summarise name mention define identify does do did is are was were can could should would will
    """.split()
)
"""Words that only shape a question; :mod:`keywords` drops them."""

GENERIC_NOUNS: frozenset[str] = frozenset(
    """
    thing things way ways example examples case cases part parts kind kinds type types number numbers lot
    time times use uses result results information data value values item items fact point points end side
    level levels form forms order section sections page pages chapter figure figures table tables note notes
    following new old good bad high low large small big different various same other first second third last
    many much more most less least able possible certain specific general main important new also based
    approach approaches method methods set sets problem problems issue issues question questions answer
    answers purpose purposes system systems process processes default defaults change changes run runs inside
    outside match matches billion billions million millions thousand thousands hundred hundreds dense sparse
    today yesterday tomorrow now ago fine yes
    """.split()
)
"""Nouns too generic to be an entity on their own (they still take part in longer phrases)."""

_ADJECTIVE_ENDINGS = ("able", "ible", "ful", "ous", "less", "ive")
_GENERIC_HEADERS = frozenset(
    "name names id ids no total sum avg average mean count description remarks remark notes comment comments "
    "unit units key keys label labels category amount".split()
)
_CONNECTORS = frozenset({"of", "for", "de", "du", "del", "della", "der", "van", "von", "la", "le", "&"})
_HONORIFICS = frozenset({"mr", "mrs", "ms", "dr", "prof", "professor", "sir", "dame", "madam", "mx"})
_ORG_WORDS = frozenset(
    """
    inc corp corporation ltd llc plc gmbh ag sa co company companies foundation university universities
    institute college lab labs laboratory laboratories group association agency ministry department bank
    council committee society school academy commission organization organisation bureau administration
    authority federation union party alliance consortium press partners holdings technologies systems
    software networks
    """.split()
)
_LOCATION_WORDS = frozenset(
    """
    city county province river mountain mountains island islands ocean sea lake valley bay desert kingdom
    republic region district street avenue road
    """.split()
)
_PLACES = frozenset(
    """
    africa america antarctica asia australia europe oceania argentina austria belgium brazil canada chile
    china colombia denmark egypt england finland france germany greece india indonesia iran iraq ireland israel
    italy japan kenya korea mexico netherlands nigeria norway pakistan peru poland portugal russia scotland
    singapore spain sweden switzerland taiwan thailand turkey ukraine vietnam wales beijing berlin boston
    chicago delhi dubai hangzhou london madrid moscow mumbai paris rome seattle shanghai shenzhen sydney tokyo
    toronto california texas york
    """.split()
)
_MONTHS = frozenset(
    """
    january february march april june july august september october november december jan feb mar apr jun jul
    aug sep sept oct nov dec
    """.split()
)
_UNITS = frozenset(
    """
    % percent ms msec millisecond milliseconds s sec secs second seconds min mins minute minutes h hr hrs hour
    hours day days week weeks month months year years b kb mb gb tb pb kib mib gib tib bit bits byte bytes
    kbps mbps gbps hz khz mhz ghz k m bn million millions billion billions trillion thousand thousands qps tps
    rps ops x times dim dims dimension dimensions vector vectors token tokens row rows core cores node nodes
    gpu gpus cpu cpus usd eur gbp rmb yuan dollars euros mm cm km kg g mg w kw mw v
    """.split()
)
_PLURAL_EXCEPTIONS = frozenset(
    """
    series species news kubernetes analysis basis axis thesis physics mathematics statistics economics
    ethics logistics diabetes lens chaos canvas alias atlas bias corpus status virus campus bonus census
    focus genus radius consensus apparatus
    """.split()
)

# --------------------------------------------------------------------------------------------------------------
# Public data types and ids
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphChunk:
    """One chunk to put in the knowledge graph.

    Args:
        chunk_id: Our chunk id, the same id the node has in Milvus.
        content: The chunk text LightRAG stores and returns (for a modal item, the text that stands for it).
        doc: The document's file name; LightRAG's ``file_path``.
        page: 0-based page number, or ``None`` when unknown.
        modality: ``"text"``, ``"image"``, ``"table"`` or ``"equation"``.
        captions: Caption (and footnote) lines of a modal item.
        headers: Column header cells of a table.
        entity_name: A modal item's entity as its describer named it (``entity_info``; the LLM path's graph
            names the item so); empty when it has none.
        entity_summary: That entity's summary.
        restates_page: A page image (``image_kind: page``): its text is a summary of its page's own text, which
            the page's other chunks bring to the graph, so it is kept as a chunk (its id matches its node's) but
            no entity or relation is read from it again.

    Example:
        >>> GraphChunk("report.pdf#3", "| Index | Recall |", doc="report.pdf", page=2, modality="table",
        ...            captions=("Table 2: Index types",), headers=("Index", "Recall")).modality
        'table'
    """

    chunk_id: str
    content: str
    doc: str
    page: int | None
    modality: str
    captions: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    entity_name: str = ""
    entity_summary: str = ""
    restates_page: bool = False

    def __post_init__(self) -> None:
        if not self.chunk_id:
            raise ValueError(f"GraphChunk of {self.doc!r} has an empty chunk_id: give every chunk its node id.")
        if self.modality not in MODALITIES:
            raise ValueError(
                f"GraphChunk {self.chunk_id!r} of {self.doc!r} has modality {self.modality!r}; "
                f"use one of {', '.join(MODALITIES)}."
            )


def normalize_entity_name(text: str) -> str:
    """Normalise an entity name: case-folded, whitespace collapsed, outer punctuation stripped.

    Args:
        text: A surface form, e.g. ``"  Query\\n Node "``.

    Returns:
        The node name, e.g. ``"query node"``; empty when nothing is left.

    Example:
        >>> normalize_entity_name("  The  Query\\nNode, ")
        'the query node'
    """
    return " ".join(text.casefold().split()).strip(" \t.,;:!?\"'()[]{}<>`*_-|/\\")


# --------------------------------------------------------------------------------------------------------------
# Text analysis
# --------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"([$€£¥]?\d+(?:[.,:]\d+)*%?[^\W_]*)|([^\W\d_][\w'’+#&./-]*)|([^\w\s])")
_INITIAL = re.compile(r"^[A-Z]\.$")
_YEAR = re.compile(r"^(1[89]\d\d|20\d\d)$")
_NUMBER = re.compile(r"^[$€£¥]?\d+(?:[.,]\d+)*%?$")
_GLUED_QUANTITY = re.compile(r"^([$€£¥]?\d+(?:[.,]\d+)*)([a-zA-Z]+)$")

_BASE_SCORE = {
    "PERSON": 3.0,
    "ORGANIZATION": 3.0,
    "LOCATION": 3.0,
    "PROPER_NOUN": 3.0,
    "ACRONYM": 2.5,
    "DATE": 1.5,
    "QUANTITY": 1.0,
}


class _Token:
    """A word, number or punctuation mark, with its case features computed once."""

    __slots__ = ("kind", "text", "fold", "is_caps", "is_camel", "is_title", "is_stop", "is_initial")

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind  # "word" | "num" | "punct"
        self.text = text
        self.fold = text.casefold()
        self.is_caps = text.isupper() and sum(1 for c in text if c.isalpha()) >= 2
        rest = text[1:]
        self.is_camel = not self.is_caps and rest != rest.lower()
        self.is_title = text[:1].isupper()
        self.is_stop = _stop_word(self)
        self.is_initial = kind == "word" and len(text) == 2 and _INITIAL.match(text) is not None


@dataclass
class _Mention:
    name: str
    entity_type: str
    score: float


@dataclass
class FoundEntity:
    """What one text says about one entity: its type, rank score, mentions, first position and sentences.

    Example:
        >>> analysis = analyze_text("Milvus stores vectors. Milvus Lite runs Milvus in one process.")
        >>> analysis.found["milvus"]
        FoundEntity(entity_type='PROPER_NOUN', score=3.0, count=2, first=0, sentences=[0, 1])
    """

    entity_type: str
    score: float
    count: int = 0
    first: int = 0
    sentences: list[int] = field(default_factory=list)


@dataclass
class TextAnalysis:
    """The result of :func:`analyze_text`: the text's sentences and its entities by normalised name.

    Example:
        >>> analysis = analyze_text("Milvus stores vectors. Milvus Lite runs Milvus in one process.")
        >>> len(analysis.sentences), analysis.top(2)
        (2, ['milvus', 'milvus lite'])
    """

    sentences: list[str]
    found: dict[str, FoundEntity]

    def top(self, limit: int, exclude: frozenset[str] = frozenset()) -> list[str]:
        """Return the ``limit`` best entity names, best first (score, then first position, then name)."""
        ranked = sorted(
            (item for item in self.found.items() if item[0] not in exclude),
            key=lambda item: (-(item[1].score + math.log1p(item[1].count - 1)), item[1].first, item[0]),
        )
        return [name for name, _ in ranked[:limit]]


_ABBREVIATIONS = frozenset(
    "dr mr mrs ms prof st jr sr inc ltd co corp no nos fig figs eq eqs vs etc e.g i.e al approx dept univ vol"
    .split()
)
_SENTENCE_END = re.compile(r"[.!?]+\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_LINE_BREAK = re.compile(r"\s*\n\s*")


def _split_line(line: str) -> list[str]:
    """Split one line at sentence ends, but not after an abbreviation ("Dr.", "Fig.") or an initial ("J.")."""
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        last = line[max(line.rfind(" ", start, match.start()) + 1, start) : match.start()]
        last = last.casefold().rstrip(".")
        if line[match.start()] == "." and (last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha())):
            continue
        parts.append(line[start : match.end()])
        start = match.end()
    parts.append(line[start:])
    return parts


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (and lines: a table row counts as one sentence), whitespace collapsed.

    Args:
        text: Any text.

    Returns:
        Non-empty sentences, table rule lines (``|---|``) dropped.

    Example:
        >>> split_sentences("Dr. Smith said Milvus scales. It uses etcd!\\n| a | b |\\n|---|---|")
        ['Dr. Smith said Milvus scales.', 'It uses etcd!', '| a | b |']
    """
    sentences: list[str] = []
    for line in _LINE_BREAK.split(text):
        for part in _split_line(line):
            sentence = " ".join(part.split())
            if sentence and not is_separator_row(sentence):
                sentences.append(sentence)
    return sentences


def _tokenize(sentence: str) -> list[_Token]:
    tokens: list[_Token] = []
    for number, word, punct in _TOKEN.findall(sentence):
        if number:
            tokens.append(_Token("num", number))
        elif word:
            if not (len(word) == 2 and _INITIAL.match(word)):
                word = word.rstrip(".'’/-&")
            if word:
                tokens.append(_Token("word", word))
        else:
            tokens.append(_Token("punct", punct))
    return tokens


def _stop_word(token: _Token) -> bool:
    fold = token.fold
    if token.is_caps and len(fold) > 3:
        return False
    return fold in STOP_WORDS or fold in VERB_WORDS or len(fold) == 1


def _is_stop(token: _Token) -> bool:
    return token.is_stop


def _is_capitalised(token: _Token, title_mode: bool) -> bool:
    if token.kind != "word" or _is_stop(token):
        return False
    if token.is_caps or token.is_camel:
        return True
    return token.is_title and not title_mode


def _is_initial(token: _Token) -> bool:
    """An initial of a person's name: "J." (the full stop is kept by the tokenizer)."""
    return token.is_initial


def _title_mode(tokens: list[_Token]) -> bool:
    """True for headline-case text ("How Milvus Stores Data"), where capitals say nothing."""
    words = [t for t in tokens if t.kind == "word" and not _is_stop(t) and t.text[:1].isalpha()]
    if len(words) < 3:
        return False
    return sum(1 for t in words if t.is_title) / len(words) >= 0.9


def _singular(word: str) -> str:
    if len(word) < 4 or word in _PLURAL_EXCEPTIONS or not word.isalpha():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "ches", "shes", "xes", "zzes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is", "ous")):
        return word[:-1]
    return word


def _name_type(words: list[_Token], previous: _Token | None) -> tuple[list[_Token], str]:
    """Type a capitalised span; drop a leading honorific."""
    folds = [w.fold for w in words]
    if folds[0] in _HONORIFICS and len(words) > 1:
        return words[1:], "PERSON"
    if previous is not None and previous.fold in _HONORIFICS:
        return words, "PERSON"
    if any(_is_initial(w) for w in words[:-1]) and words[-1].is_title and not words[-1].is_caps:
        return words, "PERSON"
    if all(f in _MONTHS for f in folds):
        return words, "DATE"
    if any(f in _ORG_WORDS for f in folds):
        return words, "ORGANIZATION"
    if any(f in _PLACES for f in folds) or (len(words) > 1 and folds[-1] in _LOCATION_WORDS):
        return words, "LOCATION"
    if len(words) == 1 and words[0].is_caps:
        return words, "ACRONYM"
    return words, "PROPER_NOUN"


def _span_end(tokens: list[_Token], start: int, title_mode: bool) -> int:
    """Index after the capitalised span starting at ``start`` (connectors allowed inside, 5 words at most)."""
    end = start + 1
    while end < len(tokens) and end - start < 5:
        token = tokens[end]
        if _is_capitalised(token, title_mode) or (_is_initial(token) and end + 1 < len(tokens)):
            end += 1
        elif (
            token.fold in _CONNECTORS
            and end + 1 < len(tokens)
            and _is_capitalised(tokens[end + 1], title_mode)
            and not tokens[end + 1].is_caps
        ):
            end += 2
        else:
            break
    return end


def _quantity(tokens: list[_Token], index: int) -> tuple[_Mention | None, int]:
    """A year or a number with a unit at ``index``; returns the mention and the index after it."""
    text = tokens[index].text
    if _YEAR.match(text):
        return _Mention(text, "DATE", _BASE_SCORE["DATE"]), index + 1
    if text.endswith("%") and _NUMBER.match(text):
        return _Mention(text, "QUANTITY", _BASE_SCORE["QUANTITY"]), index + 1
    glued = _GLUED_QUANTITY.match(text)
    if glued and glued.group(2).casefold() in _UNITS:
        name = f"{glued.group(1)} {glued.group(2).casefold()}"
        return _Mention(name, "QUANTITY", _BASE_SCORE["QUANTITY"]), index + 1
    following = tokens[index + 1] if index + 1 < len(tokens) else None
    if _NUMBER.match(text) and following is not None and following.fold in _UNITS:
        if following.kind in ("word", "punct"):
            sep = "" if following.text == "%" else " "
            return _Mention(f"{text}{sep}{following.fold}", "QUANTITY", _BASE_SCORE["QUANTITY"]), index + 2
    return None, index + 1


def _phrase(words: list[_Token]) -> _Mention | None:
    """A key phrase from a run of lower-case content words (the head noun comes last in English)."""
    while words and (words[0].fold.endswith("ly") and len(words[0].fold) > 4):
        words = words[1:]
    while words and len(words[-1].fold) > 4 and words[-1].fold.endswith(("ly", "ed")):
        words = words[:-1]
    if len(words) > 4:
        words = words[-3:]
    if not words:
        return None
    folds = [w.fold for w in words]
    folds[-1] = _singular(folds[-1])
    if len(folds) == 1:
        word = folds[0]
        if len(word) < 3 or word in GENERIC_NOUNS or not any(c.isalpha() for c in word):
            return None
        if word.endswith(_ADJECTIVE_ENDINGS) and word.isalpha():
            return None
        return _Mention(word, "CONCEPT", 1.0)
    return _Mention(" ".join(folds), "CONCEPT", 2.0)


_AUXILIARIES = frozenset({"do", "does", "did", "can", "could", "will", "would", "should", "is", "are", "was"})


def _looks_plural(fold: str) -> bool:
    return len(fold) > 3 and fold.endswith("s") and not fold.endswith(("ss", "us", "is")) and fold.isalpha()


@dataclass
class _Vocabulary:
    """What the whole text says about its words' case."""

    proper: set[str]  # written with a capital somewhere other than at the start of a sentence
    lower: set[str]  # written in lower case somewhere


def _vocabulary(tokenized: list[list[_Token]]) -> _Vocabulary:
    vocab = _Vocabulary(set(), set())
    for tokens in tokenized:
        words = [t for t in tokens if t.kind == "word"]
        for position, token in enumerate(words):
            if token.is_caps or token.is_camel or (position > 0 and token.is_title):
                vocab.proper.add(token.fold)
            elif token.text.islower():
                vocab.lower.add(token.fold)
    return vocab


class _SentenceReader:
    """Reads one tokenised sentence into mentions: names, quantities and key phrases, in order."""

    def __init__(self, tokens: list[_Token], vocab: _Vocabulary, question: bool) -> None:
        self.tokens = tokens
        self.vocab = vocab
        self.title_mode = _title_mode(tokens)
        self.first_word = next((i for i, t in enumerate(tokens) if t.kind == "word"), -1)
        asks = question or (bool(tokens) and tokens[-1].text == "?")
        self.drop_verb = asks and any(t.fold in _AUXILIARIES for t in tokens)
        self.mentions: list[_Mention] = []
        self.run: list[_Token] = []
        self.run_after_name = False
        self.last_was_name = False

    def read(self) -> list[_Mention]:
        index = 0
        while index < len(self.tokens):
            index = self._step(index)
        self._flush()
        return self.mentions

    def _step(self, index: int) -> int:
        token = self.tokens[index]
        if token.kind == "num":
            self._flush()
            mention, index = _quantity(self.tokens, index)
            self._emit(mention, name=False)
            return index
        if token.kind == "punct":
            self._flush()
            self.last_was_name = False
            return index + 1
        end = self._name_end(index)
        if end is not None:
            self._flush()
            return self._name(index, end)
        if _is_stop(token) or _is_initial(token):
            self._flush()
            self.last_was_name = False
            return index + 1
        if not self.run:
            self.run_after_name = self.last_was_name
        self.run.append(token)
        self.last_was_name = False
        return index + 1

    def _name_end(self, index: int) -> int | None:
        """End of the name starting at ``index``, or ``None`` when no name starts there."""
        token = self.tokens[index]
        following = self.tokens[index + 1] if index + 1 < len(self.tokens) else None
        if _is_initial(token):
            capital_next = following is not None and _is_capitalised(following, self.title_mode)
            return _span_end(self.tokens, index, self.title_mode) if capital_next else None
        if not _is_capitalised(token, self.title_mode):
            return None
        end = _span_end(self.tokens, index, self.title_mode)
        if index != self.first_word or end - index > 1 or token.is_caps or token.is_camel:
            return end
        return end if self._initial_word_is_name(token, following) is not False else None

    def _initial_word_is_name(self, token: _Token, following: _Token | None) -> bool | None:
        """A lone capitalised first word: a name ("Milvus uses ...") or just a capital ("Vectors are ...")?

        Returns ``True`` (a name: capitalised elsewhere too), ``False`` (a word) or ``None`` (may be a name).
        """
        fold = token.fold
        if fold in self.vocab.proper:
            return True
        if fold in self.vocab.lower or _looks_plural(fold) or fold.endswith(("ly", "ing", "ed")):
            return False
        starts_phrase = following is not None and following.kind == "word" and not _is_stop(following)
        return False if starts_phrase else None

    def _name(self, index: int, end: int) -> int:
        previous = self.tokens[index - 1] if index > 0 else None
        words, entity_type = _name_type(self.tokens[index:end], previous)
        name = normalize_entity_name(" ".join(w.text for w in words))
        if entity_type == "DATE" and end < len(self.tokens) and _YEAR.match(self.tokens[end].text):
            name, end = f"{name} {self.tokens[end].text}", end + 1
        score = _BASE_SCORE[entity_type]
        if entity_type == "PROPER_NOUN" and end - index == 1 and index == self.first_word:
            if self._initial_word_is_name(self.tokens[index], None) is None:
                entity_type, score = "CONCEPT", 2.5  # a capital only because the sentence starts here
        if len(name) >= 2 and name not in STOP_WORDS:
            self._emit(_Mention(name, entity_type, score), name=True)
        return end

    def _emit(self, mention: _Mention | None, *, name: bool) -> None:
        if mention is not None:
            self.mentions.append(mention)
        self.last_was_name = name and mention is not None

    def _flush(self) -> None:
        """Turn the pending run of lower-case words into phrases, split after plural-looking words."""
        run, self.run = self.run, []
        if self.run_after_name and run and (self.drop_verb or (len(run) > 1 and _looks_plural(run[0].fold))):
            run = run[1:]  # "Query Node executes ...", "does Milvus store ...": a verb after a name
        part: list[_Token] = []
        for position, token in enumerate(run):
            part.append(token)
            if position < len(run) - 1 and _looks_plural(token.fold) and token.fold not in _PLURAL_EXCEPTIONS:
                self._emit(_phrase(part), name=False)
                part = []
        if part:
            self._emit(_phrase(part), name=False)
        self.last_was_name = False


def analyze_text(text: str, *, question: bool = False) -> TextAnalysis:
    """Find the entities of a text with their type, count, score and sentences.

    Args:
        text: Any text (a chunk, a caption, a question).
        question: Read ``text`` as a question: the word after a name in "does Milvus store ..." is a verb.

    Returns:
        The analysis; ``top(n)`` gives the n best entity names.

    Example:
        >>> sorted(analyze_text("Milvus keeps vector data in MinIO object storage.").found)
        ['milvus', 'minio', 'object storage', 'vector data']
    """
    sentences = split_sentences(text)
    tokenized = [_tokenize(sentence) for sentence in sentences]
    vocab = _vocabulary(tokenized)
    found: dict[str, FoundEntity] = {}
    position = 0
    for sentence_index, tokens in enumerate(tokenized):
        for mention in _SentenceReader(tokens, vocab, question).read():
            entry = found.get(mention.name)
            if entry is None:
                entry = found[mention.name] = FoundEntity(mention.entity_type, mention.score, first=position)
            elif _stronger(mention.entity_type, entry.entity_type):
                entry.entity_type = mention.entity_type
            entry.score = max(entry.score, mention.score)
            entry.count += 1
            if not entry.sentences or entry.sentences[-1] != sentence_index:
                entry.sentences.append(sentence_index)
            position += 1
    return TextAnalysis(sentences, found)


# --------------------------------------------------------------------------------------------------------------
# Per-chunk extraction
# --------------------------------------------------------------------------------------------------------------


@dataclass
class _EntityAcc:
    entity_type: str
    source_ids: dict[str, None] = field(default_factory=dict)  # an ordered set
    docs: dict[str, None] = field(default_factory=dict)
    evidence: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _EdgeAcc:
    keywords: list[str] = field(default_factory=list)
    description: str = ""
    chunk_weights: dict[str, float] = field(default_factory=dict)
    chunk_keywords: dict[str, list[str]] = field(default_factory=dict)
    docs: dict[str, None] = field(default_factory=dict)


class _KGBuilder:
    """Accumulates entities and edges over chunks, in chunk order."""

    def __init__(self, max_entities_per_chunk: int) -> None:
        self.limit = max_entities_per_chunk
        self.entities: dict[str, _EntityAcc] = {}
        self.edges: dict[tuple[str, str], _EdgeAcc] = {}
        self.chunk_records: list[dict[str, Any]] = []
        self._order_in_doc: Counter[str] = Counter()

    # -- recording ---------------------------------------------------------------------------------------------

    def add_entity(self, name: str, entity_type: str, chunk: GraphChunk, evidence: Iterable[str] = ()) -> None:
        acc = self.entities.get(name)
        if acc is None:
            acc = self.entities[name] = _EntityAcc(entity_type)
        elif _stronger(entity_type, acc.entity_type):
            acc.entity_type = entity_type
        acc.source_ids[chunk.chunk_id] = None
        acc.docs[chunk.doc] = None
        for sentence in evidence:
            if len(acc.evidence) >= _MAX_EVIDENCE_SENTENCES:
                break
            _append_unique(acc.evidence, _snippet(sentence))

    def add_note(self, name: str, note: str) -> None:
        _append_unique(self.entities[name].notes, note)

    def add_edge(
        self, a: str, b: str, chunk: GraphChunk, weight: float, keyword: str, describe: Callable[[], str]
    ) -> None:
        """Add ``weight`` to the edge a-b for this chunk; ``describe`` is called for a new edge only."""
        if a == b:
            return
        key = (a, b) if a < b else (b, a)
        acc = self.edges.get(key)
        if acc is None:
            acc = self.edges[key] = _EdgeAcc(description=describe())
        _append_unique(acc.keywords, keyword)
        _append_unique(acc.chunk_keywords.setdefault(chunk.chunk_id, []), keyword)
        acc.chunk_weights[chunk.chunk_id] = acc.chunk_weights.get(chunk.chunk_id, 0.0) + weight
        acc.docs[chunk.doc] = None

    # -- chunks ------------------------------------------------------------------------------------------------

    def add_chunk(self, chunk: GraphChunk) -> None:
        self.chunk_records.append(
            {
                "content": chunk.content,
                "source_id": chunk.chunk_id,
                "file_path": chunk.doc,
                "chunk_order_index": self._order_in_doc[chunk.doc],
                "full_doc_id": compute_mdhash_id(chunk.doc, prefix="doc-"),  # fits LightRAG's 64-char field
                "page": chunk.page,
                "modality": chunk.modality,
            }
        )
        self._order_in_doc[chunk.doc] += 1
        if chunk.restates_page:
            return
        analysis = analyze_text(_analysable_text(chunk))
        names = analysis.top(self.limit, _doc_names(chunk.doc))
        for name in names:
            found = analysis.found[name]
            evidence = [analysis.sentences[i] for i in found.sentences[:_MAX_EVIDENCE_SENTENCES]]
            self.add_entity(name, found.entity_type, chunk, evidence)
        self._cooccurrences(chunk, analysis, names)
        if MODALITIES.get(chunk.modality).is_modal:
            self._modal_item(chunk, analysis, names)

    def _cooccurrences(self, chunk: GraphChunk, analysis: TextAnalysis, names: list[str]) -> None:
        """Relate entities that share a sentence (most shared sentences first, then the most important
        entities; at most :data:`_MAX_SENTENCE_EDGES` per chunk), and link the chunk's top entity to every other one: edges grow linearly with the
        entities of a chunk, not quadratically, and the chunk's entities stay connected."""
        sentences = {name: set(analysis.found[name].sentences) for name in names}
        rank = {name: position for position, name in enumerate(names)}  # names come most important first
        shared_pairs = sorted(
            ((a, b, sentences[a] & sentences[b]) for a, b in combinations(sorted(names), 2)),
            key=lambda pair: (-len(pair[2]), rank[pair[0]] + rank[pair[1]], pair[0], pair[1]),
        )
        related: set[frozenset[str]] = set()
        for a, b, shared in shared_pairs[:_MAX_SENTENCE_EDGES]:
            if not shared:
                break
            first = analysis.sentences[min(shared)]
            self.add_edge(a, b, chunk, 1.0 + len(shared), "same sentence", lambda: _snippet(first))
            related.add(frozenset((a, b)))
        if not names:
            return
        hub, where = names[0], _where(chunk)
        for name in names[1:]:
            if frozenset((hub, name)) not in related:
                self.add_edge(
                    hub, name, chunk, 1.0, "co-occurrence", lambda: f"{hub} and {name} are mentioned together in {where}."
                )

    def _modal_item(self, chunk: GraphChunk, analysis: TextAnalysis, names: list[str]) -> None:
        item = _item_name(chunk)
        caption = _caption_text(chunk)
        headers = _header_names(chunk)[: self.limit]
        self.add_entity(item, str(MODALITIES.get(chunk.modality).entity_type), chunk)
        self.add_note(item, _item_description(chunk, caption, headers))
        for header in headers:
            self.add_entity(header, "ATTRIBUTE", chunk)
            self.add_note(header, f"A column of {item}.")
            self.add_edge(item, header, chunk, 1.0, "column", lambda: f"{item} has the column {header}.")
        if caption:
            caption_analysis = analyze_text(caption)
            for name in caption_analysis.top(self.limit, _doc_names(chunk.doc)):
                found = caption_analysis.found[name]
                self.add_entity(name, found.entity_type, chunk, [caption_analysis.sentences[found.sentences[0]]])
                self.add_edge(
                    item, name, chunk, 1.0, "caption", lambda: f"The caption of {item} mentions {name}."
                )
        for name in names:
            count = float(analysis.found[name].count)
            self.add_edge(item, name, chunk, count, "contains", lambda: f"{item} contains {name}.")

    # -- output ------------------------------------------------------------------------------------------------

    def result(self) -> dict[str, Any]:
        entities = [_entity_record(name, acc) for name, acc in self.entities.items()]
        relationships = [_edge_record(a, b, acc) for (a, b), acc in self.edges.items()]
        relationships.sort(key=lambda r: (r["src_id"], r["tgt_id"]))
        return {"chunks": self.chunk_records, "entities": entities, "relationships": relationships}


def _append_unique(values: list[str], value: str) -> None:
    if value and value not in values:
        values.append(value)


def _snippet(sentence: str, limit: int = _MAX_SNIPPET_CHARS) -> str:
    text = " ".join(sentence.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + "…"


def _analysable_text(chunk: GraphChunk) -> str:
    """The chunk's text without its leading provenance line ``[<doc>, page 3, table]``."""
    return strip_provenance(chunk.content, chunk.doc)


def _doc_names(doc: str) -> frozenset[str]:
    """The document's own name is everywhere in it: never an entity."""
    name = normalize_entity_name(doc)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return frozenset({name, stem, normalize_entity_name(doc.replace("_", " ").replace("-", " "))})


def _where(chunk: GraphChunk) -> str:
    return chunk.doc if chunk.page is None else f"{chunk.doc} (page {chunk.page})"


def _caption_text(chunk: GraphChunk) -> str:
    return " ".join(" ".join(c.split()) for c in chunk.captions if c and c.strip())


def _header_names(chunk: GraphChunk) -> list[str]:
    names: list[str] = []
    for cell in chunk.headers:
        name = normalize_entity_name(str(cell))
        if name in GENERIC_NOUNS or name in STOP_WORDS or name in _GENERIC_HEADERS:
            continue  # "Name", "Value", "ID": a hub joining unrelated tables, not a thing
        if len(name) <= _MAX_HEADER_CHARS and any(c.isalpha() for c in name):
            _append_unique(names, name)
    return names


def _item_name(chunk: GraphChunk) -> str:
    """The modal item's node name: its caption when it has one, made unique per document.

    "table 1: index types in report.pdf"; without a caption "figure 3fa2c1 on page 2 in report.pdf" (a hash
    of the chunk id tells apart two uncaptioned items of one page).
    """
    modality = MODALITIES.get(chunk.modality)
    label = modality.label
    caption = normalize_entity_name(_caption_text(chunk))
    if caption:
        caption = _snippet(caption, _MAX_CAPTION_CHARS)
        named = caption if caption.startswith(modality.caption_labels or (label,)) else f"{label}: {caption}"
        return normalize_entity_name(f"{named} in {chunk.doc}")
    tag = hashlib.md5(chunk.chunk_id.encode("utf-8")).hexdigest()[:6]
    page = "" if chunk.page is None else f" on page {chunk.page}"
    return normalize_entity_name(f"{label} {tag}{page} in {chunk.doc}")


def _item_description(chunk: GraphChunk, caption: str, headers: list[str]) -> str:
    parts = [f"A {MODALITIES.get(chunk.modality).label} in {_where(chunk)}."]
    if caption:
        parts.append(f"Caption: {_snippet(caption)}")
    if headers:
        parts.append("Columns: " + ", ".join(headers) + ".")
    body = _snippet(" ".join(_analysable_text(chunk).split()))
    if body:
        parts.append(f"Content: {body}")
    return " ".join(parts)


def _entity_record(name: str, acc: _EntityAcc) -> dict[str, Any]:
    description = " ".join(acc.notes + acc.evidence) or f"{name} ({acc.entity_type.lower()})."
    return {
        "entity_name": name,
        "entity_type": acc.entity_type,
        "description": description,
        "source_id": next(iter(acc.source_ids)),
        "file_path": GRAPH_FIELD_SEP.join(acc.docs),
        "source_ids": list(acc.source_ids),
    }


def _edge_record(a: str, b: str, acc: _EdgeAcc) -> dict[str, Any]:
    return {
        "src_id": a,
        "tgt_id": b,
        "description": acc.description,
        "keywords": ", ".join(acc.keywords),
        "weight": float(sum(acc.chunk_weights.values())),
        "source_id": next(iter(acc.chunk_weights)),
        "file_path": GRAPH_FIELD_SEP.join(acc.docs),
        "chunk_weights": dict(acc.chunk_weights),
        "chunk_keywords": {cid: ", ".join(kws) for cid, kws in acc.chunk_keywords.items()},
    }


def build_custom_kg(chunks: Sequence[GraphChunk], *, max_entities_per_chunk: int = 12) -> dict[str, Any]:
    """Extract entities and relationships from chunks, without an LLM.

    The result is the dict LightRAG's ``ainsert_custom_kg`` accepts, plus a few keys it ignores and
    :func:`ainsert_kg` / :func:`adelete_kg` use:

    - ``chunks``: ``content``, ``source_id`` (our chunk id), ``file_path`` (doc), ``chunk_order_index`` (position
      among the doc's chunks here); extra ``full_doc_id`` (doc), ``page``, ``modality``.
    - ``entities``: ``entity_name`` (normalised), ``entity_type``, ``description`` (evidence sentences),
      ``source_id`` (first chunk), ``file_path`` (docs joined by ``<SEP>``); extra ``source_ids`` (all chunks).
    - ``relationships``: ``src_id`` < ``tgt_id``, ``description``, ``keywords`` (``"same sentence"``,
      ``"co-occurrence"``, ``"contains"``, ``"column"``, ``"caption"``), ``weight`` (sum over chunks),
      ``source_id`` (first chunk), ``file_path``; extra ``chunk_weights`` (our chunk id -> weight).

    Args:
        chunks: The chunks, in document order. Chunk ids must be unique.
        max_entities_per_chunk: Entities kept per chunk from its text (best first); a modal item adds
            itself, up to as many column headers and the entities of its caption.

    Returns:
        The custom-kg dict. Same chunks in, same dict out.

    Raises:
        ValueError: On a repeated chunk id or a non-positive ``max_entities_per_chunk``.

    Example:
        >>> kg = build_custom_kg([GraphChunk("c1", "Then Milvus stores vectors in MinIO.", "a.pdf", 0, "text")])
        >>> [(e["entity_name"], e["entity_type"]) for e in kg["entities"]]
        [('milvus', 'PROPER_NOUN'), ('minio', 'PROPER_NOUN'), ('vector', 'CONCEPT')]
        >>> [(r["src_id"], r["tgt_id"], r["weight"]) for r in kg["relationships"]][:1]
        [('milvus', 'minio', 2.0)]
    """
    if max_entities_per_chunk < 1:
        raise ValueError(f"max_entities_per_chunk must be at least 1, got {max_entities_per_chunk}.")
    seen: set[str] = set()
    builder = _KGBuilder(max_entities_per_chunk)
    for chunk in chunks:
        if chunk.chunk_id in seen:
            raise ValueError(
                f"Chunk id {chunk.chunk_id!r} (of {chunk.doc!r}) occurs twice: give every chunk a unique id."
            )
        seen.add(chunk.chunk_id)
        builder.add_chunk(chunk)
    return builder.result()
