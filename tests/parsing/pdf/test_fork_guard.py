"""Starting PDF page workers while another thread embeds (numpy / torch) never hangs the process.

OpenBLAS's fork handlers wait for its thread pool: a fork taken in the middle of a numpy matrix product in another
thread hung a full test run. The process boundary is the point (a hang), so the race runs in a child process with
a time limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RACE = textwrap.dedent(
    """
    import threading
    from llama_index_mmrag.models.embeddings import local_embedding
    from llama_index_mmrag.parsing.pdf import parse as pdf

    model = local_embedding()
    model.get_text_embedding_batch(["warm up"])
    stop = threading.Event()

    def embed_small_batches():
        while not stop.is_set():
            model.get_text_embedding_batch(["a short chunk of text about sealed segments"] * 4)

    embedder = threading.Thread(target=embed_small_batches, daemon=True)
    embedder.start()
    for _ in range(12):  # start and stop the page workers again and again while the other thread embeds
        pdf._pool(2)
        pdf._release_pool()
    stop.set()
    embedder.join()
    print("DONE", flush=True)
    """
)


def test_page_workers_start_while_another_thread_embeds() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(
        [sys.executable, "-c", RACE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0 and "DONE" in result.stdout, result.stderr[-3000:]
