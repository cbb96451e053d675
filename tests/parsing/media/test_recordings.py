"""Audio and video as documents: a real MP4 (slides burned into its frames, a subtitle track inside it) and a
real WAV with a transcript beside it, ingested through the facade into a real store, then found by a question
at the right time, with a citation a person can follow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app, source_record
from llama_index_mmrag.synthesis import citation
from tests.support.media import STANDUP_CUES, TALK_CUES, TALK_SLIDES, make_silent_wav, make_standup_wav, make_talk_mp4


@pytest.fixture(scope="module")
def recordings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("recordings")
    make_talk_mp4(folder / "talk.mp4")
    make_standup_wav(folder / "standup.wav")
    make_silent_wav(folder / "silent.wav", 3.0)  # no transcript beside it, no subtitles
    return folder


@pytest.fixture(scope="module")
def media_rag(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    from llama_index_mmrag import MultimodalRAG

    store = tmp_path_factory.mktemp("media-store") / "store"
    with MultimodalRAG(storage_dir=store) as rag:
        report = rag.ingest(
            [recordings / "talk.mp4", recordings / "silent.wav", recordings / "standup.wav"], show_progress=False
        )
        yield rag, report


def test_a_recording_with_nothing_to_read_is_refused_with_what_to_provide_and_the_batch_goes_on(media_rag: tuple[Any, Any]) -> None:
    _, report = media_rag
    assert sorted(report.ingested) == ["standup.wav", "talk.mp4"]
    [failure] = report.failures
    assert failure.path.name == "silent.wav"
    assert "silent.srt" in failure.reason and "silent.vtt" in failure.reason and "silent.txt" in failure.reason


def test_each_slide_of_a_video_is_a_keyframe_found_by_its_text_at_the_time_it_is_shown(media_rag: tuple[Any, Any]) -> None:
    rag, _ = media_rag
    retriever = rag.as_retriever(modalities=["image"], doc="talk.mp4", top_k=3)
    for slide, next_start in zip(TALK_SLIDES, [s.start_s for s in TALK_SLIDES[1:]] + [32.0]):
        top = retriever.retrieve(f"{slide.title}: {slide.body}")[0]
        meta = top.node.metadata
        assert (meta["start_s"], meta["end_s"]) == (slide.start_s, next_start), slide
        assert meta["page"] is None and slide.title in top.node.get_content()
        assert Path(top.node.image_path).is_file()
        assert Path(top.node.image_path).is_relative_to(rag.settings.storage_dir.resolve())  # kept in the store
    rail = retriever.retrieve("Rail Spur Traffic: one fifth of all boxes")[0]
    assert citation(rail) == "[talk.mp4, 0:24, image]"
    record = source_record(rail)  # what `mmrag query --json` prints for it
    assert (record["page"], record["start_s"], record["end_s"]) == (None, 24.0, 32.0)


def test_a_videos_subtitle_track_is_time_stamped_text(media_rag: tuple[Any, Any]) -> None:
    rag, _ = media_rag
    top = rag.as_retriever(modalities=["text"], doc="talk.mp4", top_k=1).retrieve("dwell time of a container")[0]
    assert TALK_CUES[1].text in top.node.get_content()
    assert (top.node.metadata["start_s"], top.node.metadata["end_s"]) == (TALK_CUES[0].start_s, TALK_CUES[-1].end_s)


def test_an_audio_transcript_answers_with_the_time_it_is_said(media_rag: tuple[Any, Any]) -> None:
    rag, _ = media_rag
    response = rag.as_query_engine(top_k=3).query("When will we hire platform engineers?")
    top = response.source_nodes[0]
    assert top.node.metadata["doc"] == "standup.wav"
    assert (top.node.metadata["start_s"], top.node.metadata["end_s"]) == (STANDUP_CUES[1].start_s, STANDUP_CUES[1].end_s)
    assert "[standup.wav, 1:05, text]" in str(response)


@pytest.fixture(scope="module")
def parsed_talk(recordings: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """``mmrag parse talk.mp4 --json``: the blocks it prints (parsed once for the tests below)."""
    out = tmp_path_factory.mktemp("parsed-talk")
    result = CliRunner().invoke(app, ["parse", str(recordings / "talk.mp4"), "--json", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_mmrag_parse_shows_a_videos_keyframes_and_subtitles_with_their_times(parsed_talk: list[dict[str, Any]]) -> None:
    shown = [(b["modality"], b["start_s"]) for b in parsed_talk]
    assert shown == [("image", 0.0), ("text", 1.0), ("image", 12.0), ("image", 24.0)]
    assert all(b["page"] is None for b in parsed_talk)
    assert [b["text"].splitlines()[0] for b in parsed_talk if b["modality"] == "image"] == [s.title for s in TALK_SLIDES]


def test_with_a_vision_model_each_keyframe_is_described_like_an_image_in_one_call(parsed_talk: list[dict[str, Any]]) -> None:
    from llama_index_mmrag.processors import ModalDescriber
    from llama_index_mmrag.schema import ContentBlock, blocks_to_nodes
    from tests.support.fake_mm_llm import FakeMultiModalLLM

    blocks = [
        ContentBlock(modality=b["modality"], text=b["text"], img_path=b["image_path"], text_read=True, start_s=b["start_s"],
                     end_s=b["end_s"], doc="talk.mp4", doc_id="h", parser="mmrag", index=i)
        for i, b in enumerate(parsed_talk)
    ]
    vlm = FakeMultiModalLLM()
    ModalDescriber(vlm=vlm).describe(blocks)
    keyframes = [b for b in blocks if b.modality == "image"]
    assert len(vlm.calls) == len(keyframes) == len(TALK_SLIDES)
    nodes = [n for n in blocks_to_nodes(blocks) if n.metadata["modality"] == "image"]
    for node, slide in zip(nodes, TALK_SLIDES):
        assert node.get_content().startswith(next(b.description for b in keyframes if b.start_s == slide.start_s) or "?")
        assert slide.title in node.get_content() and node.metadata["start_s"] == slide.start_s  # OCR words stay
