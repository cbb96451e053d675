"""llama-index-mmrag: multimodal RAG for LlamaIndex on RAG-Anything, Milvus and LightRAG, offline by default."""

from __future__ import annotations

# First: gRPC reads its log settings once, when pymilvus imports it (see llama_index_mmrag.logs).
from llama_index_mmrag import logs as _logs  # noqa: F401  isort: skip

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.processors import (
        EquationModalPostprocessor,
        ImageModalPostprocessor,
        ModalDescriber,
        TableModalPostprocessor,
    )
    from llama_index_mmrag.rag import IngestReport, MultimodalRAG
    from llama_index_mmrag.readers.rag_anything import RAGAnythingReader
    from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever
    from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
    from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
    from llama_index_mmrag.retrievers.references import ReferenceRetriever
    from llama_index_mmrag.settings import MMRAGSettings

# The public names load on first use (PEP 562), so `import llama_index_mmrag.cli` and `mmrag --help` do not
# import LlamaIndex, Milvus, LightRAG and torch.
_EXPORTS = {
    "EquationModalPostprocessor": "llama_index_mmrag.processors",
    "ImageModalPostprocessor": "llama_index_mmrag.processors",
    "ModalDescriber": "llama_index_mmrag.processors",
    "TableModalPostprocessor": "llama_index_mmrag.processors",
    "IngestReport": "llama_index_mmrag.rag",
    "MultimodalRAG": "llama_index_mmrag.rag",
    "RAGAnythingReader": "llama_index_mmrag.readers.rag_anything",
    "MultimodalCompositeRetriever": "llama_index_mmrag.retrievers.composite",
    "LightRAGRetriever": "llama_index_mmrag.retrievers.lightrag",
    "MilvusModalRetriever": "llama_index_mmrag.retrievers.milvus_modal",
    "ReferenceRetriever": "llama_index_mmrag.retrievers.references",
    "MMRAGSettings": "llama_index_mmrag.settings",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "EquationModalPostprocessor",
    "ImageModalPostprocessor",
    "IngestReport",
    "LightRAGRetriever",
    "MMRAGSettings",
    "MilvusModalRetriever",
    "ModalDescriber",
    "MultimodalCompositeRetriever",
    "MultimodalRAG",
    "RAGAnythingReader",
    "ReferenceRetriever",
    "TableModalPostprocessor",
]
__version__ = "0.1.0"
