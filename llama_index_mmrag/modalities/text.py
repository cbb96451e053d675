"""Text: paragraphs and headings, chunked per page; no item entity, never described.

Example:
    >>> TEXT.is_modal, TEXT.node
    (False, 'text')
"""

from __future__ import annotations

from llama_index_mmrag.modalities.base import Modality

TEXT = Modality(name="text", label="passage")
