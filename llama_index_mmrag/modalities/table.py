"""Tables: markdown bodies kept in ``table_body`` metadata, described by RAG-Anything's
``TableModalProcessor``, or offline from their shape, headers and caption.

Example:
    >>> TABLE.named_in("Which rows list recall?"), TABLE.named_in("How does the hash table scale?")
    (True, False)
"""

from __future__ import annotations

from llama_index_mmrag.modalities.base import Modality

TABLE = Modality(
    name="table",
    label="table",
    entity_type="TABLE",
    caption_labels=("table", "tab"),
    intent=(
        r"(?<!hash )(?<!lookup )(?<!routing )(?<!symbol )(?<!page )\b(tables?|tabular|spreadsheets?|columns?|"
        r"which rows?|the rows?|tabulated)\b"
    ),
    body_key="table_body",
    processor="TableModalProcessor",
)
