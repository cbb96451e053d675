"""A model's description reply: RAG-Anything's JSON is taken as the model wrote it; any other reply (prose, cut off,
empty, without the entity) still gives the item its deterministic offline entity, with a warning naming the file and
the item, never a lost item or a made-up ``<type>_<hash>`` / ``unknown_entity``."""

from __future__ import annotations

import json
import logging

import pytest

from llama_index_mmrag.processors import ModalDescriber, offline_entity_info
from llama_index_mmrag.processors.replies import DescriptionReplyError, parse_description_reply
from llama_index_mmrag.schema import ContentBlock
from tests.support.fake_mm_llm import FakeCall, FakeMultiModalLLM

ENTITY = {"entity_name": "Cosine similarity", "entity_type": "equation", "summary": "Similarity of two vectors."}


@pytest.mark.parametrize(
    "reply",
    [
        json.dumps({"detailed_description": "The cosine formula.", "entity_info": ENTITY}),
        "Here is the analysis:\n```json\n"
        + json.dumps({"detailed_description": "The cosine formula.", "entity_info": ENTITY})
        + "\n```\nHope it helps.",
        "<think>It is a formula.</think>"
        + json.dumps({"detailed_description": "The cosine formula.", "entity_info": ENTITY}),
    ],
    ids=["json", "fenced-json-in-prose", "thinking-tags"],
)
def test_rag_anythings_json_is_read_as_the_model_wrote_it(reply: str) -> None:
    assert parse_description_reply(reply) == ("The cosine formula.", ENTITY)


def test_latex_backslashes_in_the_json_survive() -> None:
    latex = '"\\cos(a, b) is \\frac{a \\cdot b}{|a||b|}"'  # single backslashes: not valid JSON escapes
    reply = '{"detailed_description": ' + latex + ', "entity_info": ' + json.dumps(ENTITY) + "}"
    description, entity = parse_description_reply(reply)
    assert "\\frac{a" in description and "\\cos(a, b)" in description and entity == ENTITY


UNUSABLE = {
    "prose": "The figure shows the Milvus architecture with its query nodes.",
    "empty": "",
    "cut-off": '{"detailed_description": "A diagram of the Milvus arch',
    "no-entity": json.dumps({"detailed_description": "A diagram of the Milvus architecture."}),
    "entity-without-summary": json.dumps(
        {"detailed_description": "A diagram.", "entity_info": {"entity_name": "Diagram", "entity_type": "image"}}
    ),
    "entity-not-an-object": json.dumps({"detailed_description": "A diagram.", "entity_info": "Diagram"}),
    "malformed-without-name": '{"detailed_description": "A diagram." "entity_info": {"entity_type": "image"',
    "prompt-template-repeated": "Sure. " + json.dumps(
        {
            "detailed_description": "A comprehensive analysis of the item",
            "entity_info": {"entity_name": "descriptive name for this table", "entity_type": "table", "summary": "..."},
        }
    ),
}


@pytest.mark.parametrize("reply", UNUSABLE.values(), ids=UNUSABLE.keys())
def test_a_reply_without_rag_anythings_json_or_its_entity_is_refused(reply: str) -> None:
    with pytest.raises(DescriptionReplyError, match="not RAG-Anything's JSON|repeats RAG-Anything's prompt template"):
        parse_description_reply(reply)


class FixedReplyVLM(FakeMultiModalLLM):
    """The fake vision LLM (recording calls), answering every modal prompt with one fixed reply."""

    reply: str = ""

    def _respond(self, call: FakeCall) -> str:
        self.calls.append(call)
        return self.reply


@pytest.mark.parametrize("shape", UNUSABLE, ids=UNUSABLE.keys())
async def test_every_item_keeps_a_description_and_gets_its_offline_entity_with_a_warning(
    shape: str, doc_blocks: list[ContentBlock], caplog: pytest.LogCaptureFixture
) -> None:
    reply = UNUSABLE[shape]
    vlm = FixedReplyVLM(reply=reply)
    items = [b for b in doc_blocks if b.modality != "text"]

    with caplog.at_level(logging.WARNING, logger="llama_index_mmrag"):
        results = await ModalDescriber(vlm=vlm).adescribe(doc_blocks)

    assert len(vlm.calls) == len(items) == len(results)  # one model call per item, nothing retried
    for block, result in zip(items, results):
        assert result.entity_info == offline_entity_info(block)  # named from its caption / LaTeX and its document
        assert result.model == "FixedReplyVLM:fake-vlm" and result.description.strip()
        if shape == "prose":
            assert result.description == reply
        elif shape == "no-entity":
            assert result.description == "A diagram of the Milvus architecture."
        elif shape in ("entity-without-summary", "entity-not-an-object", "malformed-without-name"):
            assert result.description == "A diagram."  # its detailed_description, read even from broken JSON
        else:  # nothing usable in the reply: the offline description
            assert result.description.startswith(("Image", "Table", "Equation")), result.description
        if shape == "prompt-template-repeated":
            assert "A comprehensive analysis" not in result.description
        warnings = [r.getMessage() for r in caplog.records if result.entity_info["entity_name"] in r.getMessage()]
        assert len(warnings) == 1 and "milvus_arch.pdf, page 0" in warnings[0] and block.modality in warnings[0]
