"""Images: figures, charts and photos (``ImageNode``), described by RAG-Anything's ``ImageModalProcessor``
with a vision model, or offline from OCR text, caption and neighbouring text.

Example:
    >>> IMAGE.entity_type, IMAGE.named_in("Which chart shows recall?"), ".png" in IMAGE.suffixes
    ('FIGURE', True, True)
"""

from __future__ import annotations

from llama_index_mmrag.modalities.base import Modality

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"})
"""Image files the package ingests as one image each."""

IMAGE = Modality(
    name="image",
    label="figure",
    entity_type="FIGURE",
    caption_labels=("figure", "fig", "image", "chart", "diagram"),
    intent=(
        r"\b(figures?|fig\.|charts?|diagrams?|pictures?|images?|photos?|photographs?|plots?|illustrations?|"
        r"screenshots?|drawings?|graphics?|infographics?|flowcharts?|schematics?|bar graphs?|line graphs?|"
        r"pie charts?|visuali[sz]ations?|shown in the|depicted|depicts?|illustrated)\b"
    ),
    suffixes=IMAGE_SUFFIXES,
    node="image",
    body_key="image_path",
    processor="ImageModalProcessor",
    vision=True,
)
