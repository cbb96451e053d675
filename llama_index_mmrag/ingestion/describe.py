"""The describe stage: every image, table and equation of a parsed file gets its description.

The blocks go through :func:`~llama_index_mmrag.processors.annotate.adescribe_nodes` as the documents
``RAGAnythingReader`` gives for them, which is exactly what the modal transforms
(``ImageModalPostprocessor`` ...) do to those documents in a LlamaIndex ``IngestionPipeline``: one describe call,
one OCR rule (an image is read once, by its parser or by the describer), so both routes give the same texts.

Example:
    >>> from llama_index_mmrag.processors.describer import ModalDescriber
    >>> from llama_index_mmrag.runtime import engine_loop
    >>> from llama_index_mmrag.schema import ContentBlock
    >>> blocks = [ContentBlock(modality="equation", latex="E = mc^2", doc="p.md", doc_id="h", parser="mmrag")]
    >>> _ = engine_loop().run(adescribe_blocks(ModalDescriber(), blocks))
    >>> blocks[0].description
    'Equation: E = mc^2'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from llama_index_mmrag.processors.annotate import adescribe_nodes

if TYPE_CHECKING:
    from llama_index_mmrag.processors.describer import ModalDescriber, ModalDescription
    from llama_index_mmrag.schema import ContentBlock


async def adescribe_blocks(describer: ModalDescriber, blocks: Sequence[ContentBlock]) -> list[ModalDescription]:
    """Describe a document's modal blocks; each gets its ``description`` (the text its node will have).

    Args:
        describer: Who describes (a model, or offline).
        blocks: One document's blocks in reading order (text blocks give the context).

    Returns:
        One description per modal block, in block order (their entity metadata goes on the nodes).

    Raises:
        ModalDescriptionError: When a model call fails and the describer's ``on_error`` is ``"raise"``.
    """
    from llama_index_mmrag.readers.rag_anything import block_to_document

    documents = [block_to_document(block) for block in blocks]
    results = await adescribe_nodes(describer, documents)
    for block, document in zip(blocks, documents):
        if block.modality != "text":
            block.description = document.get_content()
    return results
