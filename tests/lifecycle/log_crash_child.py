"""Child process of the change-log crash tests: ingest files into a store and SIGKILL itself inside a graph save.

``python -m tests.lifecycle.log_crash_child STORE WHERE FILE...``

``WHERE`` is ``append`` (half-way through the first append to a change log: half its bytes written and fsynced,
the rest never) or ``compaction`` (every save writes its file whole; death right after the first file that has
a change log was written whole, before its log is emptied). Prints ``READY`` once the store is open and ``DONE``
if the ingest returned.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(where: str) -> None:
    from llama_index_mmrag.graph import file_storage

    if where == "append":

        def append_half_then_die(path: Path, entries: list[dict[str, Any]]) -> int:
            payload = b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in entries)
            with open(path, "ab") as handle:
                handle.write(payload[: max(1, len(payload) // 2)])
                handle.flush()
                os.fsync(handle.fileno())
            _die()
            return 0

        file_storage.append_changes = append_half_then_die  # type: ignore[assignment]
    elif where == "compaction":
        file_storage.COMPACT_FRACTION = 0.0  # every save writes its file whole
        file_storage.COMPACT_MIN_BYTES = 0

        def die_instead_of_emptying(path: Path) -> None:
            _die()

        file_storage.replace_with_empty = die_instead_of_emptying  # type: ignore[assignment]
    else:
        raise SystemExit(f"unknown crash point {where!r}: append or compaction")


if __name__ == "__main__":
    from tests.lifecycle.crash_child import main

    _arm(sys.argv[2])
    main(sys.argv[1], sys.argv[3:])
