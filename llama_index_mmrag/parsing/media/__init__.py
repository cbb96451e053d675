"""Audio and video files: decoding with PyAV (FFmpeg inside its wheel), keyframes with OCR, subtitle tracks,
transcripts beside the file, and the content list of a recording (:func:`parse_media_file`).

Example:
    >>> from llama_index_mmrag.parsing.media import MEDIA_SUFFIXES
    >>> ".mp4" in MEDIA_SUFFIXES, ".wav" in MEDIA_SUFFIXES
    (True, True)
"""

from __future__ import annotations

from llama_index_mmrag.parsing.formats import MEDIA_SUFFIXES
from llama_index_mmrag.parsing.media.parse import parse_media_file

__all__ = ["MEDIA_SUFFIXES", "parse_media_file"]
