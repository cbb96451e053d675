"""Child process of the crash tests: ingest files into a store, and die where the parent decides.

``python -m tests.lifecycle.crash_child STORE FILE...``

The parent either sets ``MMRAG_TEST_CRASH_AT`` (the process SIGKILLs itself at that journal point) or sends
SIGKILL itself at a random moment. Prints ``READY`` once the store is open and ``DONE`` if the ingest returned.
"""

from __future__ import annotations

import sys


def main(store: str, files: list[str]) -> None:
    from llama_index_mmrag import MultimodalRAG

    rag = MultimodalRAG(storage_dir=store)
    print("READY", flush=True)
    report = rag.ingest(files, show_progress=False)
    print("DONE", report.summary(), flush=True)
    rag.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
