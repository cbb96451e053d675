"""Audio and video ingest cost: seconds per minute of video, keyframes per minute (issue 17, item 2).

A talk of ``--minutes`` minutes is generated with PyAV (640x360 H.264 at ``--fps`` frames per second, a new
slide every ``--slide-s`` seconds, one subtitle cue every 5 s in a mov_text track; tests/support/media.py), then

1. parsed alone (decode, keyframe choice, OCR of each keyframe, subtitles): wall and CPU seconds;
2. ingested into a fresh store through ``MultimodalRAG.ingest`` (parse, offline descriptions, embedding,
   Milvus Lite and the LLM-free graph): wall and CPU seconds.

Both are divided by the video's minutes. CPU seconds are this process's user + system time (OCR and
embedding run in it). Prints one JSON object with the figures and the load average before and after.

Usage:
    python benchmarks/media_ingest.py [--minutes 3] [--fps 5] [--slide-s 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.media import Cue, Slide, make_talk_mp4  # noqa: E402

TOPICS = "cranes rail spur dwell time berths tugboats customs reefers gantries pilots tides dredging".split()


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(step: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), _cpu()
    result = step()
    return result, time.perf_counter() - wall, _cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--fps", type=int, default=5)
    parser.add_argument("--slide-s", type=float, default=20.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from llama_index_mmrag import MultimodalRAG
    from llama_index_mmrag.parsing.media import parse_media_file

    duration = args.minutes * 60
    count = int(duration // args.slide_s)
    slides = tuple(
        Slide(i * args.slide_s, f"Part {i + 1}: {TOPICS[i % len(TOPICS)].title()}", f"Figure {i * 7 + 3} of the review")
        for i in range(count)
    )
    cues = tuple(
        Cue(t, t + 4.0, f"At minute {t / 60:.1f} we discuss {TOPICS[int(t // 5) % len(TOPICS)]} in the harbour.")
        for t in range(0, int(duration) - 4, 5)
    )
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "talk.mp4"
        make_talk_mp4(video, slides=slides, cues=cues, duration_s=duration, fps=args.fps)
        items, parse_wall, parse_cpu = _timed(lambda: parse_media_file(video, Path(tmp) / "parsed"))
        keyframes = sum(1 for item in items if item["type"] == "image")
        with MultimodalRAG(storage_dir=Path(tmp) / "store") as rag:
            report, ingest_wall, ingest_cpu = _timed(lambda: rag.ingest([video], show_progress=False))
            assert report.ok, report.failures
    result = {
        "minutes": args.minutes,
        "fps": args.fps,
        "slides": count,
        "keyframes": keyframes,
        "keyframes_per_minute": round(keyframes / args.minutes, 2),
        "passages": sum(1 for item in items if item["type"] == "text"),
        "parse_wall_s_per_min": round(parse_wall / args.minutes, 2),
        "parse_cpu_s_per_min": round(parse_cpu / args.minutes, 2),
        "ingest_wall_s_per_min": round(ingest_wall / args.minutes, 2),
        "ingest_cpu_s_per_min": round(ingest_cpu / args.minutes, 2),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
