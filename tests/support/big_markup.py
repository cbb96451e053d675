"""Big web pages and Markdown files, generated at test or benchmark time (nothing large is committed).

:func:`make_big_html` writes a page of many paragraphs, tables and nested ``<div>`` sections to a target size
(20 MB in the benchmark); :func:`make_markdown_table` writes a Markdown file holding one table of many rows
(10,000 in the benchmark). Both are deterministic: the same arguments give the same bytes, and every table
row carries a unique code so tests can check that no row was lost.

Example:
    >>> page = make_big_html(tmp_path / "big.html", target_bytes=2_000_000)     # doctest: +SKIP
    >>> table = make_markdown_table(tmp_path / "rows.md", rows=10_000)          # doctest: +SKIP
"""

from __future__ import annotations

import random
from pathlib import Path

_WORDS = (
    "segment index vector search replica shard partition compaction collection schema field query node "
    "proxy coordinator channel timestamp consistency bloom filter growing sealed flush insert delete upsert "
    "cluster memory disk cache quota tenant metric latency throughput recall"
).split()


def row_code(index: int) -> str:
    """The unique code in table row ``index`` (0-based), as the generators write it.

    Args:
        index: The row's position in its table.

    Example:
        >>> row_code(41)
        'R00041'
    """
    return f"R{index:05d}"


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def make_big_html(path: Path, target_bytes: int = 20_000_000, *, seed: int = 7) -> Path:
    """Write an HTML page of about ``target_bytes``: sections of nested ``<div>`` s, paragraphs and tables.

    Every tenth section holds a 12-row table; sections nest four ``<div>`` s deep.

    Args:
        path: Where to write the page.
        target_bytes: Approximate size of the file.
        seed: Seed of the word choice.
    """
    rng = random.Random(seed)
    rows_done = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Operations handbook</title></head><body>\n")
        written, section = 0, 0
        while written < target_bytes:
            parts = [f"<div class='chapter'><div class='section'><div class='body'><div class='inner'>"]
            parts.append(f"<h2>Section {section}: {_sentence(rng, 4)}</h2>")
            for _ in range(6):
                parts.append(f"<p>{' '.join(_sentence(rng, 14) for _ in range(3))}</p>")
            if section % 10 == 0:
                parts.append("<table><tr><th>Code</th><th>Component</th><th>Replicas</th><th>Note</th></tr>")
                for _ in range(12):
                    parts.append(
                        f"<tr><td>{row_code(rows_done)}</td><td>{rng.choice(_WORDS)}</td>"
                        f"<td>{rng.randint(1, 64)}</td><td>{_sentence(rng, 5)}</td></tr>"
                    )
                    rows_done += 1
                parts.append("</table>")
            parts.append("</div></div></div></div>\n")
            chunk = "".join(parts)
            out.write(chunk)
            written += len(chunk.encode("utf-8"))
            section += 1
        out.write("</body></html>\n")
    return path


def make_markdown_table(path: Path, rows: int = 10_000, *, seed: int = 11) -> Path:
    """Write a Markdown file: a heading, a paragraph, and one pipe table of ``rows`` rows and five columns.

    Row ``i`` starts with :func:`row_code` ``(i)``.

    Args:
        path: Where to write the file.
        rows: Data rows in the table.
        seed: Seed of the cell values.
    """
    rng = random.Random(seed)
    lines = [
        "# Shard inventory",
        "",
        "Every shard of the cluster, with its collection, replica count, size and state.",
        "",
        "| Code | Collection | Replicas | Size MiB | State |",
        "| --- | --- | --- | --- | --- |",
    ]
    for index in range(rows):
        lines.append(
            f"| {row_code(index)} | {rng.choice(_WORDS)}_{rng.randint(1, 99)} | {rng.randint(1, 8)} | "
            f"{rng.randint(1, 50_000)} | {rng.choice(('sealed', 'growing', 'flushed'))} |"
        )
    lines += ["", "The inventory is refreshed every night.", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
