"""Video: what is shown in a recording (slides, charts, screens), as keyframes at scene changes.

A keyframe is an image node like any figure (its text read by the offline OCR, described by a vision model
where one is configured), with the time span it stays on screen (``start_s``, ``end_s``) instead of a page.
What is said in a video (its subtitle tracks, a ``.srt`` / ``.vtt`` beside it) is audio
(:mod:`llama_index_mmrag.modalities.audio`). This module holds the choice of keyframes, on frames sampled at
a low rate; decoding is :mod:`llama_index_mmrag.parsing.media`'s.

A sampled frame is a keyframe when it differs from the last keyframe by :attr:`KeyframePolicy.threshold`
(the share of the pixels of small grayscale thumbnails whose brightness changed by more than
:data:`PIXEL_CHANGE`: one changed word in a slide's title changes about 1% of them, compression noise none),
and no sooner than ``60 / max_per_minute`` seconds after it: a change inside that gap is taken at the first
sample after it, so a slide is never lost, only a flicker is (a moving picture, a webcam inset, gives at most
``max_per_minute`` keyframes a minute).

Example:
    >>> import numpy as np
    >>> dark, light = np.zeros((9, 16)), np.ones((9, 16))
    >>> picker = KeyframePicker(KeyframePolicy(threshold=0.1, max_per_minute=30))
    >>> [picker.offer(t, frame) for t, frame in [(0, dark), (1, dark), (2, light), (3, light), (4, dark)]]
    [True, False, True, False, True]
    >>> ".mp4" in VIDEO_SUFFIXES
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".ts"})
"""Video files the package ingests (decoded by PyAV, which ships FFmpeg inside its wheel)."""
THUMBNAIL_SIZE = (128, 72)
"""Width and height of the grayscale thumbnails frames are compared on."""
PIXEL_CHANGE = 0.1
"""A thumbnail pixel has changed when its brightness (0 to 1) moved by more than this."""


@dataclass(frozen=True)
class KeyframePolicy:
    """How keyframes are chosen.

    Args:
        sample_fps: Frames looked at per second of video (the others are decoded, never compared).
        threshold: The share of changed thumbnail pixels (0 to 1, see :func:`frame_difference`) from the last
            keyframe that makes a scene change.
        max_per_minute: At most this many keyframes per minute of video (a minimum gap of
            ``60 / max_per_minute`` seconds between two).

    Example:
        >>> KeyframePolicy().min_gap_s
        10.0
        >>> KeyframePolicy(sample_fps=0)
        Traceback (most recent call last):
        ValueError: KeyframePolicy: sample_fps must be > 0, got 0
    """

    sample_fps: float = 1.0
    threshold: float = 0.005
    max_per_minute: float = 6.0

    def __post_init__(self) -> None:
        for name in ("sample_fps", "threshold", "max_per_minute"):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(f"KeyframePolicy: {name} must be > 0, got {value}")

    @property
    def min_gap_s(self) -> float:
        """The least time between two keyframes, in seconds."""
        return 60.0 / self.max_per_minute


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pixels whose brightness differs by more than :data:`PIXEL_CHANGE` between two grayscale
    thumbnails of one size, from 0 (same) to 1 (all changed).

    Args:
        a: A thumbnail, values 0-1 (floats) or 0-255 (integers).
        b: Another, of the same shape.

    Example:
        >>> frame_difference(np.zeros((2, 2), np.uint8), np.array([[255, 0], [20, 0]], np.uint8))
        0.25
    """
    scale = 255.0 if np.issubdtype(a.dtype, np.integer) else 1.0
    change = np.abs(a.astype(np.float32) - b.astype(np.float32)) / scale
    return float((change > PIXEL_CHANGE).mean())


class KeyframePicker:
    """Decides, sample by sample, which frames are keyframes (see the module's docstring).

    Args:
        policy: The policy.

    Example:
        >>> picker = KeyframePicker(KeyframePolicy(max_per_minute=6))
        >>> picker.offer(0.0, np.zeros((9, 16))), picker.offer(5.0, np.ones((9, 16))), picker.offer(10.0, np.ones((9, 16)))
        (True, False, True)
    """

    def __init__(self, policy: KeyframePolicy | None = None) -> None:
        self.policy = policy or KeyframePolicy()
        self._last: np.ndarray | None = None
        self._last_s = float("-inf")

    def offer(self, time_s: float, thumbnail: np.ndarray) -> bool:
        """Whether the sampled frame at ``time_s`` is a keyframe (then it becomes the one later frames are
        compared with).

        Args:
            time_s: The frame's time in seconds.
            thumbnail: Its grayscale thumbnail (:data:`THUMBNAIL_SIZE`).
        """
        if self._last is not None:
            if time_s - self._last_s < self.policy.min_gap_s - 1e-6:
                return False
            if frame_difference(self._last, thumbnail) < self.policy.threshold:
                return False
        self._last, self._last_s = thumbnail, time_s
        return True
