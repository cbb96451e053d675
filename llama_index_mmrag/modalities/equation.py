"""Equations: LaTeX kept in ``latex`` metadata, described by RAG-Anything's ``EquationModalProcessor``, or
offline from the formula and its neighbouring text.

Example:
    >>> EQUATION.entity_type, EQUATION.named_in("Give the formula for recall")
    ('EQUATION', True)
"""

from __future__ import annotations

from llama_index_mmrag.modalities.base import Modality

EQUATION = Modality(
    name="equation",
    label="equation",
    entity_type="EQUATION",
    caption_labels=("equation", "eq"),
    intent=(
        r"\b(equations?|formulas?|formulae|latex|math(?:ematical)? expressions?|expressions? for|derivations?|"
        r"derive[sd]?|computed as|closed[- ]form|eq\.)"
    ),
    body_key="latex",
    processor="EquationModalProcessor",
)
