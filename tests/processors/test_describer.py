"""ModalDescriber with a model: RAG-Anything's processors, one call per item, cache, concurrency, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llama_index_mmrag.schema import ContentBlock
from llama_index_mmrag.processors import OFFLINE, ModalDescriber, ModalDescriptionError, offline_entity_info
from tests.processors.conftest import DOC, TABLE_BODY
from tests.support.fake_mm_llm import FakeMultiModalLLM

RAG_ANYTHING_SYSTEMS = {
    "image": "You are an expert image analyst. Provide detailed, accurate descriptions.",
    "table": "You are an expert data analyst. Provide detailed table analysis with specific insights.",
    "equation": "You are an expert mathematician. Provide detailed mathematical analysis.",
}


def _tables(count: int, start: int = 0) -> list[ContentBlock]:
    return [
        ContentBlock(
            modality="table", table_body=f"| Shard | Rows |\n|---|---|\n| s{i} | {i} |", page=0, index=i, **DOC
        )
        for i in range(start, start + count)
    ]


async def test_one_model_call_per_item_with_rag_anything_prompts_and_json(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM, blue_png: Path
) -> None:
    describer = ModalDescriber(llm=fake_vlm, vlm=fake_vlm)

    results = await describer.adescribe(doc_blocks)

    assert [r.modality for r in results] == ["image", "table", "equation"]
    assert fake_vlm.kinds == {"image": 1, "table": 1, "equation": 1}
    assert describer.captioner is not None and describer.captioner.calls == {"image": 1, "table": 1, "equation": 1}
    for call in fake_vlm.calls:
        assert call.system_prompt == RAG_ANYTHING_SYSTEMS[call.kind]
        assert "detailed_description" in call.prompt and "entity_info" in call.prompt
    image_call = next(c for c in fake_vlm.calls if c.kind == "image")
    assert image_call.images == [blue_png.read_bytes()]  # the picture itself reached the model
    assert "Context from surrounding content:" in image_call.prompt
    assert "The Query Node serves vector searches." in image_call.prompt
    assert "Section Path: Architecture" in image_call.prompt

    image, table, equation = results
    sha = hashlib.sha256(blue_png.read_bytes()).hexdigest()[:12]
    assert f"mostly blue (sha256:{sha})" in image.description
    assert image.entity_info == {
        "entity_name": "Figure 1: Milvus architecture (image)",  # RAG-Anything appends the type
        "entity_type": "image",
        "summary": "A blue picture Figure 1: Milvus architecture.",
    }
    assert table.description.startswith("The table Table 1: Index types has the columns Index, Recall, Latency")
    assert "relates the variables a, b" in equation.description
    assert {r.model for r in results} == {"FakeMultiModalLLM:fake-vlm"}
    assert [b.description for b in doc_blocks[2:]] == [r.description for r in results]
    assert describer.captioner.host.attempts == []  # no LightRAG storage was touched


async def test_cache_second_run_and_new_instance_make_no_calls(
    doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM, tmp_path: Path
) -> None:
    first = ModalDescriber(llm=fake_vlm, vlm=fake_vlm, cache_dir=tmp_path / "cache")
    before = await first.adescribe(doc_blocks)
    assert len(fake_vlm.calls) == 3

    again = await first.adescribe(doc_blocks)
    fresh = ModalDescriber(llm=fake_vlm, vlm=fake_vlm, cache_dir=tmp_path / "cache")
    reloaded = await fresh.adescribe(doc_blocks)

    assert len(fake_vlm.calls) == 3
    assert [r.cached for r in again + reloaded] == [True] * 6
    assert [r.description for r in reloaded] == [r.description for r in before]
    assert [r.entity_info for r in reloaded] == [r.entity_info for r in before]
    assert fresh.stats.cache_hits == 3 and fresh.stats.total_calls == 0

    other_model = FakeMultiModalLLM(model_name="another-vlm")
    await ModalDescriber(llm=other_model, vlm=other_model, cache_dir=tmp_path / "cache").adescribe(doc_blocks)
    assert len(other_model.calls) == 3  # the model is part of the key


async def test_the_same_item_twice_in_one_run_is_described_once(fake_vlm: FakeMultiModalLLM, blue_png: Path) -> None:
    blocks = [
        ContentBlock(modality="image", img_path=str(blue_png), page=0, index=0, **DOC),
        ContentBlock(modality="image", img_path=str(blue_png), page=1, index=1, **DOC),
        ContentBlock(modality="table", table_body=TABLE_BODY, page=2, index=2, **DOC),
        ContentBlock(modality="table", table_body=TABLE_BODY, page=3, index=3, **DOC),
    ]
    results = await ModalDescriber(llm=fake_vlm, vlm=fake_vlm).adescribe(blocks)

    assert fake_vlm.kinds == {"image": 1, "table": 1}
    assert results[0].description == results[1].description


async def test_concurrency_is_bounded_and_used() -> None:
    slow = FakeMultiModalLLM(delay=0.05)
    describer = ModalDescriber(llm=slow, concurrency=4)

    results = await describer.adescribe(_tables(24))

    assert len(results) == 24 and len(slow.calls) == 24
    # four calls were in flight together (used), never five (bounded); counted, not timed: a busy machine
    # stretches wall time but not how many calls overlap
    assert slow.max_in_flight == 4


async def test_a_failing_model_raises_with_the_item_or_falls_back_when_asked(doc_blocks: list[ContentBlock]) -> None:
    broken = FakeMultiModalLLM(fail_with="quota exhausted")

    with pytest.raises(
        ModalDescriptionError, match=r"milvus_arch\.pdf, page 0, image .*architecture\.png.*quota exhausted"
    ):
        await ModalDescriber(llm=broken, vlm=broken).adescribe(doc_blocks)

    results = await ModalDescriber(llm=broken, vlm=broken, on_error="offline", ocr=False).adescribe(doc_blocks)
    assert [r.model for r in results] == [OFFLINE] * 3
    assert all("quota exhausted" in (r.error or "") for r in results)
    assert results[1].description.startswith("Table: Table 1: Index types")


async def test_missing_image_file_is_an_error_naming_the_file(fake_vlm: FakeMultiModalLLM, tmp_path: Path) -> None:
    block = ContentBlock(modality="image", img_path=str(tmp_path / "gone.png"), page=2, index=0, **DOC)
    with pytest.raises(ModalDescriptionError, match=r"page 2, image .*gone\.png: cannot read the image file"):
        await ModalDescriber(vlm=fake_vlm).adescribe([block])
    assert fake_vlm.calls == []


async def test_a_prose_answer_is_the_description_and_the_entity_is_the_offline_one(
    doc_blocks: list[ContentBlock],
) -> None:
    chatty = FakeMultiModalLLM(non_json=True)
    results = await ModalDescriber(llm=chatty, ocr=False).adescribe(doc_blocks)

    table = next(r for r in results if r.modality == "table")
    assert table.description.startswith("FAKE-VLM ANSWER:")
    assert table.entity_info == offline_entity_info(doc_blocks[3])  # not RAG-Anything's "table_<hash of the answer>"
    assert chatty.kinds == {"table": 1, "equation": 1}  # no vlm: the image was described offline
    assert results[0].model == OFFLINE


def test_sync_describe_runs_the_same_path(doc_blocks: list[ContentBlock], fake_vlm: FakeMultiModalLLM) -> None:
    results = ModalDescriber(llm=fake_vlm, vlm=fake_vlm).describe(doc_blocks)
    assert len(results) == 3 and len(fake_vlm.calls) == 3
