"""Audio: what is said in a recording (an audio file, or the speech of a video), as time-stamped passages.

A recording has no pages: each passage carries its time span (``start_s``, ``end_s``) instead, and its nodes
are ordinary text nodes, so every text path (chunking, BM25, the graph's extraction, answers) reads them as it
reads a page's text. The words come from a transcript beside the file (``talk.srt``, ``talk.vtt``,
``talk.txt``), from subtitle tracks inside a video, or from speech recognition where a model is reachable
(:mod:`llama_index_mmrag.parsing.media`). Cues are grouped into passages of :data:`PASSAGE_MIN_S` to
:data:`PASSAGE_MAX_S` seconds: long enough to hold a thought, short enough that the cited time is where it is
said.

Example:
    >>> cues = [Cue(1, 4, "Welcome."), Cue(20, 31, "Budget is flat."), Cue(65, 70, "We hire two engineers.")]
    >>> [(p.start_s, p.end_s, p.text) for p in group_cues(cues)]
    [(1, 31, 'Welcome. Budget is flat.'), (65, 70, 'We hire two engineers.')]
    >>> ".wav" in AUDIO_SUFFIXES, ".srt" in TRANSCRIPT_SUFFIXES
    (True, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg", ".oga", ".opus", ".wma"})
"""Audio files the package ingests (decoded by PyAV, which ships FFmpeg inside its wheel)."""
TRANSCRIPT_SUFFIXES = (".srt", ".vtt", ".txt")
"""Transcripts read from beside a recording (``talk.srt`` or ``talk.en.srt`` for ``talk.mp4``), in this order."""
PASSAGE_MIN_S = 30.0
"""A passage is closed once it spans this many seconds."""
PASSAGE_MAX_S = 60.0
"""A cue that would make a passage longer than this starts the next one."""


class Cue(NamedTuple):
    """One time-stamped piece of speech: a subtitle cue, a transcript line, a recognised sentence.

    Args:
        start_s: Where it starts, in seconds from the start of the recording.
        end_s: Where it ends, in seconds.
        text: What is said.

    Example:
        >>> Cue(65.0, 70.5, "We hire two engineers.").end_s
        70.5
    """

    start_s: float
    end_s: float
    text: str


def group_cues(cues: Iterable[Cue], *, min_s: float = PASSAGE_MIN_S, max_s: float = PASSAGE_MAX_S) -> list[Cue]:
    """Join consecutive cues into passages of about ``min_s`` to ``max_s`` seconds, in time order.

    A passage is closed once it spans ``min_s`` seconds, and a cue that would stretch it past ``max_s`` seconds
    (a long silence, or a long cue) starts the next one. Empty cues are dropped; a repeated cue (the same text
    right after itself, as roll-up captions repeat lines) is kept once.

    Args:
        cues: The cues, in any order.
        min_s: The span at which a passage is closed.
        max_s: The longest span a passage of several cues may have.

    Returns:
        The passages, as cues whose text is their cues' text joined by spaces.

    Example:
        >>> group_cues([Cue(0, 2, "Hi."), Cue(2, 4, "Hi."), Cue(90, 95, "Bye.")])
        [Cue(start_s=0, end_s=4, text='Hi.'), Cue(start_s=90, end_s=95, text='Bye.')]
    """
    if min_s <= 0 or max_s < min_s:
        raise ValueError(f"need 0 < min_s <= max_s, got min_s={min_s}, max_s={max_s}")
    passages: list[Cue] = []
    start = end = 0.0
    texts: list[str] = []
    for cue in sorted(cues, key=lambda c: (c.start_s, c.end_s)):
        text = " ".join(cue.text.split())
        if not text:
            continue
        if texts and (end - start >= min_s or max(end, cue.end_s) - start > max_s):
            passages.append(Cue(start, end, " ".join(texts)))
            texts = []
        if not texts:
            start, end = cue.start_s, cue.end_s
        if not texts or texts[-1] != text:
            texts.append(text)
        end = max(end, cue.end_s)
    if texts:
        passages.append(Cue(start, end, " ".join(texts)))
    return passages
