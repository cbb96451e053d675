"""Recordings as users name and damage them, in one store with the image vector field: hostile file names
(control characters, quotes, backslashes, ``%``, filter-like text, glob characters, names of 250 bytes in 4-byte
characters, one name in two Unicode normalisations), files that are not what their extension says, truncated or
empty ones, transcripts beside them and a transcript without its recording. Each recording is ingested and found
under its own name, or fails naming the file and what to do; the rest of the batch goes on; Milvus, the graph and
the manifest agree; questions and ``--doc`` values that look like filter expressions are answered, not run.
Then ``sync`` over a folder with a link to a file outside it and a file that vanishes while it is read."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import threading
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llama_index_mmrag import MultimodalRAG
from llama_index_mmrag.cli import app
from llama_index_mmrag.ingestion import IngestReport, sync_plan
from llama_index_mmrag.ingestion import sync as sync_module
from llama_index_mmrag.ingestion.sync import SyncReport
from llama_index_mmrag.ingestion.watch import FolderWatcher
from llama_index_mmrag.modalities.audio import Cue
from tests.lifecycle.store_state import store_state
from tests.support.deadline import deadline
from tests.support.media import Slide, make_silent_wav, make_talk_mp4, srt_text

HOSTILE_STEMS = {
    "newline": "stand\nup",
    "tab and escape": "stand\tup\x1b[31m",
    "quotes": "it's \"the\" standup",
    "backslash": "back\\slash\\",
    "percent": "100% of%s%d",
    "filter-like": "doc == 'x' or 1",
    "glob characters": "[draft]*?",
    "leading dash": "-rf",
    "composed": unicodedata.normalize("NFC", "café"),
    "decomposed": unicodedata.normalize("NFD", "café"),  # the same name to the eye as the one above
}
LONG_VIDEO_STEM = "\U0001d11e" * 62  # 248 bytes of UTF-8: the longest name a file system allows, with ".mkv"
BAD = {  # file name: words its failure must hold
    "truncated.mp4": "re-encode it",
    "empty.mp4": "empty (0 bytes)",
    "text named.wav": "re-encode it",
    "silent header only.wav": "silent header only.srt",
}
GOOD_MISNAMED = ("wav named.mp4", "video named.wav")
QUESTIONS = ["doc == 'x' or 1", "\") or (doc != \"", "back\\slash\\", "100%", "' OR 1=1 --", "[draft]*?", "kestrel\x00\x1b[31m budget"]


def _said(stem: str) -> str:
    return f"The {len(stem)}-letter recording names the kestrel budget for spring."


@dataclass
class Batch:
    folder: Path
    store: Path
    report: IngestReport
    state: dict[str, Any]


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:
    with pytest.MonkeyPatch.context() as patch, deadline(240):
        patch.setenv("MMRAG_IMAGE_EMBED_MODEL", "colour-histogram")  # the store has the image vector field
        folder = tmp_path_factory.mktemp("hostile-media")
        for stem in HOSTILE_STEMS.values():
            make_silent_wav(folder / f"{stem}.wav", 3.0)
            (folder / f"{stem}.srt").write_text(srt_text((Cue(0.5, 2.5, _said(stem)),)), encoding="utf-16")
        make_talk_mp4(folder / f"{LONG_VIDEO_STEM}.mkv", slides=(Slide(0.0, "Harbour Cranes", "Dwell time"),),
                      cues=(), duration_s=2.0, subtitles=False)
        make_talk_mp4(folder / "good.mp4", slides=(Slide(0.0, "Rail Spur", "One fifth"),), cues=(), duration_s=2.0)
        whole = (folder / "good.mp4").read_bytes()
        (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
        (folder / "empty.mp4").write_bytes(b"")
        (folder / "text named.wav").write_bytes(b"Not a recording at all.\n" * 40)
        (folder / "silent header only.wav").write_bytes(make_silent_wav(folder / "x.tmp", 0.0).read_bytes())
        (folder / "x.tmp").unlink()
        (folder / "wav named.mp4").write_bytes(make_silent_wav(folder / "y.tmp", 3.0).read_bytes())
        (folder / "y.tmp").unlink()
        (folder / "wav named.srt").write_text(srt_text((Cue(0.5, 2.5, _said("wav named")),)), encoding="latin-1")
        (folder / "video named.wav").write_bytes(whole)
        (folder / "orphan.srt").write_text(srt_text((Cue(0.5, 2.5, "Nobody says this."),)))
        store = tmp_path_factory.mktemp("hostile-media-store") / "store"
        with MultimodalRAG(storage_dir=store) as rag:
            report = rag.ingest([folder], show_progress=False)
            state = store_state(rag)
            yield Batch(folder, store, report, state)


def test_every_recording_is_ingested_or_fails_naming_the_file_and_what_to_do(batch: Batch) -> None:
    failures = {f.path.name: f.reason for f in batch.report.failures}
    good = {f"{stem}.wav" for stem in HOSTILE_STEMS.values()} | {f"{LONG_VIDEO_STEM}.mkv", "good.mp4", *GOOD_MISNAMED}
    assert set(batch.report.ingested) == good, failures
    for name, words in BAD.items():
        assert words in failures[name], (name, failures.get(name))
    assert "read with its recording" in failures["orphan.srt"] and "orphan.mp4" in failures["orphan.srt"]
    assert set(failures) == {*BAD, "orphan.srt"}  # no transcript beside a recording is a document or a failure


def test_milvus_the_graph_and_the_manifest_agree_on_the_hostile_names(batch: Batch) -> None:
    state = batch.state
    assert not state["journal_pending"] and state["milvus_duplicates"] == []
    assert set(state["manifest"]) == set(state["milvus_docs"]) == set(batch.report.ingested)
    milvus_ids = {i for ids in state["milvus_ids"].values() for i in ids}
    assert set(state["vectors"]["chunks_vdb"]) == milvus_ids and state["vectors"]["text_chunks_missing"] == []
    for entity, (_, _, sources, _) in state["entities"].items():
        assert set(sources) <= milvus_ids, entity


def _cli(batch: Batch, *args: str) -> Any:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MMRAG_IMAGE_EMBED_MODEL", "colour-histogram")
        result = CliRunner().invoke(app, [*args, "--store", str(batch.store)])
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("kind", HOSTILE_STEMS)
def test_each_hostile_name_is_found_under_its_own_name_only(batch: Batch, kind: str) -> None:
    name = f"{HOSTILE_STEMS[kind]}.wav"
    result = _cli(batch, "query", _said(HOSTILE_STEMS[kind]), "--doc", name, "--json")
    assert result.exit_code == 0, result.output
    sources = json.loads(result.stdout.strip().splitlines()[-1])["sources"]
    assert sources and {s["doc"] for s in sources} == {name}
    assert sources[0]["start_s"] == 0.5 and sources[0]["end_s"] == 2.5


@pytest.mark.parametrize("question", QUESTIONS)
def test_filter_like_questions_and_doc_values_are_answered_not_run(batch: Batch, question: str) -> None:
    result = _cli(batch, "query", question, "--json")
    assert result.exit_code == 0, result.output
    json.loads(result.stdout.strip().splitlines()[-1])
    as_doc = _cli(batch, "query", "kestrel budget", "--doc", question, "--json")
    if as_doc.exit_code == 0:  # the document of that name (without its extension): its sources only
        sources = json.loads(as_doc.stdout.strip().splitlines()[-1])["sources"]
        assert sources and {Path(s["doc"]).stem for s in sources} == {question}
    else:
        assert as_doc.exit_code == 1 and "no document named" in as_doc.output, as_doc.output


def test_a_keyframe_of_a_video_with_a_longest_name_is_stored_and_cited(batch: Batch) -> None:
    name = f"{LONG_VIDEO_STEM}.mkv"
    result = _cli(batch, "query", "Harbour Cranes dwell time", "--doc", name, "--modality", "image", "--json")
    assert result.exit_code == 0, result.output
    [top, *_] = json.loads(result.stdout.strip().splitlines()[-1])["sources"]
    assert top["doc"] == name and top["start_s"] == 0.0
    assert len(os.fsencode(Path(top["image_path"]).name)) <= 255 and Path(top["image_path"]).is_file()


def test_sync_keeps_a_folder_with_links_outside_and_files_that_vanish_consistent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with deadline(120):
        folder, outside = tmp_path / "inbox", tmp_path / "outside"
        folder.mkdir()
        outside.mkdir()
        (outside / "shared.txt").write_text("The shared kestrel ledger lives outside the inbox.")
        (folder / "link.txt").symlink_to(outside / "shared.txt")
        make_silent_wav(folder / "standup.wav", 3.0)
        (folder / "standup.vtt").write_bytes(("WEBVTT\n\n00:01.000 --> 00:02.000\nKestrel standup.\n").encode("utf-16"))
        (folder / "vanishing.txt").write_text("This file is removed while the sync reads it.")
        hash_file, plan_sync = sync_plan.FileHashes.get, sync_module.plan_sync

        def vanish_while_read(hashes: sync_plan.FileHashes, path: Path) -> str:
            if path.name == "vanishing.txt":
                path.unlink(missing_ok=True)
            return hash_file(hashes, path)

        with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
            monkeypatch.setattr(sync_plan.FileHashes, "get", vanish_while_read)
            first = rag.sync(folder, show_progress=False)
            assert first.failures == [] and sorted(first.added) == ["shared.txt", "standup.wav"], first.failures
            monkeypatch.undo()
            again = rag.sync(folder, show_progress=False)  # the link is the same document, not a conflict
            assert again.failures == [] and not again.wrote and sorted(again.unchanged) == ["shared.txt", "standup.wav"]
            (folder / "late.txt").write_text("This file is removed after the sync planned to read it.")

            def plan_then_vanish(*args: Any, **kwargs: Any) -> sync_plan.SyncPlan:
                plan = plan_sync(*args, **kwargs)
                (folder / "late.txt").unlink()
                return plan

            monkeypatch.setattr(sync_module, "plan_sync", plan_then_vanish)
            late = rag.sync(folder, show_progress=False)
            assert late.failures == [] and not late.wrote, late.failures
            monkeypatch.undo()
            (folder / "standup.wav").unlink()
            (folder / "standup.vtt").unlink()
            gone = rag.sync(folder, show_progress=False)
            assert gone.deleted == ["standup.wav"] and gone.failures == []
            state = store_state(rag)
            assert set(state["manifest"]) == set(state["milvus_docs"]) == {"shared.txt"}
            assert not state["journal_pending"]


def test_a_transcript_edited_added_or_removed_beside_a_recording_changes_its_document(
    tmp_path: Path,
) -> None:
    with deadline(120):
        folder = tmp_path / "recordings"
        folder.mkdir()
        make_silent_wav(folder / "standup.wav", 3.0)
        transcript = folder / "standup.srt"
        transcript.write_text(srt_text((Cue(0.5, 2.5, "The osprey budget stays flat."),)))

        def said(rag: MultimodalRAG) -> str:
            hits = rag.as_retriever(top_k=1, doc="standup.wav", graph_mode="off").retrieve("budget")
            return hits[0].node.get_content()

        with MultimodalRAG(storage_dir=tmp_path / "store") as rag:
            assert rag.sync(folder, show_progress=False).added == ["standup.wav"]
            transcript.write_text(srt_text((Cue(0.5, 2.5, "The pelican budget doubles."),)))
            edited = rag.sync(folder, show_progress=False)
            assert edited.changed == ["standup.wav"] and "pelican" in said(rag), edited.summary()
            assert rag.sync(folder, show_progress=False).unchanged == ["standup.wav"]  # once, not on every sync
            vtt = folder / "standup.vtt"  # a second transcript is not read while the first is there
            vtt.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nThe heron budget.\n")
            assert not rag.sync(folder, show_progress=False).wrote
            transcript.unlink()  # the WebVTT one is read now
            replaced = rag.ingest([folder / "standup.wav"], show_progress=False)
            assert replaced.ingested == ["standup.wav"] and "heron" in said(rag)
            state = store_state(rag)
            assert set(state["manifest"]) == set(state["milvus_docs"]) == {"standup.wav"}


def test_watch_follows_recordings_and_their_transcripts_in_a_folder_with_a_hostile_name_and_link_loops(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "in %s\n'box\\"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "loop").symlink_to(folder)  # a link loop: walked once, not forever
    (folder / "dangling").symlink_to(folder / "nowhere")
    (folder / "seed.txt").write_text("The lighthouse keeper logs ships.")
    reports: queue.Queue[SyncReport] = queue.Queue()
    stop = threading.Event()
    seen: list[str] = []

    def next_report(check: Callable[[SyncReport], bool]) -> SyncReport:
        while True:
            report = reports.get(timeout=60)
            seen.append(report.summary())
            if check(report):
                return report

    def user() -> None:  # acts once each step of the watcher is seen; stops it in any case
        try:
            next_report(lambda r: "seed.txt" in r.added)
            make_silent_wav(folder / "tern.wav", 2.0)
            (folder / "tern.srt").write_text(srt_text((Cue(0.5, 1.5, "The tern flies at dawn."),)))
            next_report(lambda r: "tern.wav" in r.added)
            (folder / "tern.srt").write_text(srt_text((Cue(0.5, 1.5, "The tern nests at dusk."),)))
            next_report(lambda r: "tern.wav" in r.changed)
        finally:
            stop.set()

    with MultimodalRAG(storage_dir=tmp_path / "store") as rag, deadline(180):
        watcher = FolderWatcher(folder, lambda skip: rag.async_(folder, skip=skip, show_progress=False),
                                debounce_ms=50, settle_s=0.1, on_report=reports.put)
        acting = threading.Thread(target=user)
        acting.start()
        asyncio.run(watcher.arun(stop))
        acting.join()
        assert any("changed 1" in line for line in seen), seen
        hit = rag.as_retriever(top_k=1, doc="tern.wav", graph_mode="off").retrieve("tern")[0]
        assert "dusk" in hit.node.get_content()
        assert {r.doc for r in rag.documents()} == {"seed.txt", "tern.wav"}
