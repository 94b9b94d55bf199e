"""py-spy on API replicas under load, and a plain-text summary of where their time went.

Each replica is sampled twice at once: `--gil` (only the thread holding the GIL: Python CPU
time, which on a CPython server is what saturates) and without it (every thread not idle:
also time in C calls that released the GIL, such as msync, sends and TLS, and time spent
waiting to get the GIL back). The summary gives each thread's share of wall time, the
hottest functions by self time, and inclusive time of the functions that matter
(framework plumbing left out).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

PY_SPY = os.path.join(os.path.dirname(sys.executable), "py-spy")
RATE = 100  # samples per second

# frames every stack of a thread goes through; left out of the inclusive list
_PLUMBING = ("click/", "<frozen runpy>", "threading.py", "asyncio/runners.py", "uvloop/", "cli/server.py",
             "raftkube/__main__.py", "store/server.py", "starlette/", "uvicorn/middleware", "run_asgi (",
             "guarded.<locals>.run", "build_app.<locals>.resources", "ResourceAPI.handle (", "_autoTickThread",
             "SyncObj._onTick (", "<module> (")


def available() -> bool:
    return os.path.exists(PY_SPY)


def start(pid: int, seconds: float, out: str, gil: bool) -> subprocess.Popen[bytes]:
    cmd = [PY_SPY, "record", "-p", str(pid), "-d", f"{max(1, round(seconds))}", "-r", str(RATE), "-f", "raw",
           "-o", out, "--nonblocking", "--threads", "--nolineno", *(["--gil"] if gil else [])]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def record(pids: dict[str, int], seconds: float, out_dir: str, tag: str) -> list[tuple[str, str, str]]:
    """Sample each named pid for `seconds` (gil and wall); returns [(name, gil file, wall file)] when done."""
    os.makedirs(out_dir, exist_ok=True)
    procs: list[tuple[str, str, str, subprocess.Popen[bytes], subprocess.Popen[bytes]]] = []
    try:
        for name, pid in pids.items():
            gil_out = os.path.join(out_dir, f"{tag}-{name}-gil.txt")
            wall_out = os.path.join(out_dir, f"{tag}-{name}-wall.txt")
            procs.append((name, gil_out, wall_out, start(pid, seconds, gil_out, True),
                          start(pid, seconds, wall_out, False)))
        done = []
        for name, gil_out, wall_out, a, b in procs:
            ok = a.wait(timeout=seconds + 60) == 0 and b.wait(timeout=seconds + 60) == 0
            if ok and os.path.exists(gil_out) and os.path.exists(wall_out):
                done.append((name, gil_out, wall_out))
        return done
    finally:
        for *_, a, b in procs:
            for p in (a, b):
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)


def _read(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack.split(";"), int(count)))
    return stacks


def _thread(frame: str) -> str:
    """'thread (123): MainThread' -> 'MainThread' (the asyncio loop); the tick thread is PySyncObj's."""
    name = frame.split(": ", 1)[1] if frame.startswith("thread") and ": " in frame else frame
    return "raft tick thread" if "_autoTickThread" in name else ("event loop thread" if name == "MainThread"
                                                               else name)


def summarize(gil_path: str, wall_path: str, title: str, seconds: float, top: int = 12) -> str:
    gil, wall = _read(gil_path), _read(wall_path)
    possible = RATE * seconds
    lines = [f"### {title}"]
    for label, stacks in (("holding the GIL", gil), ("not idle (wall)", wall)):
        threads: Counter[str] = Counter()
        for frames, count in stacks:
            threads[_thread(frames[0])] += count
        lines.append(f"{label}: " + ", ".join(f"{t} {100 * c / possible:.0f}%" for t, c in threads.most_common())
                     + " of the time")
    total = sum(c for _, c in gil) or 1
    self_fn: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, count in gil:
        self_fn[frames[-1]] += count
        for frame in set(frames[1:]):
            if not any(p in frame for p in _PLUMBING):
                inclusive[frame] += count
    lines += ["", "GIL samples, self time (the function itself):"]
    lines += [f"  {100 * c / total:5.1f}%  {fn}" for fn, c in self_fn.most_common(top)]
    lines += ["", "GIL samples, inclusive time (the function and what it calls):"]
    lines += [f"  {100 * c / total:5.1f}%  {fn}" for fn, c in inclusive.most_common(top + 8)]
    wall_total = sum(c for _, c in wall) or 1
    wall_self: Counter[str] = Counter()
    for frames, count in wall:
        wall_self[f"[{_thread(frames[0])}] {frames[-1]}"] += count
    lines += ["", "wall samples, self time (includes C calls that release the GIL, and waiting for the GIL):"]
    lines += [f"  {100 * c / wall_total:5.1f}%  {fn}" for fn, c in wall_self.most_common(top)]
    return "\n".join(lines)
