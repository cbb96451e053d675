"""Running ``mmrag`` in a process of its own, for the tests where the process boundary is the point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def project_env() -> dict[str, str]:
    """This environment, with the checkout first on ``PYTHONPATH`` (so a child imports this tree's package)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def start_mmrag(*args: str) -> subprocess.Popen[str]:
    """Start ``mmrag ARGS`` (as ``python -m llama_index_mmrag.cli``) with its output captured as text.

    Args:
        args: The command line after ``mmrag``.
    """
    return subprocess.Popen(
        [sys.executable, "-m", "llama_index_mmrag.cli", *args],
        cwd=ROOT, env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
