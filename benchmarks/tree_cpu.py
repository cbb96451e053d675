"""Run a command and sum the CPU seconds of it and every process it starts, polled from ``/proc``.

``/usr/bin/time`` counts a process and the children it waits for; a worker pool or a server that outlives the
wait is missed. This polls the command's process tree every half second and keeps each process's last user +
system time (a process that lives under half a second may be missed). Linux only.

Usage:
    python benchmarks/tree_cpu.py OUT.json COMMAND [ARGS...]

Example:
    python benchmarks/tree_cpu.py /tmp/cpu.json mmrag ingest docs/ --store /tmp/store
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def processes() -> dict[int, tuple[int, float, str]]:
    """``pid -> (parent pid, CPU seconds, name)`` of every process readable in ``/proc``."""
    table: dict[int, tuple[int, float, str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        table[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, name)
    return table


def measure(command: list[str], interval_s: float = 0.5) -> dict[str, object]:
    """Run ``command``; its exit code and the CPU seconds of its process tree, in all and by process name."""
    proc = subprocess.Popen(command)
    seen: dict[int, float] = {}
    names: dict[int, str] = {}
    while True:
        table = processes()
        tree, grew = {proc.pid}, True
        while grew:
            grew = False
            for pid, (parent, _, _) in table.items():
                if parent in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree & table.keys():
            seen[pid] = max(seen.get(pid, 0.0), table[pid][1])
            names[pid] = table[pid][2]
        if proc.poll() is not None:
            break
        time.sleep(interval_s)
    by_name: dict[str, float] = {}
    for pid, cpu in seen.items():
        by_name[names[pid]] = round(by_name.get(names[pid], 0.0) + cpu, 1)
    return {"cpu_s_tree": round(sum(seen.values()), 1), "processes": len(seen), "by_name": by_name, "rc": proc.returncode}


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    result = measure(sys.argv[2:])
    Path(sys.argv[1]).write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result))
    raise SystemExit(int(result["rc"]))  # type: ignore[call-overload]


if __name__ == "__main__":
    main()
