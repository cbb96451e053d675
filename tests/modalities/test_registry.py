"""A modality registered in-process (a toy "audio" with transcripts, no new file type) is picked up by every
place that lists, validates or maps modalities: the CLI's ``--modality``, scope validation, query intent,
content-list parsing, nodes, offline descriptions, the describer's items and the graph's item entities."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app
from llama_index_mmrag.modalities import MODALITIES, Modality, UnknownModalityError, get
from llama_index_mmrag.schema import ContentBlock, block_from_node, blocks_to_nodes

AUDIO = Modality(
    name="audio",
    label="recording",
    entity_type="RECORDING",
    caption_labels=("recording", "audio"),
    intent=r"\b(recordings?|audio|podcasts?)\b",
)
AUDIO_ITEM = {
    "type": "audio",
    "text": "Speaker one explains that Milvus separates storage from compute.",
    "audio_caption": ["Interview with the Milvus architects"],
    "page_idx": 0,
}


@pytest.fixture
def audio() -> Iterator[Modality]:
    MODALITIES.register(AUDIO)
    try:
        yield AUDIO
    finally:
        MODALITIES.unregister("audio")


def _blocks() -> list[ContentBlock]:
    text = {"type": "text", "text": "Milvus is a vector database built for scale.", "page_idx": 0}
    return [
        ContentBlock.from_content_item(item, doc="talk.txt", doc_id="h", parser="test", index=i)
        for i, item in enumerate([text, AUDIO_ITEM])
    ]


def test_the_builtin_modalities_are_registered_in_order() -> None:
    assert list(MODALITIES) == ["text", "image", "table", "equation"]
    assert [m.name for m in MODALITIES.modal()] == ["image", "table", "equation"]
    assert MODALITIES.by_suffix(".PNG") is get("image")
    with pytest.raises(UnknownModalityError, match="unknown modality 'audio'; choose from text, image"):
        get("audio")


def test_the_cli_accepts_a_registered_modality_and_lists_it(audio: Modality, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-store")
    unknown = CliRunner().invoke(app, ["query", "x", "--store", missing, "--modality", "video"])
    assert unknown.exit_code == 2
    assert "unknown modality 'video'; choose from text, image, table, equation, audio" in unknown.output
    known = CliRunner().invoke(app, ["query", "x", "--store", missing, "--modality", "audio"])
    assert "unknown modality" not in known.output  # it gets past the check, to the missing store


def test_scope_validation_accepts_a_registered_modality_only_while_registered(audio: Modality) -> None:
    from llama_index_mmrag.retrievers.arguments import ScopeArgumentError, check_modalities

    assert check_modalities(["audio", "table"]) == ["audio", "table"]
    MODALITIES.unregister("audio")
    with pytest.raises(ScopeArgumentError, match="unknown modality 'audio'"):
        check_modalities("audio")
    MODALITIES.register(AUDIO)  # the fixture removes it again


def test_query_intent_targets_a_registered_modality(audio: Modality) -> None:
    from llama_index_mmrag.processors.intent import targeted_modalities

    assert targeted_modalities("What does the recording say about storage?") == {"audio"}
    assert targeted_modalities("Which table and which podcast mention Milvus?") == {"audio", "table"}


def test_a_registered_modality_flows_from_content_item_to_node_item_and_description(audio: Modality) -> None:
    from llama_index_mmrag.processors.items import items_from_blocks
    from llama_index_mmrag.processors.offline import describe_offline

    blocks = _blocks()
    assert blocks[1].modality == "audio" and blocks[1].captions == ["Interview with the Milvus architects"]
    assert blocks[1].to_content_item()["audio_caption"] == ["Interview with the Milvus architects"]
    nodes = blocks_to_nodes(blocks)
    assert [n.metadata["modality"] for n in nodes] == ["text", "audio"]
    assert "separates storage from compute" in nodes[1].get_content()
    back, _ = block_from_node(nodes[1])  # node -> block, as the describer and postprocessors read nodes
    assert (back.modality, back.captions, back.page) == ("audio", blocks[1].captions, 0)
    items = items_from_blocks(blocks)
    assert [item.block.modality for item in items] == ["audio"]
    description = describe_offline(items[0].block, items[0].neighbour_text)
    assert description.startswith("Recording: Interview with the Milvus architects")
    assert "Context: Milvus is a vector database" in description


def test_the_graph_gives_a_registered_modality_its_item_entity(audio: Modality) -> None:
    from llama_index_mmrag.graph.extract import GraphChunk, build_custom_kg

    chunk = GraphChunk(
        "chunk-a", AUDIO_ITEM["text"], doc="talk.txt", page=0, modality="audio", captions=tuple(AUDIO_ITEM["audio_caption"])
    )
    kg = build_custom_kg([chunk])
    items = [e for e in kg["entities"] if e["entity_type"] == "RECORDING"]
    assert [e["entity_name"] for e in items] == ["recording: interview with the milvus architects in talk.txt"]


def test_an_unregistered_modality_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown modality 'audio'; choose from text, image, table, equation"):
        ContentBlock(modality="audio", doc="talk.txt", doc_id="h", parser="test")
    with pytest.raises(ValueError, match="content item 0 has unsupported type 'audio'; choose from text, image, table, equation"):
        ContentBlock.from_content_item(AUDIO_ITEM, doc="talk.txt", doc_id="h", parser="test", index=0)


def test_a_modality_name_or_suffix_that_would_break_lookups_is_refused() -> None:
    with pytest.raises(ValueError, match="lower-case identifier"):
        Modality(name="Audio Clip", label="clip")
    with pytest.raises(ValueError, match="start with '.'"):
        Modality(name="audio", label="clip", suffixes=frozenset({"wav"}))


def test_a_registered_modality_with_its_own_file_type_is_routed_to_the_parser_hookup(tmp_path: Path) -> None:
    from llama_index_mmrag.parsing.errors import ParseError
    from llama_index_mmrag.parsing.parser import OfflineParser
    from llama_index_mmrag.parsing.select import choose_parser

    recording = tmp_path / "interview.amr"  # a suffix no parser reads
    recording.write_bytes(b"#!AMR\n")
    with pytest.raises(ParseError, match="unsupported file type .amr"):
        choose_parser(recording)
    MODALITIES.register(Modality(name="audio", label="recording", entity_type="RECORDING", suffixes=frozenset({".amr"})))
    try:
        choice = choose_parser(recording)
        assert choice.name == "mmrag" and choice.reason.startswith("audio: one recording per file")
        with pytest.raises(ParseError, match="no offline parser hookup reads audio files; add one in parse_modality_file"):
            OfflineParser().parse_document(recording, output_dir=str(tmp_path / "out"))
    finally:
        MODALITIES.unregister("audio")
