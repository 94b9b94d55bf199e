"""Jepsen-style operation histories: `Op`, `History` and a `Recorder` that times operations.

An operation is recorded twice: an ``invoke`` when a client process starts it and a completion
(``ok``, ``fail`` = definitely did not happen, ``info`` = unknown) when it ends. Times are seconds
since the run started on a monotonic clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

OpType = Literal["invoke", "ok", "fail", "info"]
OP_TYPES: tuple[str, ...] = ("invoke", "ok", "fail", "info")


@dataclass
class Op:
    """One history event. ``f`` is "read" | "write" | "cas" | "add" | "read-set"."""

    process: int
    type: OpType
    f: str
    key: str
    value: Any
    time: float
    index: int = -1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Op:
        if data["type"] not in OP_TYPES:
            raise ValueError(f"unknown op type {data['type']!r}")
        return cls(process=int(data["process"]), type=data["type"], f=str(data["f"]), key=str(data["key"]),
                   value=data.get("value"), time=float(data["time"]), index=int(data.get("index", -1)))


class History:
    """An append-only list of ops; ``index`` is the position in ``ops``."""

    def __init__(self, ops: list[Op] | None = None) -> None:
        self.ops: list[Op] = []
        for op in ops or []:
            self.append(op)

    def __len__(self) -> int:
        return len(self.ops)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, History) and self.ops == other.ops

    __hash__ = None  # type: ignore[assignment]  # mutable

    def append(self, op: Op) -> Op:
        op.index = len(self.ops)
        self.ops.append(op)
        return op

    def pairs(self) -> list[tuple[Op, Op | None]]:
        """(invoke, completion or None) per operation, in invoke order.

        A process runs one operation at a time, so its next non-invoke op completes its pending invoke.
        """
        pending: dict[int, int] = {}
        result: list[tuple[Op, Op | None]] = []
        for op in self.ops:
            if op.type == "invoke":
                # a process runs one op at a time; an earlier invoke left pending stays (invoke, None)
                pending[op.process] = len(result)
                result.append((op, None))
            else:
                slot = pending.pop(op.process, None)
                if slot is None:
                    raise ValueError(f"completion without invoke: {op}")
                result[slot] = (result[slot][0], op)
        return result

    def by_key(self) -> dict[str, list[Op]]:
        """Ops grouped by key, each group in history order."""
        groups: dict[str, list[Op]] = {}
        for op in self.ops:
            groups.setdefault(op.key, []).append(op)
        return groups

    def save(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for op in self.ops:
                fh.write(json.dumps(op.to_dict(), default=_jsonable) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> History:
        with open(path, encoding="utf-8") as fh:
            return cls([Op.from_dict(json.loads(line)) for line in fh if line.strip()])

    def to_list(self) -> list[dict[str, Any]]:
        return [op.to_dict() for op in self.ops]

    @classmethod
    def from_list(cls, items: list[dict[str, Any]]) -> History:
        return cls([Op.from_dict(item) for item in items])


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


class Definite(Exception):
    """Raised by a workload inside ``Recorder.op`` when the operation definitely did not happen."""

    def __init__(self, message: str = "", value: Any = None) -> None:
        super().__init__(message)
        self.value = value


@dataclass
class PendingOp:
    """Handle yielded by ``Recorder.op``; set ``result`` to the value to record on ``ok``."""

    invoke: Op
    result: Any = None
    completion: Op | None = field(default=None)

    def __getattr__(self, name: str) -> Any:  # process, f, key, value, time, index of the invoke
        if name == "invoke":
            raise AttributeError(name)
        return getattr(self.invoke, name)


class Recorder:
    """Records invoke/completion pairs into a history with times relative to ``t0``."""

    def __init__(self, history: History, clock: Callable[[], float] = time.monotonic,
                 t0: float | None = None) -> None:
        self.history = history
        self.clock = clock
        self.t0 = clock() if t0 is None else t0

    def now(self) -> float:
        return self.clock() - self.t0

    def invoke(self, process: int, f: str, key: str, value: Any) -> Op:
        return self.history.append(Op(process, "invoke", f, key, value, self.now()))

    def complete(self, invoke_op: Op, type: OpType, value: Any = None) -> Op:  # noqa: A002 - Jepsen name
        if type == "invoke":
            raise ValueError("a completion cannot be an invoke")
        return self.history.append(Op(invoke_op.process, type, invoke_op.f, invoke_op.key, value, self.now()))

    @asynccontextmanager
    async def op(self, process: int, f: str, key: str, value: Any) -> AsyncIterator[PendingOp]:
        """ok with ``handle.result`` on normal exit, fail on `Definite`, info on anything else."""
        handle = PendingOp(self.invoke(process, f, key, value))
        try:
            yield handle
        except Definite as exc:
            failed = exc.value if exc.value is not None else handle.invoke.value
            handle.completion = self.complete(handle.invoke, "fail", failed)
        except asyncio.CancelledError:
            handle.completion = self.complete(handle.invoke, "info", handle.invoke.value)
            raise
        except Exception:
            handle.completion = self.complete(handle.invoke, "info", handle.invoke.value)
        else:
            handle.completion = self.complete(handle.invoke, "ok", handle.result)
