"""llama-index-mmrag: multimodal RAG for LlamaIndex on RAG-Anything, Milvus and LightRAG, offline by default."""

from __future__ import annotations

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
