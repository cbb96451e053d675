"""The plain LlamaIndex pipeline a user would write first, for side-by-side evaluation.

``SimpleDirectoryReader`` (pypdf page text) -> ``SentenceSplitter`` -> the same embedding ->
``MilvusVectorStore`` dense search, in its own Milvus Lite store.
"""

from __future__ import annotations

import time
from pathlib import Path

from llama_index.core import SimpleDirectoryReader, StorageContext, VectorStoreIndex
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.vector_stores.types import ExactMatchFilter, MetadataFilters
from llama_index.vector_stores.milvus import MilvusVectorStore


class BaselinePipeline:
    """Page text -> sentence chunks -> dense vectors in Milvus, as in LlamaIndex's starter tutorial.

    Args:
        embed_model: The embedding (the same one the package uses, for a fair comparison).
        storage_dir: Folder for its own Milvus Lite store.
        dim: The embedding's dimension.

    Example:
        >>> from llama_index_mmrag.models.embeddings import local_embedding
        >>> Path("docs").mkdir()
        >>> Path("docs", "report.pdf").symlink_to(Path("report.pdf").resolve())
        >>> baseline = BaselinePipeline(local_embedding(), storage_dir="baseline_store", dim=384)
        >>> seconds, pages = baseline.ingest(Path("docs"))             # every PDF of the folder, page by page
        >>> pages
        4
        >>> hits = baseline.retriever(top_k=3, doc="report.pdf").retrieve("containers moved per region")
        >>> len(hits), {hit.node.metadata["doc"] for hit in hits}
        (3, {'report.pdf'})
    """

    def __init__(self, embed_model: BaseEmbedding, storage_dir: str | Path, dim: int) -> None:
        self.embed_model = embed_model
        storage_dir = Path(storage_dir)
        storage_dir.mkdir(parents=True, exist_ok=True)
        self.vector_store = MilvusVectorStore(
            uri=str((storage_dir / "baseline.db").resolve()), collection_name="baseline", dim=dim, overwrite=True
        )
        self._index: VectorStoreIndex | None = None

    def ingest(self, docs_dir: Path) -> tuple[float, int]:
        """Read every PDF page, chunk, embed and store; returns ``(seconds, pages)``.

        Args:
            docs_dir: Folder of documents.
        """
        started = time.perf_counter()
        documents = SimpleDirectoryReader(input_dir=str(docs_dir), required_exts=[".pdf"]).load_data(show_progress=False)
        page_of_file: dict[str, int] = {}
        for document in documents:  # pages arrive in order per file: their position is the 0-based page
            name = document.metadata["file_name"]
            document.metadata["doc"] = name
            document.metadata["page"] = page_of_file.get(name, 0)
            page_of_file[name] = document.metadata["page"] + 1
        storage = StorageContext.from_defaults(vector_store=self.vector_store)
        self._index = VectorStoreIndex.from_documents(
            documents,
            storage_context=storage,
            embed_model=self.embed_model,
            transformations=[SentenceSplitter()],
            show_progress=False,
        )
        return time.perf_counter() - started, len(documents)

    def retriever(self, top_k: int = 10, doc: str | None = None) -> BaseRetriever:
        """Dense retrieval, optionally restricted to one document with the store's own metadata filter.

        Args:
            top_k: How many nodes.
            doc: The document to restrict to.
        """
        if self._index is None:
            raise RuntimeError("call ingest() before retriever()")
        filters = MetadataFilters(filters=[ExactMatchFilter(key="doc", value=doc)]) if doc else None
        return self._index.as_retriever(similarity_top_k=top_k, filters=filters)
