"""Child process of the cross-process tests: open a store, wait for a signal, run questions at once, report.

``python -m tests.lifecycle.query_child STORE GO_FILE N``

Opens the store (Milvus through its local server, the graph from its files), prints ``READY``, waits until
``GO_FILE`` exists, runs ``N`` retrievals concurrently on one event loop, and prints one JSON line: the start and
end time, the errors, and per question the documents of the nodes found.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

QUESTIONS = (
    "Which node searches sealed segments?",
    "Where does Milvus Lite run?",
    "Who seals segments?",
    "What talks to Milvus through the Proxy?",
)


async def _ask(store: str, go: Path, n: int) -> dict[str, object]:
    from llama_index_mmrag import MultimodalRAG

    rag = MultimodalRAG(storage_dir=store)
    try:
        retriever = rag.as_retriever(top_k=3)
        await retriever.aretrieve(QUESTIONS[0])  # warm: the model and the graph are loaded before the signal
        print("READY", flush=True)
        while not go.exists():
            await asyncio.sleep(0.05)
        started = time.time()
        questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(n)]
        results = await asyncio.gather(*(retriever.aretrieve(q) for q in questions), return_exceptions=True)
        ended = time.time()
    finally:
        rag.close()
    return {
        "started": started,
        "ended": ended,
        "errors": [repr(r) for r in results if isinstance(r, BaseException)],
        "docs": [sorted({n.node.metadata["doc"] for n in r}) for r in results if not isinstance(r, BaseException)],
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_ask(sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])))), flush=True)
