"""Query latency of the composite retriever next to a raw pymilvus hybrid search, on synthetic stores.

For each store size, a build process and then a query process (so build time and peak memory are per size and
per phase, and the store is queried as a service that opens it would query it):

1. generates a synthetic corpus: documents of 20 to 120 pages of text paragraphs plus tables, figures and
   equations, over topic-structured vocabularies (product names, components, acronyms, key phrases, setting
   names; quantities and years shared by all topics), with the number of topics growing with the square root
   of the size;
2. ingests it through the package's ingestion pipeline (``rag.pipeline``, what ``MultimodalRAG.ingest`` runs
   after parsing): each document's ``ContentBlock``\ s are described (offline), cut into nodes and fitted
   (``aprepare_parsed``), then embedded and written all or nothing to Milvus, the LLM-free graph and the
   manifest under the journal (``acommit``), one document at a time;
3. asks the first 10 questions right after ingestion, with the store exactly as the package leaves it, then
   flushes every Milvus collection (ours and LightRAG's) and waits for their indexes;
4. in the query process, opens the store and times, question by question and in alternating order, the same
   questions with the same query vectors through
   * ``MultimodalRAG.as_retriever(top_k=10)`` (the ``MultimodalCompositeRetriever`` with the facade's defaults:
     hybrid Milvus search and LightRAG graph retrieval in the ``graph_mode`` setting, ``local`` unless
     ``--graph-mode`` says otherwise, fused), the facade given **no LLM**: the graph's LLM
     function raises if called, so an LLM call at query time would fail the run;
   * a raw ``MilvusClient.hybrid_search`` on the same collection: a dense ``AnnSearchRequest`` and a BM25
     ``AnnSearchRequest`` fused by ``RRFRanker(60)``, ``limit=10``, the output fields the store asks for;
5. times the composite's parts alone on the same questions: its vector branch, its graph branch, LightRAG
   ``aquery_data`` and the node lookup that gives graph chunks their provenance;
6. reports p50 / p95 / p99 / mean latency, the target check (composite p50 <= 2 x raw p50 + 30 ms), build time
   per phase, peak RSS per phase (process and children) and the machine's load average.

Embeddings: query vectors are computed once, up front, and handed to both sides (the composite gets them in
its ``QueryBundle``), so query embedding time is excluded from both; it is reported separately. LightRAG
still embeds the query *keywords* it searches entities and relations with: that is part of graph retrieval
and stays inside the composite's time. By default every vector (chunks, LightRAG chunks, entities, relations,
keywords and questions) comes from a deterministic feature-hashing embedding (``HashingEmbedding``, 384-d,
the packaged MiniLM's dimension), because MiniLM needs minutes per 100k chunks on two cores;
``--embedding minilm`` uses the packaged all-MiniLM-L6-v2 instead. Either way both sides use the same one.

Usage:
    python benchmarks/query_latency.py --sizes 10000 100000 --queries 200 --out benchmarks/out/query_latency.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

EMBED_DIM = 384
TOP_K = 10
RRF_K = 60
TARGET_FACTOR = 2.0
TARGET_SLACK_MS = 30.0
WARMUP_QUERIES = 10
RIGHT_AFTER_INGEST_QUERIES = 10
INGEST_LOG_NODES = 5000

# --------------------------------------------------------------------------------------------------------------
# Deterministic embedding
# --------------------------------------------------------------------------------------------------------------

_TOKEN = re.compile(r"[a-z0-9]+")


def _slots(token: str, dim: int) -> tuple[int, int, float, float]:
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    first, second = digest[0] << 8 | digest[1], digest[2] << 8 | digest[3]
    return first, second, 1.0 if digest[4] & 1 else -1.0, 1.0 if digest[5] & 1 else -1.0


def make_hashing_embedding(dim: int = EMBED_DIM) -> Any:
    """A deterministic bag-of-words embedding (feature hashing, two signed slots per word, log term frequency).

    Texts that share words get similar vectors, which is all a latency benchmark needs, at microseconds per
    text. Built lazily so the parent process never imports LlamaIndex.

    Args:
        dim: Vector dimension.
    """
    from llama_index.core.base.embeddings.base import BaseEmbedding
    from pydantic import PrivateAttr

    class HashingEmbedding(BaseEmbedding):
        """Deterministic feature-hashing embedding (see :func:`make_hashing_embedding`)."""

        dim: int = EMBED_DIM
        _cache: dict[str, tuple[int, int, float, float]] = PrivateAttr(default_factory=dict)

        @classmethod
        def class_name(cls) -> str:
            return "HashingEmbedding"

        def _vector(self, text: str) -> list[float]:
            vector = np.zeros(self.dim, dtype=np.float32)
            cache = self._cache
            for token, count in Counter(_TOKEN.findall(text.lower())).items():
                slots = cache.get(token)
                if slots is None:
                    a, b, sa, sb = _slots(token, self.dim)
                    slots = cache[token] = (a % self.dim, b % self.dim, sa, sb)
                weight = 1.0 + math.log(count)
                vector[slots[0]] += slots[2] * weight
                vector[slots[1]] += slots[3] * weight
            norm = float(np.linalg.norm(vector))
            if norm == 0.0:
                vector[0] = 1.0
                norm = 1.0
            return (vector / norm).tolist()

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._vector(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._vector(query)

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._vector(text)

        async def _aget_text_embedding(self, text: str) -> list[float]:
            return self._vector(text)

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [self._vector(t) for t in texts]

        async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [self._vector(t) for t in texts]

    return HashingEmbedding(dim=dim, embed_batch_size=2048)


# --------------------------------------------------------------------------------------------------------------
# Synthetic corpus
# --------------------------------------------------------------------------------------------------------------

_NOUNS = """
access account adapter agent aggregate alert allocation analyzer anchor archive array audit backlog backup
balance bandwidth barrier baseline batch benchmark binding bitmap block bloom branch broker bucket budget
buffer build bundle cache calendar capacity catalog channel checkpoint chunk cipher circuit claim client
clock cluster codec collection column commit compaction compiler component compression config connector
consensus console consumer container context contract controller coordinator corpus counter cursor
dashboard dataset deadline decoder delta dependency deployment descriptor detector device dictionary digest
directory disk dispatcher document domain driver edge embedding encoder endpoint engine entity envelope
estimator event executor exporter expression extent feature feed fence fetcher field filter firmware flag
flush fragment frame gateway generator graph grid handler hash header heap histogram host index inference
ingress input instance interface interval inventory iterator job journal kernel key label latency layer
layout lease ledger library limit link listener loader lock log lookup manifest mapper marker matrix memory
merger message metadata metric migration mirror model module monitor mount namespace network node notifier
offset operator optimizer orchestrator outbox output overlay owner packet page parser partition patch path
payload peer permission pipeline planner plugin pointer policy pool port predicate prefetcher probe
processor producer profile projection protocol proxy publisher quantizer query queue quota range ranker
reader realm rebalancer receipt recorder record reducer region registry relay replica report repository
request resolver resource response retriever revision role rollout route router rule runtime sampler
scheduler schema scope scorer segment selector sensor sequence serializer server service session shard
signal sketch slot snapshot socket source span splitter stage statement storage stream subscriber summary
switch symbol tablet target task template tenant tensor thread threshold throttle ticket timeline timer token
topic trace tracker transaction transformer tree trigger tuple upload validator variable vector version
view volume watcher window worker workload writer zone
""".split()
_ADJECTIVES = """
adaptive asynchronous atomic balanced bounded cached canonical columnar compact concurrent consistent
distributed durable dynamic elastic encrypted ephemeral eventual external federated filtered global
granular hierarchical hybrid immutable incremental indexed isolated lazy linear local logical lossless
managed monotonic nested offline online ordered parallel partial persistent physical pluggable primary
private probabilistic quantized reactive regional remote replicated resilient scalable secondary secure
sequential sharded skewed snapshot sparse stateful stateless streaming strict structured synchronous tiered
transactional transient unified vectorized versioned virtual warm weighted
""".split()
_VERBS = """
supports stores uses handles requires provides returns builds creates keeps sends receives reads writes
ensures enables applies defines includes contains follows offers
""".split()
_ADVERBS = "quickly reliably eagerly lazily safely cheaply predictably transparently gradually".split()
_UNITS = ("ms", "GB", "shards")
_NUMBERS = (4, 16, 64, 256)
_YEARS = tuple(range(2019, 2025))
_SYLLABLES = """
ar bel cor dra el fen gor hal ix jun kal lor mir nex or pra quel ros syn tal ul ven wex xan yor zed tor vik
lum nor cas del fin gal hex ion jor kep lyr mab nov ost pyr qua ren sol tev ury vol wyn zor bri cle dun
""".split()
_SUFFIXES = ("DB", "MQ", "Flow", "Grid", "Stack", "Hub", "Base", "Scope", "Mesh", "Lake", "", "", "")

# Every slot that the LLM-free extractor turns into an entity ({E}, {C}, {A}, {p}, {noun}, {param}) is filled
# from the sentence's topic, so the graph grows with the number of topics, as a real corpus's graph grows with
# its subjects, not with every random word pair. Quantities and years are shared by all topics: they are the
# graph's hubs, as they are in real documents.
_TEXT_TEMPLATES = (
    "{E1} {verb} the {p1} for the {p2} in every {noun} of {E2}.",
    "In {year}, the team measured the {p1} of {E1} at {num} {unit} under the peak workload.",
    "When the {p1} grows beyond {num} {unit}, {E1} {verb} the {p2} to keep the {p3} stable.",
    "{E1} and {E2} share the {p1}, so the {p2} stays consistent across each {noun}.",
    "The {p1} of {E1} depends on the {p2} and on the {noun} of {C1}.",
    "Operators tune the {p1} with the {param} setting of {A1}, which defaults to {num}.",
    "Compared with {E2}, {E1} {verb} the {p1} {adv} but needs a larger {p2}.",
    "The {C1} of {E1} {verb} each {noun} before the {p1} reaches the {C2}.",
    "Each {noun} in {E1} keeps its own {p1}, and {A1} merges them into the {p2}.",
    "With the {p1}, {E1} answers {noun} lookups in about {num} {unit}.",
    "Since {year}, {E1} {verb} the {p2} through {C1} instead of the legacy {noun}.",
    "If the {C1} fails, {E1} falls back to the {p1} and replays the {p2} from the last {noun}.",
)
_GLOBAL_SENTENCES = (
    "This section describes the behaviour under normal operation.",
    "The following paragraphs summarise the design decisions and their trade-offs.",
    "Most deployments never change these values.",
    "See the appendix for the complete list of settings.",
    "Measurements were repeated three times and the median is reported.",
    "The rest of this chapter walks through a worked example.",
)


@dataclass
class Topic:
    """A cluster of vocabulary that documents and questions draw from together.

    Args:
        products: Product names (CamelCase or capitalised), extracted as named entities.
        components: Capitalised two-word component names.
        acronyms: Upper-case acronyms.
        phrases: Lower-case two-word key phrases.
        nouns: Lower-case nouns the topic's sentences talk about.
        params: snake_case setting names.
    """

    products: list[str]
    components: list[str]
    acronyms: list[str]
    phrases: list[str]
    nouns: list[str]
    params: list[str]


def _name(rng: random.Random) -> str:
    word = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3)))
    return word.capitalize() + rng.choice(_SUFFIXES)


def topic_count(size: int) -> int:
    """How many topics a corpus of ``size`` chunks has: 25 at 10k chunks, growing with the square root of the
    size (vocabulary grows sublinearly with corpus size, Heaps' law), at least 20.

    Args:
        size: Chunks in the corpus.
    """
    return max(20, round(25 * math.sqrt(size / 10_000)))


def make_topics(count: int, rng: random.Random) -> list[Topic]:
    """Build ``count`` topics with distinct names and phrases (nouns may repeat across topics).

    Args:
        count: How many topics.
        rng: Random source.
    """
    seen: set[str] = set()

    def unique(make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in seen:
                seen.add(value)
                return value

    topics = []
    for _ in range(count):
        topics.append(
            Topic(
                products=[unique(lambda: _name(rng)) for _ in range(5)],
                components=[unique(lambda: f"{rng.choice(_NOUNS)} {rng.choice(_NOUNS)}".title()) for _ in range(3)],
                acronyms=[unique(lambda: "".join(rng.choice("ABCDEFGHKLMNPRSTVWXZ") for _ in range(3))) for _ in range(2)],
                phrases=[unique(lambda: f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}") for _ in range(10)],
                nouns=rng.sample(_NOUNS, 5),
                params=[f"{rng.choice(_NOUNS)}_{rng.choice(_NOUNS)}" for _ in range(3)],
            )
        )
    return topics


@dataclass
class Corpus:
    """A synthetic corpus, generated document by document.

    Args:
        topics: The vocabulary clusters.
        seed: Random seed (the same seed gives the same corpus).
    """

    topics: list[Topic]
    seed: int
    figure_counter: int = 0
    table_counter: int = 0

    def _fill(self, template: str, rng: random.Random, main: Topic, other: Topic) -> str:
        pick = main if rng.random() < 0.85 else other
        names = [*main.products, *main.components]
        e1, e2 = rng.sample(names, 2)
        return template.format(
            E1=e1, E2=e2, C1=rng.choice(pick.components), C2=rng.choice(main.components), A1=rng.choice(pick.acronyms),
            p1=rng.choice(pick.phrases), p2=rng.choice(main.phrases), p3=rng.choice(main.phrases),
            noun=rng.choice(pick.nouns), adj=rng.choice(_ADJECTIVES), verb=rng.choice(_VERBS), adv=rng.choice(_ADVERBS),
            unit=rng.choice(_UNITS), num=rng.choice(_NUMBERS), year=rng.choice(_YEARS), param=rng.choice(pick.params),
        )

    def paragraph(self, rng: random.Random, main: Topic, other: Topic) -> str:
        """A paragraph of 3 to 6 sentences."""
        sentences = [self._fill(rng.choice(_TEXT_TEMPLATES), rng, main, other) for _ in range(rng.randint(3, 6))]
        if rng.random() < 0.3:
            sentences.insert(rng.randrange(len(sentences) + 1), rng.choice(_GLOBAL_SENTENCES))
        return " ".join(sentences)

    def modal_item(self, rng: random.Random, main: Topic, page: int) -> dict[str, Any]:
        """A RAG-Anything content-list item: a table (50%), an image (35%) or an equation (15%)."""
        roll = rng.random()
        product = rng.choice(main.products)
        phrase = rng.choice(main.phrases)
        if roll < 0.5:
            self.table_counter += 1
            metric = rng.choice(main.phrases)
            rows = [
                f"| {rng.choice(main.components)} | {rng.choice(_NUMBERS)} {rng.choice(_UNITS)} | {rng.choice(_NUMBERS)} |"
                for _ in range(rng.randint(3, 6))
            ]
            body = "\n".join([f"| Component | {phrase.capitalize()} | {metric.capitalize()} |", "|---|---|---|", *rows])
            caption = f"Table {self.table_counter}: {phrase} of {product} by component"
            return {"type": "table", "table_body": body, "table_caption": [caption], "table_footnote": [], "page_idx": page}
        if roll < 0.85:
            self.figure_counter += 1
            labels = rng.sample([*main.products, *main.components, *main.acronyms], 5)
            return {"type": "image", "img_path": f"/synthetic/images/fig{self.figure_counter}.png",
                    "image_caption": [f"Figure {self.figure_counter}: architecture of {product}"],
                    "image_footnote": [], "ocr_text": "; ".join(labels), "page_idx": page}
        name = rng.choice(main.params)
        return {"type": "equation", "latex": f"t_{{{name}}} = \\alpha \\cdot n_{{{rng.choice(main.nouns)}}} + \\beta",
                "text": f"The {phrase} of {product} grows linearly with the number of {rng.choice(main.nouns)}s.",
                "page_idx": page}

    def documents(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Yield ``(file name, content list)`` forever: 20 to 120 pages each, 2 to 4 paragraphs a page."""
        rng = random.Random(self.seed)
        number = 0
        while True:
            number += 1
            main, other = rng.sample(self.topics, 2)
            items: list[dict[str, Any]] = []
            for page in range(rng.randint(20, 120)):
                if page % 10 == 0:
                    heading = f"{rng.choice(main.products)} {rng.choice(main.phrases)}"
                    items.append({"type": "text", "text": heading, "text_level": 1, "page_idx": page})
                for _ in range(rng.randint(2, 4)):
                    text = self.paragraph(rng, main, other)
                    items.append({"type": "text", "text": text, "text_level": 0, "page_idx": page})
                if rng.random() < 0.3:
                    items.append(self.modal_item(rng, main, page))
            yield f"report_{number:05d}.pdf", items


def make_questions(topics: Sequence[Topic], count: int, seed: int) -> list[str]:
    """Questions over the corpus vocabulary, in a few styles (entity, phrase, relation, numeric, scope words).

    Args:
        topics: The corpus topics.
        count: How many questions.
        seed: Random seed.
    """
    rng = random.Random(seed)
    styles = (
        "How does {E1} handle the {p1}?",
        "What is the {p1} of {E1}?",
        "Which {noun} does {E1} use for the {p2}?",
        "How do {E1} and {E2} share the {p1}?",
        "What happens when the {p1} of {C1} fails?",
        "What does the {param} setting of {A1} control?",
        "How fast are {noun} lookups in {E1} with the {p1}?",
        "Show the architecture figure of {E1}.",
    )
    questions = []
    for _ in range(count):
        topic = rng.choice(topics)
        e1, e2 = rng.sample([*topic.products, *topic.components], 2)
        questions.append(
            rng.choice(styles).format(
                E1=e1, E2=e2, C1=rng.choice(topic.components), A1=rng.choice(topic.acronyms), p1=rng.choice(topic.phrases),
                p2=rng.choice(topic.phrases), noun=rng.choice(topic.nouns), param=rng.choice(topic.params),
            )
        )
    return questions


# --------------------------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------------------------


class PeakRSS:
    """Samples the resident memory of this process and its children (Milvus Lite's server) in a thread.

    Args:
        interval: Seconds between samples.
        limit_bytes: Exit the process (code 3) when the tree's RSS goes above this.
    """

    def __init__(self, interval: float = 0.1, limit_bytes: int | None = None) -> None:
        self.interval = interval
        self.limit_bytes = limit_bytes
        self.peak_tree = 0
        self.peak_self = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-rss", daemon=True)

    def sample(self) -> int:
        """Take one sample; return the tree's RSS in bytes."""
        me = psutil.Process()
        own = me.memory_info().rss
        total = own
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:  # a child that exited between listing and reading
                continue
        self.peak_self = max(self.peak_self, own)
        self.peak_tree = max(self.peak_tree, total)
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.limit_bytes is not None and self.sample() > self.limit_bytes:
                # A shared machine: stop at once rather than push others into swap or the OOM killer.
                limit = self.limit_bytes / 2**30
                print(f"peak RSS above {limit:.1f} GiB: stopping (see --max-rss-gb)", file=sys.stderr, flush=True)
                os._exit(3)

    def __enter__(self) -> PeakRSS:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def summarize(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / p99 / mean / min / max of latencies, in milliseconds.

    Args:
        samples_s: Latencies in seconds.
    """
    ms = sorted(s * 1000.0 for s in samples_s)

    def pct(q: float) -> float:
        if len(ms) == 1:
            return ms[0]
        position = q * (len(ms) - 1)
        low = int(math.floor(position))
        high = min(low + 1, len(ms) - 1)
        return ms[low] + (ms[high] - ms[low]) * (position - low)

    return {
        "p50_ms": round(pct(0.50), 2), "p95_ms": round(pct(0.95), 2), "p99_ms": round(pct(0.99), 2),
        "mean_ms": round(statistics.fmean(ms), 2), "min_ms": round(ms[0], 2), "max_ms": round(ms[-1], 2), "n": len(ms),
    }


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


@dataclass
class SizeResult:
    """Everything measured for one store size (the JSON record of that size).

    Args:
        requested_chunks: The size asked for.
        chunks: Nodes actually stored.
        documents: Documents generated.
        modalities: Nodes per modality.
        graph: Entity, relation and chunk counts of the LightRAG graph.
        build_seconds: Wall time per build phase and in total.
        query_embedding_ms_per_query: Mean time to embed one question (excluded from both sides).
        raw_hybrid: Latency of the raw pymilvus hybrid search.
        composite: Latency of the composite retriever.
        components: Latency of the composite's parts, each measured alone (see :meth:`_Sides.components`).
        ratio_p50: composite p50 / raw p50.
        target_ms: 2 x raw p50 + 30 ms.
        meets_target: composite p50 <= target_ms.
        vector_retriever_matches_raw: Share of questions where the package's ``MilvusModalRetriever`` (hybrid,
            ``TOP_K``) returned exactly the raw search's ids in the same order (both search the same collection
            the same way).
        composite_config: How the facade configured the composite (candidates per branch, page aggregation...).
        mean_results: Mean number of results per question, per side.
        peak_rss_mb: Peak RSS (process and children) of the build process, of the query process, and the max.
        peak_rss_by_phase_mb: Tree RSS at the end of each phase.
        load_average: One-minute load average of the machine before and after the timed questions (others'
            work on a shared machine inflates both sides).
        right_after_ingest: Latency of both sides on the first 10 questions right after ingestion, before the
            benchmark flushes the collections (the store exactly as the package leaves it).
        workarounds: What the benchmark had to do that a user would not (bugs to fix), empty when nothing.
    """

    requested_chunks: int
    chunks: int = 0
    documents: int = 0
    modalities: dict[str, int] = field(default_factory=dict)
    graph: dict[str, int] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)
    query_embedding_ms_per_query: float = 0.0
    raw_hybrid: dict[str, float] = field(default_factory=dict)
    composite: dict[str, float] = field(default_factory=dict)
    components: dict[str, dict[str, float]] = field(default_factory=dict)
    ratio_p50: float = 0.0
    target_ms: float = 0.0
    meets_target: bool = False
    vector_retriever_matches_raw: float = 0.0
    composite_config: dict[str, Any] = field(default_factory=dict)
    mean_results: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    peak_rss_by_phase_mb: dict[str, float] = field(default_factory=dict)
    load_average: dict[str, float] = field(default_factory=dict)
    right_after_ingest: dict[str, dict[str, float]] = field(default_factory=dict)
    workarounds: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------------------
# One size, in a worker process
# --------------------------------------------------------------------------------------------------------------


def _offline_environment() -> None:
    """The benchmark measures the offline default: no DashScope key, Milvus Lite, no hub downloads."""
    for name in ("DASHSCOPE_API_KEY", "MILVUS_URI", "MILVUS_TOKEN", "OPENAI_API_KEY"):
        os.environ.pop(name, None)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _ingest(
    rag: Any,
    corpus: Corpus,
    size: int,
    result: SizeResult,
    rss: PeakRSS,
    log: Callable[[str], None],
) -> None:
    """Generate documents and ingest them through the package's pipeline until ``size`` nodes are stored.

    Each generated document goes through ``rag.pipeline`` as a parsed file does: describe -> nodes -> fit
    (``aprepare_parsed``), then embed -> write under the journal (``acommit``), one document at a time.

    Args:
        rag: The facade.
        corpus: The synthetic corpus.
        size: Nodes to store.
        result: Where build figures go.
        rss: The memory sampler.
        log: Progress printer.
    """
    from llama_index_mmrag.ingestion import IngestReport
    from llama_index_mmrag.readers.rag_anything import ParsedDocument
    from llama_index_mmrag.runtime import engine_loop
    from llama_index_mmrag.schema import ContentBlock

    loop, pipeline, report = engine_loop(), rag.pipeline, IngestReport()
    phases = Counter[str]()
    modalities = Counter[str]()
    stored, logged = 0, 0
    documents = corpus.documents()
    while stored < size:
        name, items = next(documents)
        started = time.perf_counter()
        doc_id = hashlib.sha256(json.dumps(items, sort_keys=True).encode()).hexdigest()
        blocks = [
            ContentBlock.from_content_item(item, doc=name, doc_id=doc_id, parser="synthetic", index=i)
            for i, item in enumerate(items)
        ]
        parsed = ParsedDocument(path=Path(name), doc_id=doc_id, parser="synthetic", reason="synthetic corpus", blocks=blocks)
        prepared = loop.run(pipeline.aprepare_parsed(parsed))
        prepared.nodes = prepared.nodes[: size - stored]
        phases["generate_describe_chunk"] += time.perf_counter() - started
        phases["embed_and_write"] += _timed(lambda: loop.run(pipeline.acommit(prepared, report)))[0]
        result.documents += 1
        stored += len(prepared.nodes)
        modalities.update(str(n.metadata["modality"]) for n in prepared.nodes)
        if stored - logged >= INGEST_LOG_NODES or stored >= size:
            logged = stored
            log(f"  {stored:>7} / {size} nodes  (describe and chunk {phases['generate_describe_chunk']:.0f} s, "
                f"embed and write {phases['embed_and_write']:.0f} s, rss {rss.sample() / 2**20:.0f} MB)")
    result.chunks = stored
    result.modalities = dict(modalities)
    result.build_seconds = {k: round(v, 2) for k, v in phases.items()}
    result.build_seconds["total"] = round(sum(phases.values()), 2)


def _ensure_loaded(rag: Any) -> list[str]:
    """Load the node collection when a reopened store left it released; say so when it had to.

    Milvus Lite 3.2 opens an existing collection in the ``NotLoad`` state and ``MilvusVectorStore`` never loads
    it, so the first search of a reopened store fails ("collection ... is in state 'released'").
    """
    from pymilvus.client.types import LoadState

    client, name = rag.vector_store.client, rag.vector_store.collection_name
    if client.get_load_state(name).get("state") == LoadState.Loaded:
        return []
    client.load_collection(name)
    return [f"loaded collection {name!r} after reopening: MilvusVectorStore left it released (NotLoad)"]


def _graph_counts(rag: Any) -> dict[str, int]:
    try:
        entities, relations = rag.graph.run(rag.graph.acounts())
        return {"entities": entities, "relations": relations}
    except Exception as exc:  # counting is informative only
        print(f"  (graph counts unavailable: {exc})", file=sys.stderr)
        return {}


def _flush_and_index(client: Any, timeout: float = 900.0) -> None:
    """Seal every collection of the Milvus instance (ours and LightRAG's) and wait until its indexes are built.

    Args:
        client: A ``MilvusClient`` on the instance.
        timeout: Seconds to wait for index builds.
    """
    names = client.list_collections()
    for name in names:
        client.flush(name)
    deadline = time.monotonic() + timeout
    for name in names:
        for index in client.list_indexes(name):
            while client.describe_index(name, index).get("pending_index_rows", 0) and time.monotonic() < deadline:
                time.sleep(0.5)


def _time_pairs(
    sides: Sequence[tuple[str, Callable[[str, list[float]], list[str]]]], pairs: Sequence[tuple[str, list[float]]]
) -> tuple[dict[str, list[float]], Counter[str]]:
    """Time each side on each question, alternating which side goes first (no order bias).

    Args:
        sides: ``(name, fn(question, vector) -> ids)`` per side.
        pairs: ``(question, query vector)`` per question.

    Returns:
        Latencies in seconds per side, and the number of results per side.
    """
    times: dict[str, list[float]] = {name: [] for name, _ in sides}
    counts = Counter[str]()
    for i, (question, vector) in enumerate(pairs):
        for name, fn in sides if i % 2 == 0 else list(sides)[::-1]:
            seconds, ids = _timed(lambda: fn(question, vector))
            times[name].append(seconds)
            counts[name] += len(ids)
    return times, counts


class _Sides:
    """The two sides of the comparison over one open facade (rebuilt when the facade is reopened).

    The composite is exactly what ``rag.as_retriever(top_k=TOP_K, graph_mode=...)`` builds, with the facade's
    defaults (page aggregation, candidate factor, fusion weights). The raw side asks Milvus for ``TOP_K`` hits,
    what a user of plain pymilvus would ask for.

    Args:
        rag: The open facade.
        graph_mode: LightRAG mode of the composite's graph retriever; the facade's default when ``None``.
    """

    def __init__(self, rag: Any, graph_mode: str | None = None) -> None:
        from llama_index.core.schema import QueryBundle
        from pymilvus import AnnSearchRequest, RRFRanker

        from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
        from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever

        self.rag = rag
        store = rag.vector_store
        self._client, self._collection = store.client, store.collection_name
        self._dense_field, self._sparse_field = store.embedding_field, store.sparse_embedding_field
        self._dense_param = {"metric_type": "COSINE", "params": store.search_config or {}}
        self._request, self._ranker, self._bundle = AnnSearchRequest, RRFRanker, QueryBundle
        self.composite = rag.as_retriever(top_k=TOP_K, graph_mode=graph_mode)
        graph = [b for b in self.composite.retrievers if isinstance(b, LightRAGRetriever)]
        if not graph:
            raise RuntimeError("as_retriever() built no graph retriever: the composite would not be measured")
        self.vector_branch = self.composite.retrievers[0]
        self.graph_branch = graph[0]
        self.graph_mode = self.graph_branch.mode
        self.graph_top_k = int(getattr(self.graph_branch, "top_k", TOP_K))
        self.vector_candidates = int(getattr(self.vector_branch, "similarity_top_k", TOP_K))
        # The same search as the raw side, through the package's retriever: a check that both sides agree.
        self.check_retriever = MilvusModalRetriever(store, rag.embed_model, similarity_top_k=TOP_K, mode="hybrid")

    def describe(self) -> dict[str, Any]:
        """How the composite was configured by the facade (recorded in the report)."""
        return {
            "vector_candidates": self.vector_candidates,
            "graph_top_k": self.graph_top_k,
            "graph_mode": self.graph_mode,
            "vector_mode": getattr(self.vector_branch, "mode", None),
            "page_aggregation": getattr(self.composite, "page_aggregation", None),
            "retriever_weights": {
                type(b).__name__: w for b, w in zip(self.composite.retrievers, self.composite.retriever_weights)
            },
        }

    def raw(self, question: str, vector: list[float], limit: int = TOP_K) -> list[str]:
        """pymilvus hybrid search: dense + BM25 requests, RRF, the fields MilvusVectorStore asks for ("*")."""
        dense = self._request(data=[vector], anns_field=self._dense_field, param=self._dense_param, limit=limit)
        sparse = self._request(data=[question], anns_field=self._sparse_field, param={"metric_type": "BM25"}, limit=limit)
        hits = self._client.hybrid_search(
            self._collection, [dense, sparse], ranker=self._ranker(RRF_K), limit=limit, output_fields=["*"]
        )
        return [str(hit["id"]) for hit in hits[0]]

    def composite_ids(self, question: str, vector: list[float]) -> list[str]:
        """The composite retriever, given the same query vector."""
        return [n.node.node_id for n in self.composite.retrieve(self._bundle(query_str=question, embedding=vector))]

    def components(
        self, pairs: Sequence[tuple[str, list[float]]]
    ) -> tuple[dict[str, dict[str, float]], float, Counter[str]]:
        """Time the composite's parts one at a time, configured as the composite configures them.

        ``vector_branch`` and ``graph_branch`` are the composite's own two retrievers; ``graph_aquery_data`` and
        ``graph_node_lookup`` split the graph branch; ``raw_hybrid_at_candidates`` is the raw search asking for
        as many hits as the vector branch does.

        Returns:
            Latency summaries, the share of questions where the package's hybrid retriever returned exactly the
            raw search's ids in order, and result counts.
        """
        from llama_index_mmrag.retrievers.lightrag import lookup_nodes

        rag = self.rag
        parts = ("vector_branch", "raw_hybrid_at_candidates", "graph_branch", "graph_aquery_data", "graph_node_lookup")
        times: dict[str, list[float]] = {name: [] for name in parts}
        same = 0
        counts = Counter[str]()
        for question, vector in pairs:
            bundle = self._bundle(query_str=question, embedding=vector)
            seconds, nodes = _timed(lambda: self.vector_branch.retrieve(bundle))
            times["vector_branch"].append(seconds)
            counts["vector_branch_nodes"] += len(nodes)
            times["raw_hybrid_at_candidates"].append(_timed(lambda: self.raw(question, vector, self.vector_candidates))[0])
            same += [n.node.node_id for n in self.check_retriever.retrieve(bundle)] == self.raw(question, vector)
            seconds, nodes = _timed(lambda: self.graph_branch.retrieve(bundle))
            times["graph_branch"].append(seconds)
            counts["graph_branch_nodes"] += len(nodes)
            query = rag.graph.aquery_data
            seconds, data = _timed(lambda: rag.graph.run(query(question, mode=self.graph_mode, top_k=self.graph_top_k)))
            times["graph_aquery_data"].append(seconds)
            chunk_ids = [c["chunk_id"] for c in data.get("chunks", []) if c.get("chunk_id")][: self.graph_top_k]
            counts["graph_chunks"] += len(chunk_ids)
            seconds, found = _timed(lambda: lookup_nodes(rag.vector_store, chunk_ids))
            times["graph_node_lookup"].append(seconds)
            counts["graph_chunks_found_in_milvus"] += len(found)
        return {name: summarize(t) for name, t in times.items()}, same / len(pairs), counts


def _open(workdir: Path, embedding: str) -> tuple[Any, Any]:
    """Open (or create) the facade over ``workdir`` with the benchmark's embedding and no LLM.

    Raises:
        RuntimeError: If the facade has an LLM (the benchmark measures the offline default).
    """
    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.models.embeddings import LOCAL_EMBED_DIM, local_embedding

    embed_model = make_hashing_embedding(EMBED_DIM) if embedding == "hashing" else local_embedding()
    dim = EMBED_DIM if embedding == "hashing" else LOCAL_EMBED_DIM
    rag = MultimodalRAG(storage_dir=workdir, embed_model=embed_model, embed_dim=dim, top_k=TOP_K)
    if rag.llm is not None or rag.graph.has_llm:
        raise RuntimeError("the benchmark measures the offline default: the facade must have no LLM")
    return rag, embed_model


def _questions(size: int, queries: int, seed: int, embed_model: Any) -> tuple[list[tuple[str, list[float]]], float]:
    """The warm-up and timed questions with their query vectors, and the mean embedding time in ms."""
    topics = make_topics(topic_count(size), random.Random(seed))
    questions = make_questions(topics, queries + WARMUP_QUERIES, seed + 1)
    seconds, vectors = _timed(lambda: [embed_model.get_query_embedding(q) for q in questions])
    return list(zip(questions, vectors)), round(seconds * 1000 / len(questions), 3)


def build_size(
    size: int,
    queries: int,
    seed: int,
    embedding: str,
    workdir: Path,
    log: Callable[[str], None],
    graph_mode: str | None = None,
    max_rss_gb: float = 8.0,
) -> SizeResult:
    """Build a store of ``size`` nodes (run in a fresh process; :func:`query_size` measures it in another).

    Phases: ingest; the first questions right after ingestion, with the store exactly as the package leaves
    it; then every Milvus collection flushed and indexed, and the facade closed.

    Args:
        size: Nodes to store.
        queries: Questions to time per side (the first 10 are also asked right after ingestion).
        seed: Random seed of corpus and questions.
        embedding: ``hashing`` or ``minilm``.
        workdir: Where the store lives.
        log: Progress printer.
        graph_mode: LightRAG mode of the composite's graph retriever (``as_retriever(graph_mode=...)``); the
            facade's default when ``None``.
        max_rss_gb: Stop the run when this process and its children hold more resident memory than this.
    """
    _offline_environment()
    result = SizeResult(requested_chunks=size)
    with PeakRSS(limit_bytes=int(max_rss_gb * 2**30)) as rss:
        rag, embed_model = _open(workdir, embedding)
        topics = make_topics(topic_count(size), random.Random(seed))
        log(f"[{size}] building: {len(topics)} topics")
        _ingest(rag, Corpus(topics, seed), size, result, rss, log)
        result.peak_rss_by_phase_mb["after_build"] = round(rss.sample() / 2**20, 1)
        result.graph = _graph_counts(rag)
        log(f"[{size}] built {result.chunks} nodes from {result.documents} documents "
            f"in {result.build_seconds['total']:.0f} s; graph {result.graph}")

        pairs, result.query_embedding_ms_per_query = _questions(size, queries, seed, embed_model)
        sides = _Sides(rag, graph_mode)
        early = pairs[WARMUP_QUERIES:][:RIGHT_AFTER_INGEST_QUERIES]
        times, _ = _time_pairs([("raw", sides.raw), ("composite", sides.composite_ids)], early)
        result.right_after_ingest = {name: summarize(t) for name, t in times.items()}
        log(f"[{size}] right after ingest: raw p50 {result.right_after_ingest['raw']['p50_ms']} ms, "
            f"composite p50 {result.right_after_ingest['composite']['p50_ms']} ms")

        started = time.perf_counter()
        _flush_and_index(rag.vector_store.client)
        result.build_seconds["flush_and_index"] = round(time.perf_counter() - started, 2)
        rag.close()
    result.peak_rss_mb["build"] = round(rss.peak_tree / 2**20, 1)
    return result


def query_size(
    result: SizeResult,
    queries: int,
    seed: int,
    embedding: str,
    workdir: Path,
    log: Callable[[str], None],
    graph_mode: str | None = None,
    max_rss_gb: float = 8.0,
) -> SizeResult:
    """Open a store built by :func:`build_size` in a fresh process, as a service would, and time the questions.

    Args:
        result: The build figures of this size (filled in further).
        queries: Questions to time per side.
        seed: Random seed of corpus and questions.
        embedding: ``hashing`` or ``minilm``.
        workdir: Where the store lives.
        log: Progress printer.
        graph_mode: LightRAG mode of the composite's graph retriever; the facade's default when ``None``.
        max_rss_gb: Stop the run when this process and its children hold more resident memory than this.
    """
    _offline_environment()
    size = result.requested_chunks
    with PeakRSS(limit_bytes=int(max_rss_gb * 2**30)) as rss:
        started = time.perf_counter()
        rag, embed_model = _open(workdir, embedding)
        result.workarounds.extend(_ensure_loaded(rag))
        rag.graph.run(rag.graph.aopen())  # LightRAG's storages open lazily: open them outside the timed questions
        result.build_seconds["open"] = round(time.perf_counter() - started, 2)
        result.peak_rss_by_phase_mb["after_open"] = round(rss.sample() / 2**20, 1)

        pairs, _ = _questions(size, queries, seed, embed_model)
        warmup, timed = pairs[:WARMUP_QUERIES], pairs[WARMUP_QUERIES:]
        sides = _Sides(rag, graph_mode)
        _time_pairs([("raw", sides.raw), ("composite", sides.composite_ids)], warmup)
        load_before = os.getloadavg()[0]
        times, counts = _time_pairs([("raw", sides.raw), ("composite", sides.composite_ids)], timed)
        result.load_average = {
            "before_timed_queries": round(load_before, 2), "after_timed_queries": round(os.getloadavg()[0], 2)
        }
        result.raw_hybrid = summarize(times["raw"])
        result.composite = summarize(times["composite"])
        result.peak_rss_by_phase_mb["after_queries"] = round(rss.sample() / 2**20, 1)
        log(f"[{size}] raw p50 {result.raw_hybrid['p50_ms']} ms, composite p50 {result.composite['p50_ms']} ms")

        result.components, same, part_counts = sides.components(timed)
        counts.update(part_counts)
        result.vector_retriever_matches_raw = round(same, 3)
        result.composite_config = sides.describe()
        result.mean_results = {k: round(v / len(timed), 2) for k, v in counts.items()}
        result.ratio_p50 = round(result.composite["p50_ms"] / result.raw_hybrid["p50_ms"], 2)
        result.target_ms = round(TARGET_FACTOR * result.raw_hybrid["p50_ms"] + TARGET_SLACK_MS, 2)
        result.meets_target = result.composite["p50_ms"] <= result.target_ms
        rag.close()
    result.peak_rss_mb["query"] = round(rss.peak_tree / 2**20, 1)
    result.peak_rss_mb["max"] = max(result.peak_rss_mb.values())
    return result


# --------------------------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------------------------


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Read the command line.

    Args:
        argv: Arguments (``sys.argv[1:]`` when ``None``).
    """
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000], help="store sizes in chunks")
    parser.add_argument("--queries", type=int, default=200, help="timed questions per side and size")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/query_latency.json"), help="JSON report")
    parser.add_argument(
        "--embedding", choices=("hashing", "minilm"), default="hashing", help="embedding of chunks and questions"
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed of corpus and questions")
    parser.add_argument("--graph-mode", default=None, choices=("local", "global", "hybrid", "mix", "naive"),
                        help="LightRAG mode of the composite's graph retriever (default: the package's graph_mode setting)")
    parser.add_argument("--max-rss-gb", type=float, default=8.0, help="stop a size when its resident memory exceeds this")
    parser.add_argument("--workdir", type=Path, default=None, help="where stores are built (a temporary folder by default)")
    parser.add_argument("--keep", action="store_true", help="keep the stores after the run")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=("build", "query"), default="build", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if any(s < 100 for s in args.sizes):
        parser.error("--sizes must be at least 100 chunks each")
    if args.queries < 1:
        parser.error("--queries must be at least 1")
    return args


def _log(message: str) -> None:
    print(message, flush=True)


def _print_table(results: Sequence[dict[str, Any]]) -> None:
    header = (
        f"{'chunks':>8} {'raw p50':>9} {'raw p95':>9} {'comp p50':>9} {'comp p95':>9} {'ratio':>6} {'target':>8} "
        f"{'ok':>3} {'build s':>8} {'peak RSS MB':>12}"
    )
    print(header)
    for r in results:
        print(
            f"{r['chunks']:>8} {r['raw_hybrid']['p50_ms']:>9.2f} {r['raw_hybrid']['p95_ms']:>9.2f} "
            f"{r['composite']['p50_ms']:>9.2f} {r['composite']['p95_ms']:>9.2f} {r['ratio_p50']:>6.2f} "
            f"{r['target_ms']:>8.2f} {'yes' if r['meets_target'] else 'NO':>3} "
            f"{r['build_seconds']['total']:>8.0f} {r['peak_rss_mb']['max']:>12.0f}"
        )


def _worker(args: argparse.Namespace) -> int:
    """One phase of one size, in this process: ``build`` writes the build figures, ``query`` completes them."""
    if args.workdir is None or args.worker_out is None:
        raise SystemExit("--worker needs --workdir and --worker-out (it is started by the driver)")
    if args.phase == "build":
        result = build_size(
            args.worker, args.queries, args.seed, args.embedding, args.workdir, _log,
            args.graph_mode, args.max_rss_gb,
        )
    else:
        built = SizeResult(**json.loads(args.worker_out.read_text()))
        result = query_size(
            built, args.queries, args.seed, args.embedding, args.workdir, _log, args.graph_mode, args.max_rss_gb
        )
    args.worker_out.write_text(json.dumps(asdict(result), indent=2))
    return 0


def _run_size(args: argparse.Namespace, size: int, workdir: Path, out: Path) -> int:
    """Build then query one size, each phase in a fresh worker process; return the first failing exit code."""
    base = [sys.executable, str(Path(__file__).resolve()), "--worker", str(size), "--worker-out", str(out),
            "--queries", str(args.queries), "--seed", str(args.seed), "--embedding", args.embedding,
            "--max-rss-gb", str(args.max_rss_gb), "--workdir", str(workdir)]
    if args.graph_mode:
        base += ["--graph-mode", args.graph_mode]
    build = [*base, "--phase", "build"]
    for command in (build, [*base, "--phase", "query"]):
        completed = subprocess.run(command, check=False)
        if completed.returncode != 0:
            return completed.returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark: per size, a build process and a query process, then one JSON report and a table.

    Args:
        argv: Command-line arguments.
    """
    args = parse_arguments(argv)
    if args.worker is not None:
        return _worker(args)

    results: list[dict[str, Any]] = []
    root = args.workdir or Path(tempfile.mkdtemp(prefix="mmrag-bench-"))
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            out, workdir = Path(scratch) / f"{size}.json", root / f"store_{size}"
            started = time.perf_counter()
            code = _run_size(args, size, workdir, out)
            if not args.keep:
                shutil.rmtree(workdir, ignore_errors=True)
            if code != 0:
                print(f"size {size}: a worker failed with exit code {code}", file=sys.stderr)
                return code
            record = json.loads(out.read_text())
            record["worker_wall_seconds"] = round(time.perf_counter() - started, 1)
            results.append(record)
    if not args.keep and args.workdir is None:
        shutil.rmtree(root, ignore_errors=True)
    report = {
        "benchmark": "query_latency",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": sys.version.split()[0],
        },
        "settings": {
            "top_k": TOP_K,
            "rrf_k": RRF_K,
            "queries": args.queries,
            "warmup_queries": WARMUP_QUERIES,
            "embedding": args.embedding,
            "embedding_dim": EMBED_DIM,
            "query_embedding": "computed once up front, fed to both sides (excluded from both)",
            "graph_mode": args.graph_mode or "the package's default",
            "target": f"composite p50 <= {TARGET_FACTOR:g} x raw p50 + {TARGET_SLACK_MS:g} ms",
        },
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    _print_table(results)
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
