"""A described item's node text: its description, then each part of its own content (captions, a table's body, an
equation's LaTeX, the words read in a picture) the description does not hold, added alike on both ingestion
routes."""

from __future__ import annotations

from llama_index_mmrag.ingestion.describe import adescribe_blocks
from llama_index_mmrag.processors import ModalDescriber, ModalDescription
from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
from tests.support.fake_mm_llm import FakeMultiModalLLM

OCR_WORDS = "QUARTERLY REVENUE"


def _read_picture(blocks: list[ContentBlock]) -> list[ContentBlock]:
    """The blocks with words read in the picture by its parser (the fake model never repeats them)."""
    return [b.model_copy(update={"text": OCR_WORDS, "text_read": True}) if b.modality == "image" else b for b in blocks]


def _modal_texts(blocks: list[ContentBlock]) -> dict[str, tuple[str, str]]:
    return {n.metadata["modality"]: (n.node_id, n.get_content()) for n in blocks_to_nodes(blocks)}


async def test_a_models_description_is_followed_by_the_content_it_leaves_out_and_an_offline_one_by_nothing(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    blocks = _read_picture(doc_blocks)
    results = await ModalDescriber(llm=fake_vlm, vlm=fake_vlm).adescribe(blocks)
    texts = _modal_texts(blocks)
    for block, result in zip([b for b in blocks if b.modality != "text"], results):
        _, text = texts[block.modality]
        assert text.startswith(result.description)
        for part in block.raw_parts:
            assert text.count(part) == 1, (block.modality, part)  # searchable, and said once
    assert OCR_WORDS not in results[0].description and texts["image"][1].endswith(OCR_WORDS)
    table_body = next(b.table_body for b in blocks if b.modality == "table")
    assert table_body not in results[1].description and texts["table"][1].endswith(table_body)

    offline = _read_picture(doc_blocks)  # an offline description holds the content: node texts (and ids) unchanged
    described = await ModalDescriber().adescribe(offline)
    assert [_modal_texts(offline)[r.modality][1] for r in described] == [r.description for r in described]


async def test_both_ingestion_routes_add_the_same_content(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM
) -> None:
    def added(blocks: list[ContentBlock], results: list[ModalDescription]) -> dict[str, str]:
        texts = _modal_texts(blocks)
        assert all(texts[r.modality][1].startswith(r.description) for r in results)
        return {r.modality: texts[r.modality][1][len(r.description) :] for r in results}

    by_blocks = _read_picture(doc_blocks)
    from_blocks = await ModalDescriber(llm=fake_vlm, vlm=fake_vlm).adescribe(by_blocks)
    by_documents = _read_picture(doc_blocks)  # the facade's route: each block as a document, described as a node
    from_documents = await adescribe_blocks(ModalDescriber(llm=fake_vlm, vlm=fake_vlm), by_documents)
    assert added(by_documents, from_documents) == added(by_blocks, from_blocks)
    assert added(by_blocks, from_blocks)["image"] == "\n\n" + OCR_WORDS

