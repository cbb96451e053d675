"""One settings object: arguments > environment > ``.env`` > offline defaults.

Example:
    >>> from llama_index_mmrag.settings import MMRAGSettings
    >>> s = MMRAGSettings(storage_dir="./store", top_k=5)
    >>> s.use_dashscope      # True only when DASHSCOPE_API_KEY is set
    False
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str, *aliases: str) -> AliasChoices:
    """Accept the field name as a keyword argument and the listed names from the environment."""
    return AliasChoices(name, *aliases)


class MMRAGSettings(BaseSettings):
    """Every knob of llama-index-mmrag, with offline defaults.

    Each field can be given as a keyword argument, an environment variable (the name listed in
    ``.env.example``) or a line in ``.env`` in the working directory, in that order of precedence.

    Example:
        >>> settings = MMRAGSettings(storage_dir="./store", top_k=8)
        >>> settings.top_k, settings.storage_dir.name, settings.use_dashscope
        (8, 'store', False)

        ``MultimodalRAG(settings=settings)`` opens a store with them.

    Args:
        storage_dir: Folder holding Milvus Lite, the LightRAG graph, parsed images and the manifest.
        milvus_uri: A Milvus server, cluster or Zilliz Cloud URI; empty means Milvus Lite in ``storage_dir``.
        milvus_token: Token (or ``user:password``) for a Milvus server or Zilliz Cloud.
        milvus_collection: Collection name; also the LightRAG workspace.
        dashscope_api_key: With a key, DashScope's LLM, VLM and embeddings are used.
        dashscope_base_url: Override of the DashScope HTTP API base URL.
        llm_model: DashScope text model.
        vlm_model: DashScope vision model.
        llm_timeout: Seconds one request to a DashScope model may take (LLM, VLM and embeddings).
        llm_max_retries: Retries of a DashScope call after a rate limit (429), a server error (5xx), a timeout, a
            dropped connection or a garbled answer; other errors (a bad key, a bad request) are never retried.
        llm_retry_backoff: Seconds before the first retry, doubling after each (with jitter); a ``Retry-After``
            the server sends is honoured.
        llm_retry_max_wait: Seconds the waits between retries of one call may add up to.
        embed_model: ``"local"`` (packaged all-MiniLM-L6-v2) or a DashScope embedding model name.
        embed_dim: Dimension of DashScope embeddings (the local model is always 384).
        image_embed_model: The multimodal embedding that searches images by their pixels, in a second vector field
            of the collection: ``none`` (no image field), a DashScope multimodal model (``tongyi-embedding-vision-plus``,
            ``multimodal-embedding-v1``, ...) or ``colour-histogram`` (offline, colours only). Fixed when a store
            is created.
        image_embed_dim: Its dimension (the model's default when not set).
        embed_in_process: Whether the embedding model computes in this process (no timeout, one call at a
            time) or calls a service (a timeout per attempt, retries); ``None`` detects it from the model.
        graph_storage: LightRAG graph storage class (``NetworkXStorage`` or ``Neo4JStorage``).
        graph_mode: LightRAG query mode of the composite retriever's graph branch (``local``, ``global``,
            ``hybrid``, ``mix``, ``naive``), or ``off`` for vector retrieval only.
        graph_chunk_pick: How LightRAG picks the chunks of matched entities and relations: ``WEIGHT`` (by
            how many of them cite a chunk; no extra vector search) or ``VECTOR`` (re-ranked by similarity).
        graph_llm_keywords: With an LLM, let LightRAG ask it for each question's keywords (one more LLM call per
            retrieval in the ``local``, ``global``, ``hybrid`` and ``mix`` modes); off, the keywords are computed
            locally on every path, so retrieval makes no LLM call.
        parser: Parser name: ``auto`` or any RAG-Anything parser name.
        chunk_size: Target chunk size in tokens for text.
        chunk_overlap: Overlap between consecutive text chunks, in tokens.
        top_k: Number of nodes a retriever returns.
        graph_weight: Weight of the graph list in reciprocal-rank fusion.
        vector_weight: Weight of the vector list in reciprocal-rank fusion.
        reference_weight: Weight, in the fusion, of the pages, figures and tables a question names ("page 17",
            "Figure 3"); 0 turns that search off.
        describe_concurrency: How many modal items are described at once.
        page_aggregation: Retrievers return one node per page (its best chunk; see ``page_support``).
        candidate_factor: With page aggregation, how many candidates per returned node are fetched.
        page_support: With page aggregation, the weight of a page's other chunks next to its best one (0: a
            page ranks by its best chunk).
        relevance_floor: Query engines answer "no evidence" when no retrieved chunk reaches this relevance to
            the question: its cosine similarity plus 0.3 x the share of the question's words it contains (0
            turns the floor off). Suited to the packaged MiniLM embedding; re-measure it with
            ``benchmarks/offtopic.py`` for another embedding model.
        image_relevance_floor: The least cosine similarity of a question to a picture, in the image field, at which
            the picture is evidence for it (answered, and ranked with the text search's weight); empty: the image
            model's measured floor (``colour-histogram`` 0.8), and none for a model not measured (its pictures then
            need the text floor, and rank as a third list next to the dense and BM25 ones).
        dense_index: Index type of a new collection's dense field: ``auto`` (``IVF_FLAT`` of 128 lists on
            Milvus Lite, ``AUTOINDEX`` on a server) or a Milvus index type (``HNSW``, ``IVF_SQ8``, ...).
        dense_index_params: That index's build parameters, e.g. ``{"M": 16, "efConstruction": 200}``.
        dense_search_params: Dense search parameters, e.g. ``{"ef": 64}``; empty: an ``IVF`` index is probed
            in every list (exact) up to ``exact_search_max_rows`` rows, in a quarter of them beyond.
        exact_search_max_rows: Largest collection searched exactly (counted when the store opens).
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    storage_dir: Path = Field(Path("./mmrag_storage"), validation_alias=_env("storage_dir", "MMRAG_STORAGE_DIR"))
    milvus_uri: str | None = Field(None, validation_alias=_env("milvus_uri", "MILVUS_URI"))
    milvus_token: str | None = Field(None, validation_alias=_env("milvus_token", "MILVUS_TOKEN"))
    milvus_collection: str = Field("mmrag", validation_alias=_env("milvus_collection", "MILVUS_COLLECTION"))
    dashscope_api_key: str | None = Field(None, validation_alias=_env("dashscope_api_key", "DASHSCOPE_API_KEY"))
    dashscope_base_url: str | None = Field(
        None, validation_alias=_env("dashscope_base_url", "DASHSCOPE_BASE_URL")
    )
    llm_model: str = Field("qwen-max", validation_alias=_env("llm_model", "MMRAG_LLM_MODEL"))
    vlm_model: str = Field("qwen-vl-max", validation_alias=_env("vlm_model", "MMRAG_VLM_MODEL"))
    llm_timeout: float = Field(120.0, validation_alias=_env("llm_timeout", "MMRAG_LLM_TIMEOUT"), gt=0)
    llm_max_retries: int = Field(3, validation_alias=_env("llm_max_retries", "MMRAG_LLM_MAX_RETRIES"), ge=0, le=20)
    llm_retry_backoff: float = Field(1.0, validation_alias=_env("llm_retry_backoff", "MMRAG_LLM_RETRY_BACKOFF"), ge=0)
    llm_retry_max_wait: float = Field(
        60.0, validation_alias=_env("llm_retry_max_wait", "MMRAG_LLM_RETRY_MAX_WAIT"), ge=0
    )
    embed_model: str = Field("local", validation_alias=_env("embed_model", "MMRAG_EMBED_MODEL"))
    embed_dim: int = Field(1024, validation_alias=_env("embed_dim", "MMRAG_EMBED_DIM"), gt=0)
    embed_in_process: bool | None = Field(None, validation_alias=_env("embed_in_process", "MMRAG_EMBED_IN_PROCESS"))
    image_embed_model: str = Field("none", validation_alias=_env("image_embed_model", "MMRAG_IMAGE_EMBED_MODEL"))
    image_embed_dim: int | None = Field(None, validation_alias=_env("image_embed_dim", "MMRAG_IMAGE_EMBED_DIM"), gt=0)
    graph_storage: Literal["NetworkXStorage", "Neo4JStorage"] = Field(
        "NetworkXStorage", validation_alias=_env("graph_storage", "MMRAG_GRAPH_STORAGE")
    )
    graph_mode: Literal["local", "global", "hybrid", "mix", "naive", "off"] = Field(
        "local", validation_alias=_env("graph_mode", "MMRAG_GRAPH_MODE")
    )
    graph_chunk_pick: Literal["WEIGHT", "VECTOR"] = Field(
        "WEIGHT", validation_alias=_env("graph_chunk_pick", "MMRAG_GRAPH_CHUNK_PICK")
    )
    graph_llm_keywords: bool = Field(
        False, validation_alias=_env("graph_llm_keywords", "MMRAG_GRAPH_LLM_KEYWORDS")
    )
    parser: str = Field("auto", validation_alias=_env("parser", "MMRAG_PARSER"))
    chunk_size: int = Field(256, validation_alias=_env("chunk_size", "MMRAG_CHUNK_SIZE"), ge=32, le=8192)
    chunk_overlap: int = Field(32, validation_alias=_env("chunk_overlap", "MMRAG_CHUNK_OVERLAP"), ge=0)
    top_k: int = Field(10, validation_alias=_env("top_k", "MMRAG_TOP_K"), ge=1, le=1000)
    graph_weight: float = Field(0.25, validation_alias=_env("graph_weight", "MMRAG_GRAPH_WEIGHT"), ge=0)
    vector_weight: float = Field(1.0, validation_alias=_env("vector_weight", "MMRAG_VECTOR_WEIGHT"), ge=0)
    reference_weight: float = Field(1.0, validation_alias=_env("reference_weight", "MMRAG_REFERENCE_WEIGHT"), ge=0)
    describe_concurrency: int = Field(
        8, validation_alias=_env("describe_concurrency", "MMRAG_DESCRIBE_CONCURRENCY"), ge=1, le=256
    )

    page_aggregation: bool = Field(True, validation_alias=_env("page_aggregation", "MMRAG_PAGE_AGGREGATION"))
    candidate_factor: int = Field(3, validation_alias=_env("candidate_factor", "MMRAG_CANDIDATE_FACTOR"), ge=1, le=20)
    page_support: float = Field(0.0, validation_alias=_env("page_support", "MMRAG_PAGE_SUPPORT"), ge=0)
    relevance_floor: float = Field(
        0.40, validation_alias=_env("relevance_floor", "MMRAG_RELEVANCE_FLOOR"), ge=0.0, le=1.0
    )
    image_relevance_floor: float | None = Field(
        None, validation_alias=_env("image_relevance_floor", "MMRAG_IMAGE_RELEVANCE_FLOOR"), ge=-1.0, le=1.0
    )
    dense_index: str = Field(
        "auto", validation_alias=_env("dense_index", "MMRAG_DENSE_INDEX"), pattern=r"^(auto|[A-Z][A-Z0-9_]*)$"
    )
    dense_index_params: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_env("dense_index_params", "MMRAG_DENSE_INDEX_PARAMS")
    )
    dense_search_params: dict[str, Any] = Field(
        default_factory=dict, validation_alias=_env("dense_search_params", "MMRAG_DENSE_SEARCH_PARAMS")
    )
    exact_search_max_rows: int = Field(
        100_000, validation_alias=_env("exact_search_max_rows", "MMRAG_EXACT_SEARCH_MAX_ROWS"), ge=0
    )

    @field_validator(
        "milvus_uri", "milvus_token", "dashscope_api_key", "dashscope_base_url", "embed_in_process", "image_embed_dim",
        "image_relevance_floor", mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, value: int, info) -> int:  # type: ignore[no-untyped-def]
        size = info.data.get("chunk_size")
        if size is not None and value >= size:
            raise ValueError(f"chunk_overlap ({value}) must be smaller than chunk_size ({size})")
        return value

    @property
    def use_dashscope(self) -> bool:
        """Whether DashScope models are configured (an API key is set)."""
        return bool(self.dashscope_api_key)

    @property
    def milvus_lite_path(self) -> Path:
        """Where Milvus Lite keeps its data when no ``milvus_uri`` is set."""
        return self.storage_dir / "milvus.db"

    @property
    def effective_milvus_uri(self) -> str:
        """The URI handed to pymilvus: the configured server, or the Milvus Lite path."""
        return self.milvus_uri or str(self.milvus_lite_path.resolve())

    @property
    def graph_dir(self) -> Path:
        """LightRAG's working directory."""
        return self.storage_dir / "lightrag"

    @property
    def parsed_dir(self) -> Path:
        """Where parsers write extracted images and intermediate output."""
        return self.storage_dir / "parsed"
