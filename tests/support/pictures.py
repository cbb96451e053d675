"""Pictures whose only link to a question is their pixels, among texts and pictures that know nothing of it."""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

__all__ = ["SCANS", "write_pixel_only_evidence"]

SCANS = {"scan-001.png": (220, 40, 40), "scan-002.png": (40, 170, 70), "scan-003.png": (40, 90, 220)}
"""One-colour pictures (red, green, blue), named so that neither a file name nor OCR says anything of colours."""
_REPORT_WORDS = "revenue grew margin quarter region sales customers growth costs outlook market share product segment"


def write_pixel_only_evidence(
    folder: Path, reports: int = 3, busy: int = 4, scans: Mapping[str, tuple[int, int, int]] = SCANS, seed: int = 3
) -> list[Path]:
    """Write the one-colour ``scans``, ``busy`` many-coloured pictures (``photo-N.png``) and ``reports`` texts of
    business words (``reportN.txt``) into ``folder``; no word of colour in any of them.

    Args:
        folder: Where the files go.
        reports: How many reports.
        busy: How many busy pictures.
        scans: The one-colour pictures, by file name.
        seed: The seed of the reports' words and the busy pictures' rectangles.

    Returns:
        The files written.
    """
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    files: list[Path] = []
    for name, rgb in scans.items():
        Image.new("RGB", (64, 48), rgb).save(folder / name)
        files.append(folder / name)
    for index in range(busy):
        picture = Image.new("RGB", (64, 48), (255, 255, 255))
        draw = ImageDraw.Draw(picture)
        for _ in range(12):
            x, y = rng.randrange(48), rng.randrange(32)
            draw.rectangle([x, y, x + 16, y + 16], fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
        picture.save(folder / f"photo-{index}.png")
        files.append(folder / f"photo-{index}.png")
    words = _REPORT_WORDS.split()
    for index in range(reports):
        paragraphs = [" ".join(rng.choice(words) for _ in range(40)).capitalize() + "." for _ in range(12)]
        (folder / f"report{index}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
        files.append(folder / f"report{index}.txt")
    return files
