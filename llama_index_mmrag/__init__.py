"""llama-index-mmrag: multimodal RAG for LlamaIndex on RAG-Anything, Milvus and LightRAG, offline by default."""

from __future__ import annotations

# First: gRPC reads its log settings once, when pymilvus imports it (see llama_index_mmrag.logs).
from llama_index_mmrag import logs as _logs  # noqa: F401  isort: skip
# Before LightRAG is imported: it imports pypinyin (about 55 MB resident) to sort Chinese file names in its server's
# listings, which this package never shows; it loads on first use instead (see llama_index_mmrag.lazy_exports).
from llama_index_mmrag.lazy_exports import defer_import as _defer_import  # isort: skip

_defer_import("pypinyin")

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.doc_names import AmbiguousDocumentError, UnknownDocumentError
    from llama_index_mmrag.errors import InputError, MMRAGError, ModelError, StoreError
    from llama_index_mmrag.graph.file_storage import GraphFileError
    from llama_index_mmrag.graph.store import GraphBuildError
    from llama_index_mmrag.graph.workspaces import WorkspaceInUseError
    from llama_index_mmrag.index.lock import StoreBusyError
    from llama_index_mmrag.manifest import StoreIdentityError
    from llama_index_mmrag.modalities import UnknownModalityError
    from llama_index_mmrag.models.adapters import EmbeddingTimeoutError, NoLLMConfiguredError
    from llama_index_mmrag.models.dashscope import DashScopeError
    from llama_index_mmrag.models.image_embedding import ImageEmbeddingSettingError
    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.parsing.ocr import ImageReadError
    from llama_index_mmrag.processors import (
        EquationModalPostprocessor,
        ImageModalPostprocessor,
        ModalDescriber,
        TableModalPostprocessor,
    )
    from llama_index_mmrag.processors.items import ModalItemError
    from llama_index_mmrag.processors.rag_anything import GraphAccessError, ModalDescriptionError
    from llama_index_mmrag.processors.replies import DescriptionReplyError
    from llama_index_mmrag.ingestion.report import IngestReport
    from llama_index_mmrag.rag import MultimodalRAG
    from llama_index_mmrag.readers.rag_anything import BatchLoadError, RAGAnythingReader
    from llama_index_mmrag.retrievers.arguments import ScopeArgumentError
    from llama_index_mmrag.retrievers.composite import MultimodalCompositeRetriever
    from llama_index_mmrag.retrievers.lightrag import LightRAGRetriever
    from llama_index_mmrag.stores.literals import FilterError
    from llama_index_mmrag.retrievers.milvus_modal import MilvusModalRetriever
    from llama_index_mmrag.retrievers.question import EmptyQuestionError
    from llama_index_mmrag.retrievers.references import ReferenceRetriever
    from llama_index_mmrag.settings import MMRAGSettings
    from llama_index_mmrag.stores.lite_server import LiteServerError

# The public names load on first use (PEP 562), so `import llama_index_mmrag.cli` and `mmrag --help` do not
# import LlamaIndex, Milvus, LightRAG and torch.
_EXPORTS = {
    "EquationModalPostprocessor": "llama_index_mmrag.processors",
    "ImageModalPostprocessor": "llama_index_mmrag.processors",
    "ModalDescriber": "llama_index_mmrag.processors",
    "TableModalPostprocessor": "llama_index_mmrag.processors",
    "IngestReport": "llama_index_mmrag.ingestion.report",
    "MultimodalRAG": "llama_index_mmrag.rag",
    "RAGAnythingReader": "llama_index_mmrag.readers.rag_anything",
    "MultimodalCompositeRetriever": "llama_index_mmrag.retrievers.composite",
    "LightRAGRetriever": "llama_index_mmrag.retrievers.lightrag",
    "MilvusModalRetriever": "llama_index_mmrag.retrievers.milvus_modal",
    "ReferenceRetriever": "llama_index_mmrag.retrievers.references",
    "MMRAGSettings": "llama_index_mmrag.settings",
    # Errors: MMRAGError is the root, InputError, StoreError and ModelError its families (see errors.py).
    "MMRAGError": "llama_index_mmrag.errors",
    "InputError": "llama_index_mmrag.errors",
    "StoreError": "llama_index_mmrag.errors",
    "ModelError": "llama_index_mmrag.errors",
    "ParseError": "llama_index_mmrag.parsing.errors",
    "ImageReadError": "llama_index_mmrag.parsing.ocr",
    "BatchLoadError": "llama_index_mmrag.readers.rag_anything",
    "ModalItemError": "llama_index_mmrag.processors.items",
    "UnknownDocumentError": "llama_index_mmrag.doc_names",
    "AmbiguousDocumentError": "llama_index_mmrag.doc_names",
    "EmptyQuestionError": "llama_index_mmrag.retrievers.question",
    "ScopeArgumentError": "llama_index_mmrag.retrievers.arguments",
    "FilterError": "llama_index_mmrag.stores.literals",
    "StoreBusyError": "llama_index_mmrag.index.lock",
    "StoreIdentityError": "llama_index_mmrag.manifest",
    "UnknownModalityError": "llama_index_mmrag.modalities",
    "WorkspaceInUseError": "llama_index_mmrag.graph.workspaces",
    "LiteServerError": "llama_index_mmrag.stores.lite_server",
    "GraphFileError": "llama_index_mmrag.graph.file_storage",
    "GraphBuildError": "llama_index_mmrag.graph.store",
    "GraphAccessError": "llama_index_mmrag.processors.rag_anything",
    "ModalDescriptionError": "llama_index_mmrag.processors.rag_anything",
    "DescriptionReplyError": "llama_index_mmrag.processors.replies",
    "NoLLMConfiguredError": "llama_index_mmrag.models.adapters",
    "EmbeddingTimeoutError": "llama_index_mmrag.models.adapters",
    "DashScopeError": "llama_index_mmrag.models.dashscope",
    "ImageEmbeddingSettingError": "llama_index_mmrag.models.image_embedding",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "AmbiguousDocumentError",
    "BatchLoadError",
    "DashScopeError",
    "DescriptionReplyError",
    "EmbeddingTimeoutError",
    "EmptyQuestionError",
    "EquationModalPostprocessor",
    "FilterError",
    "GraphAccessError",
    "GraphBuildError",
    "GraphFileError",
    "ImageEmbeddingSettingError",
    "ImageModalPostprocessor",
    "ImageReadError",
    "IngestReport",
    "InputError",
    "LightRAGRetriever",
    "LiteServerError",
    "MMRAGError",
    "MMRAGSettings",
    "MilvusModalRetriever",
    "ModalDescriber",
    "ModalDescriptionError",
    "ModalItemError",
    "ModelError",
    "MultimodalCompositeRetriever",
    "MultimodalRAG",
    "NoLLMConfiguredError",
    "ParseError",
    "RAGAnythingReader",
    "ReferenceRetriever",
    "ScopeArgumentError",
    "StoreBusyError",
    "StoreError",
    "StoreIdentityError",
    "TableModalPostprocessor",
    "UnknownDocumentError",
    "UnknownModalityError",
    "WorkspaceInUseError",
]
__version__ = "0.1.0"
