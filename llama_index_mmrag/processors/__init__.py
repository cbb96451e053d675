"""Modal processors: describe images, tables and equations (RAG-Anything with a model, offline without),
as LlamaIndex node postprocessors and ingestion transforms (their knowledge-graph fragments are built in
:mod:`llama_index_mmrag.graph.fragments`).

Example:
    >>> from llama_index_mmrag.processors import ModalDescriber, default_postprocessors
    >>> describer = ModalDescriber()                 # offline: no model needed
    >>> len(default_postprocessors(describer=describer))
    3
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llama_index_mmrag.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from llama_index_mmrag.processors.annotate import annotate_nodes, apply_description
    from llama_index_mmrag.processors.cache import DescriptionCache, cache_key
    from llama_index_mmrag.processors.describer import OFFLINE, DescriberStats, ModalDescriber, ModalDescription
    from llama_index_mmrag.processors.intent import DEFAULT_BOOST, lift_modality, targeted_modalities
    from llama_index_mmrag.processors.items import ModalItem, ModalItemError
    from llama_index_mmrag.processors.offline import describe_offline, neighbouring_text, offline_entity_info
    from llama_index_mmrag.processors.postprocessors import (
        EquationModalPostprocessor,
        ImageModalPostprocessor,
        ModalPostprocessor,
        TableModalPostprocessor,
        default_postprocessors,
    )
    from llama_index_mmrag.processors.rag_anything import ModalDescriptionError, RAGAnythingCaptioner
    from llama_index_mmrag.processors.replies import DescriptionReplyError, parse_description_reply, reply_fallback

# The names load on first use (PEP 562): a module that needs one of them (the graph layer needs ``OFFLINE``,
# a query needs the postprocessors) does not import the describer's RAG-Anything hookup with it.
_MODULES = {
    "annotate": ("annotate_nodes", "apply_description"),
    "cache": ("DescriptionCache", "cache_key"),
    "describer": ("OFFLINE", "DescriberStats", "ModalDescriber", "ModalDescription"),
    "intent": ("DEFAULT_BOOST", "lift_modality", "targeted_modalities"),
    "items": ("ModalItem", "ModalItemError"),
    "offline": ("describe_offline", "neighbouring_text", "offline_entity_info"),
    "postprocessors": (
        "EquationModalPostprocessor",
        "ImageModalPostprocessor",
        "ModalPostprocessor",
        "TableModalPostprocessor",
        "default_postprocessors",
    ),
    "rag_anything": ("ModalDescriptionError", "RAGAnythingCaptioner"),
    "replies": ("DescriptionReplyError", "parse_description_reply", "reply_fallback"),
}
_EXPORTS = {name: f"llama_index_mmrag.processors.{module}" for module, names in _MODULES.items() for name in names}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "DEFAULT_BOOST",
    "OFFLINE",
    "DescriberStats",
    "DescriptionCache",
    "DescriptionReplyError",
    "EquationModalPostprocessor",
    "ImageModalPostprocessor",
    "ModalDescriber",
    "ModalDescription",
    "ModalDescriptionError",
    "ModalItem",
    "ModalItemError",
    "ModalPostprocessor",
    "RAGAnythingCaptioner",
    "TableModalPostprocessor",
    "annotate_nodes",
    "apply_description",
    "cache_key",
    "default_postprocessors",
    "describe_offline",
    "lift_modality",
    "neighbouring_text",
    "offline_entity_info",
    "parse_description_reply",
    "reply_fallback",
    "targeted_modalities",
]
