"""The hollow runtime's exec and attach: a few commands answered without a process, so the API's
exec/attach path (protocols, relays, authorization, exit codes) is testable without Podman.

`cat` echoes stdin until it is closed; `echo ARGS` prints them; `hostname` and `cat /etc/hostname`
print the pod's name; `sh -c 'exit N'` exits N; `stty size` (with a tty) prints the last resize;
anything else prints `hollow exec: ARGS` on stderr and exits with the code a test set
(`set_exec_result`, 0 by default). Attach echoes stdin as `cat` does.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

STDOUT, STDERR = 1, 2
_EXIT = re.compile(r"^\s*exit\s+(\d+)\s*$")


class HollowStreamSession:
    def __init__(self, command: list[str], hostname: str, default_exit: int) -> None:
        self.command, self.hostname, self.default_exit = command, hostname, default_exit
        self._out: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._exit_code: int | None = None
        self._size = (80, 24)
        self._echo = command == ["cat"]
        if not self._echo:
            self._run_once()

    def _finish(self, code: int) -> None:
        self._exit_code = code
        self._out.put_nowait(None)

    def _run_once(self) -> None:
        cmd = self.command
        if cmd in (["hostname"], ["cat", "/etc/hostname"]):
            self._out.put_nowait((STDOUT, f"{self.hostname}\n".encode()))
            self._finish(0)
        elif cmd[:1] == ["echo"]:
            self._out.put_nowait((STDOUT, (" ".join(cmd[1:]) + "\n").encode()))
            self._finish(0)
        elif len(cmd) == 3 and cmd[:2] == ["sh", "-c"] and _EXIT.match(cmd[2]):
            self._finish(int(_EXIT.match(cmd[2]).group(1)))  # type: ignore[union-attr]
        elif cmd == ["stty", "size"]:
            self._out.put_nowait((STDOUT, f"{self._size[1]} {self._size[0]}\n".encode()))
            self._finish(0)
        else:
            self._out.put_nowait((STDERR, ("hollow exec: " + " ".join(cmd) + "\n").encode()))
            self._finish(self.default_exit)

    async def write(self, data: bytes) -> None:
        if self._echo and self._exit_code is None:
            self._out.put_nowait((STDOUT, data))

    async def close_stdin(self) -> None:
        if self._echo and self._exit_code is None:
            self._finish(0)

    async def resize(self, width: int, height: int) -> None:
        self._size = (width, height)

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        while (item := await self._out.get()) is not None:
            yield item

    async def wait(self) -> int:
        return self._exit_code if self._exit_code is not None else 0

    async def close(self) -> None:
        if self._exit_code is None:
            self._finish(137)
