"""File names and contents with every C0 control character, lone surrogates (names that are not UTF-8) and
invalid UTF-8 bytes: each file ingests or fails with a clear reason, the graph's files stay readable, and
``stats``, ``query``, ``delete`` and ``ingest`` keep working on the same store (through the CLI, in process)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app
from llama_index_mmrag.graph.change_log import LOG_SUFFIX
from llama_index_mmrag.graph.file_storage import read_graph_file
from llama_index_mmrag.graph.safe_text import is_xml_safe

CONTROL = "".join(chr(c) for c in range(1, 0x20))  # NUL cannot be in a file name: it is in the contents
NAMES = [f"kestrel{i}{CONTROL[start:start + 8]}.txt" for i, start in enumerate(range(0, len(CONTROL), 8))]
CONTENT_NAME = "contents.txt"
NUL_NAME = "nul.txt"
NOT_UTF8_TEXT_NAME = "latin1.txt"
NOT_UTF8_NAME = b"kestrel-\xff\xfe.txt"


def _text(i: int) -> bytes:
    chars = CONTROL[i * 8 : i * 8 + 8].encode()
    return (
        f"The Kestrel Array tracks the comet Halley from Mauna Kea. Observer Ines Varga{i} logged the Kestrel "
        f"Array at dawn.\n\nThe Kestrel Array reported Halley to the Minor Planet Center.\n"
    ).encode() + chars + b" Tail readings by Ines Varga" + chars + b" followed.\n"


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


@dataclass
class Corpus:
    folder: Path
    paths: list[Path]
    refused: list[Path]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for i, name in enumerate(NAMES):
        path = folder / name
        path.write_bytes(_text(i))
        paths.append(path)
    contents = folder / CONTENT_NAME  # every C0 character but NUL inside words and sentences
    contents.write_bytes(
        b"The Kestrel Array watched Halley\x1b[31m over Mauna Kea\x7f with Ines Varga.\n"
        + b" ".join(b"Kestrel%sArray saw Halley%sagain." % (bytes([c]), bytes([c])) for c in range(1, 0x20))
        + b"\n"
    )
    paths.append(contents)
    not_utf8_text = folder / NOT_UTF8_TEXT_NAME  # bytes that are not UTF-8 (Latin-1 text)
    not_utf8_text.write_bytes(
        b"The Kestrel Array caf\xe9 log: Ines Varga na\xefvely tracked Halley from the r\xe9sum\xe9 desk. " * 8
    )
    paths.append(not_utf8_text)
    nul = folder / NUL_NAME  # NUL makes a file binary data: refused with that reason
    nul.write_bytes(b"The Kestrel Array\x00 watched Halley.\n")
    not_utf8 = folder / os.fsdecode(NOT_UTF8_NAME)  # a lone surrogate per byte in the str Python sees
    not_utf8.write_bytes(_text(0))
    return Corpus(folder, paths, [not_utf8, nul])


def _graph_files(store: Path) -> tuple[list[Path], list[Path]]:
    graph_dir = store / "lightrag"
    return sorted(graph_dir.rglob("*.graphml")), sorted(graph_dir.rglob("*.json"))


def _assert_graph_files_readable(store: Path) -> nx.Graph:
    graphml, jsons = _graph_files(store)
    assert len(graphml) == 1 and jsons
    nx.read_graphml(graphml[0])  # the file itself parses
    graph = read_graph_file(graphml[0])  # with its change log replayed: the graph the store holds
    strings = [*graph.nodes]
    strings += [v for _, d in graph.nodes(data=True) for v in d.values() if isinstance(v, str)]
    strings += [v for _, _, d in graph.edges(data=True) for v in d.values() if isinstance(v, str)]
    assert all(is_xml_safe(s) for s in strings)
    for path in jsons:
        json.loads(path.read_bytes().decode("utf-8"))  # valid UTF-8 and JSON
    for log in (store / "lightrag").rglob(f"*{LOG_SUFFIX}"):
        for line in log.read_bytes().decode("utf-8").splitlines():
            json.loads(line)  # each entry valid UTF-8 and JSON
    return graph


def test_hostile_names_and_contents_ingest_and_the_store_keeps_working(corpus: Corpus, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = invoke("ingest", *map(str, [*corpus.paths, *corpus.refused]), "--store", str(store))
    assert result.exit_code == 1, result.output  # the refused files failed, each with its reason
    assert "not UTF-8 text; rename the file" in result.output
    assert f"{NUL_NAME}: its content is binary data" in result.output
    assert "Traceback" not in result.output
    assert f"ingested {len(corpus.paths)} " in result.output, result.output

    graph = _assert_graph_files_readable(store)
    # the documents' names reached the graph, visibly: ESC (0x1b) is shown as its control picture
    file_paths = " ".join(str(d.get("file_path", "")) for _, d in graph.nodes(data=True))
    assert "\u241b" in file_paths and "\x1b" not in file_paths

    stats = invoke("stats", "--store", str(store), "--json")
    assert stats.exit_code == 0, stats.output
    counted = json.loads(stats.stdout.strip().splitlines()[-1])
    assert counted["docs"] == len(corpus.paths) and counted["entities"] > 0
    assert {d["doc"] for d in counted["documents"]} == {p.name for p in corpus.paths}

    answer = invoke("query", "Which comet does the Kestrel Array track?", "--store", str(store), "--json")
    assert answer.exit_code == 0, answer.output
    sources = json.loads(answer.stdout.strip().splitlines()[-1])["sources"]
    assert sources and {s["doc"] for s in sources} <= {p.name for p in corpus.paths}

    deleted = invoke("delete", NAMES[1], "--store", str(store))
    assert deleted.exit_code == 0, deleted.output
    graph = _assert_graph_files_readable(store)
    assert not any("kestrel1" in str(d.get("file_path", "")) for _, d in graph.nodes(data=True))

    again = invoke("ingest", str(corpus.paths[1]), "--store", str(store))
    assert again.exit_code == 0, again.output
    stats = invoke("stats", "--store", str(store), "--json")
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.stdout.strip().splitlines()[-1])["docs"] == len(corpus.paths)
    _assert_graph_files_readable(store)
