"""Shared fixtures of the command-line tests: a small real store (the demo's files, plus a file whose text and
name look like terminal markup), built once for the package and closed before the CLI opens it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from llama_index_mmrag.cli import app
from tests.support.store_copies import copy_store

MARKUP_NAME = "[bold]notes[red].txt"
MARKUP_TEXT = (
    "The ingest coordinator writes [/bold] closing tags and [link=http://x]links[/link] into its release notes.\n\n"
    "Release notes list every [bold]segment compaction[/] change."
)


@pytest.fixture(scope="package")
def cli_store(
    tmp_path_factory: pytest.TempPathFactory, faq_store: Path, sample_faq: Path, sample_diagram: Path
) -> Path:
    """A store holding milvus_faq.txt, milvus_architecture.png and a text file named and written in markup (a copy
    of the FAQ's store, the other two ingested into it)."""
    from llama_index_mmrag import MultimodalRAG

    folder = tmp_path_factory.mktemp("cli")
    markup = folder / MARKUP_NAME
    markup.write_text(MARKUP_TEXT, encoding="utf-8")
    with MultimodalRAG(storage_dir=copy_store(faq_store, folder / "store"), top_k=5) as rag:
        report = rag.ingest([sample_faq, sample_diagram, markup], show_progress=False)
        assert report.ok and report.unchanged == [sample_faq.name], report.failures
    return folder / "store"


def invoke(*args: str) -> Any:
    """Run ``mmrag ARGS`` in this process; the result has ``exit_code``, ``stdout``, ``stderr``, ``output``."""
    return CliRunner().invoke(app, list(args))


def last_json(stdout: str) -> Any:
    """The JSON document a ``--json`` command printed (its last line)."""
    return json.loads(stdout.strip().splitlines()[-1])
