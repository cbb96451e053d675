"""A corpus of questions of every shape, generated from families with a fixed seed: nothing is hand-picked.

Each :class:`Question` says whether it is *empty* (nothing visible in it: the one kind of question that is a usage
error); every other question must be answered, with evidence or with an honest "no evidence".

Example:
    >>> corpus = make_questions()
    >>> len(corpus) >= 200, sorted({q.family for q in corpus if q.empty})
    (True, ['control_only', 'empty', 'whitespace'])
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass

SEED = 11
PER_FAMILY = 14
LONG_CHARS = 100_000

# Atoms each family draws from (combined at random below).
_WHITESPACE = [" ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u2003", "\u3000", "\u2028", "\u2029", "\x0b", "\x0c"]
_INVISIBLE = ["\x00", "\x01", "\x07", "\x1b", "\x7f", "\x85", "\u200b", "\u200e", "\u200f", "\ufeff", "\u2060", "\u00ad"]
_STOP = [
    "what", "is", "it", "the", "a", "of", "how", "does", "why", "and", "or", "to", "be", "anything", "something",
    "which", "who", "it's", "this", "that", "there", "was", "were", "can", "could", "would", "about", "all", "any",
    "do", "i", "you", "me", "tell", "show", "explain", "please", "yes", "no", "ok", "some", "here",
]
_PUNCT = list(string.punctuation) + ["¿", "¡", "…", "—", "–", "«", "»", "“", "”", "‘", "’", "·", "•", "§", "¶", "†"]
_EMOJI = [
    "😀", "🚀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇩🇪", "❤️", "🤖", "∑", "∞", "√", "≠", "→", "⟨x⟩", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "ﬁ", "Å",
    "e\u0301", "Z\u0351\u0362a\u0350\u034el\u0357\u035cg\u0352o", "\u202eevil\u202c", "\U0001f9ea", "\u2603", "〜",
]
_CONTROL = ["\x00", "\x01", "\x02", "\x07", "\x08", "\x0b", "\x1b", "\x1b[31m", "\x1b[0m", "\x7f", "\x9b", "\r"]
_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\udcff", "\udc80", "\ud83d", "\ude00"]
_WORDS = [
    "Milvus", "architecture", "vector", "database", "search", "insertion", "storage", "query", "node", "index",
    "segment", "object", "collection", "diagram", "components", "log", "broker", "coordinator", "proxy", "data",
]
_EXPRESSIONS = [
    'doc == "x" or 1==1', '") or (""', "%", "\\", "' OR '1'='1", "'; DROP TABLE docs; --", 'doc != ""',
    "page >= 0 || true", 'modality in ["image", "text"]', 'json_contains(metadata, "x")', 'text_match(text, "a")',
    "1 = 1", "*", "_", "%milvus%", 'doc like "%"', "not (page > 0)", "array_contains(tags, 1)", "$meta['doc']",
    'chunk_id == "" or chunk_id != ""', "/* */", "-- comment", "exists doc", "id in [1,2,3]", "\\\" or \\\"",
]
_QUOTES = ['"', "'", "`", "\\", '\\"', "\\'", "\\\\", '"""', "''", "\\n", "\\x00", "\\u0000", '"\\', "\\\\\""]
_MARKUP = [
    "[/bold]", "[red]", "[bold red]", "[/]", "[link=http://x]", "[/link]", "[italic]", "[", "]", "[[", "]]",
    "<script>alert(1)</script>", "**bold**", "`code`", "{x}", "{{}}", "%s %d", "$(rm -rf ~)", "<b>", "&amp;",
    "\\[escaped]", ":smile:", "[dim]", "[#ff0000]", "[on blue]",
]
_SCRIPTS = [
    "Milvus 是什么？", "向量数据库如何存储数据", "ミルバスのアーキテクチャは何ですか", "밀버스 구조는 무엇입니까",
    "ما هي بنية ميلفوس؟", "كيف يتم تخزين المتجهات", "Что такое Milvus?", "Как хранятся векторы",
    "मिल्वस की संरचना क्या है?", "वेक्टर डेटाबेस", "מהי ארכיטקטורת מילבוס", "สถาปัตยกรรมของ Milvus คืออะไร",
    "Ποια είναι η αρχιτεκτονική", "Milvus nedir?", "ሚልቩስ ምንድን ነው", "Միլվուս", "მილვუსი", "ꯃꯤꯜꯕꯁ",
]
_PAGES = [
    "page 0", "page 99999", "pages 5 to 1", "page -1", "p. 3", "pages 1-10000", "the tenth page", "page 1, 2, 3",
    "figure 0", "table 99999", "fig. 1.2.3", "page 1 and page 2 and page 3", "pages 0 through 0", "pp. 9999-1",
    "page 1.5", "page one", "page 00001", "table 2 and figure 3 on page 4", "Figure 1", "the first page",
]


@dataclass(frozen=True)
class Question:
    """One generated question.

    Args:
        family: What kind of question it is (test ids group by it).
        text: The question.
        empty: Whether nothing in it is visible (empty, whitespace, control characters): a usage error.
    """

    family: str
    text: str
    empty: bool = False

    @property
    def label(self) -> str:
        """A short printable name for failure messages."""
        return f"{self.family}:{ascii(self.text)[:70]}"


def _pick(rng: random.Random, atoms: list[str], low: int, high: int, sep: str = " ") -> str:
    return sep.join(rng.choice(atoms) for _ in range(rng.randint(low, high)))


def _with_words(rng: random.Random, atoms: list[str], min_words: int = 0) -> str:
    """Atoms scattered between a few content words (at least ``min_words``), or alone."""
    parts = [rng.choice(atoms) for _ in range(rng.randint(1, 3))]
    words = rng.sample(_WORDS, rng.randint(min_words, 3))
    mixed = parts + words
    rng.shuffle(mixed)
    return rng.choice(["", " "]).join(mixed) if words else "".join(parts)


def _long(rng: random.Random, index: int) -> str:
    unit = [lambda: _pick(rng, _WORDS + _STOP, 1, 12) + ". ", lambda: "page 1 and ", lambda: "[red]a\\\"!? "][index % 3]()
    return (unit * (LONG_CHARS // len(unit) + 1))[:LONG_CHARS]


def make_questions(seed: int = SEED, per_family: int = PER_FAMILY) -> list[Question]:
    """Generate the corpus: ``per_family`` questions from each family (a few families have fewer distinct forms).

    Args:
        seed: The random seed (the corpus is the same for the same seed).
        per_family: Questions drawn per family.
    """
    rng = random.Random(seed)
    out: list[Question] = [Question("empty", "", empty=True)]
    generators = {
        "whitespace": (lambda: _pick(rng, _WHITESPACE, 1, 12, sep=""), True),
        "control_only": (lambda: _pick(rng, _WHITESPACE + _INVISIBLE, 1, 8, sep=""), True),
        "stopwords": (lambda: _pick(rng, _STOP, 1, 6) + rng.choice(["", "?", " ?", "!", "."]), False),
        "punctuation": (lambda: _pick(rng, _PUNCT, 1, 20, sep=rng.choice(["", " "])), False),
        "emoji_unicode": (lambda: _with_words(rng, _EMOJI), False),
        "control_chars": (lambda: _with_words(rng, _CONTROL, min_words=1) + rng.choice(["", "\x00"]), False),
        "lone_surrogates": (lambda: _with_words(rng, _SURROGATES, min_words=1), False),
        "expressions": (lambda: _with_words(rng, _EXPRESSIONS), False),
        "quotes_backslashes": (lambda: _with_words(rng, _QUOTES), False),
        "markup": (lambda: _with_words(rng, _MARKUP), False),
        "numbers": (
            lambda: rng.choice([
                str(rng.randint(-10**6, 10**6)), f"{rng.uniform(-1e6, 1e6):.3f}", "1e308", "-0", "NaN", "inf",
                "99999999999999999999999999", "1,000,000", "٣٤٥", "0x1F", "3/4", "½", "007", "1 2 3 4 5",
            ]),
            False,
        ),
        "other_scripts": (lambda: _pick(rng, _SCRIPTS, 1, 2), False),
        "page_references": (lambda: rng.choice(["", "what is on ", "show me ", "? "]) + _pick(rng, _PAGES, 1, 2), False),
        "ordinary": (
            lambda: rng.choice(["What are the ", "How does the ", "Which ", "Describe the "]) + _pick(rng, _WORDS, 1, 4) + "?",
            False,
        ),
    }
    for family, (generate, empty) in generators.items():
        seen: set[str] = set()
        for _ in range(per_family * 4):
            text = generate()
            if text in seen:
                continue
            seen.add(text)
            out.append(Question(family, text, empty=empty))
            if len(seen) == per_family:
                break
    out.extend(Question("long_100k", _long(rng, i)) for i in range(3))
    out.extend(Question("reported", text) for text in ("what is it?", "anything", "?"))
    return out
