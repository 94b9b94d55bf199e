"""A leader-election candidate for tests: while it may act, it appends `<name> <monotonic>` lines.

Run as `python -m tests.control.elector_probe NAME LOGFILE ENDPOINT TOKEN CA`. CLOCK_MONOTONIC
is one clock for every process on the machine, so the lines of several probes can be
compared to prove that two never acted at once.
"""

from __future__ import annotations

import asyncio
import sys
import time

from raftkube.client import ApiClient
from raftkube.control.leader_election import ElectionConfig, LeaderElector


async def main(name: str, log_path: str, endpoint: str, token: str, ca: str) -> None:
    client = ApiClient([endpoint], token, ca)
    elector = LeaderElector(client, ElectionConfig("probe-lease", name, namespace="default"))
    campaign = asyncio.create_task(elector.run(_noop, _noop))
    with open(log_path, "a", buffering=1) as log:
        while True:
            if elector.is_leader():  # the fencing check every controller makes before acting
                log.write(f"{name} {time.monotonic():.6f}\n")
            await asyncio.sleep(0.02)
    await campaign


async def _noop() -> None:
    return None


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:6]))
