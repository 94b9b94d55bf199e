"""The control plane's own health over the API: this replica's Raft view, and the last chaos run.

`GET /raftkube/v1/status` answers the local store replica's `status()` (state, leader, term,
commit and applied index, members), each member with its `lag`: how many committed entries it
has not yet acknowledged (the leader's commit index minus the member's match index; only the
leader knows its followers' match indexes, so on a follower `lag` is null except its own
apply backlog). `GET /raftkube/v1/chaos/last` answers the newest `summary.json` a chaos run
(`python -m chaos run --out DIR`) wrote under the server's `--chaos-report-dir`, or 404 saying
why. Both are non-resource URLs: the caller passes authentication and then RBAC's
nonResourceURLs rules (cluster-admin's `*`); nothing here grants access.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .errors import APIError
from .handlers import json_response

STATUS_PATH = "/raftkube/v1/status"
CHAOS_LAST_PATH = "/raftkube/v1/chaos/last"
CHAOS_SUMMARY = "summary.json"

Obj = dict[str, Any]


def with_lag(status: Obj) -> Obj:
    """`status` with each member's lag behind the commit index (None where this replica cannot know it)."""
    commit = status.get("commit_index")
    is_leader = status.get("state") == "leader"
    members = []
    for member in status.get("members") or []:
        lag: int | None = None
        if member.get("self") and commit is not None:
            lag = max(0, commit - int(status.get("applied_index") or 0))
        elif is_leader and commit is not None and member.get("match_index") is not None:
            lag = max(0, commit - int(member["match_index"]))
        members.append({**member, "leader": member.get("address") == status.get("leader"), "lag": lag})
    return {**status, "members": members}


def newest_summary(directory: str) -> str | None:
    """The newest chaos summary in `directory` itself or one level below it (each run's --out)."""
    candidates = [os.path.join(directory, CHAOS_SUMMARY)]
    try:
        candidates += [os.path.join(entry.path, CHAOS_SUMMARY) for entry in os.scandir(directory) if entry.is_dir()]
    except OSError:
        return None
    found = [(os.path.getmtime(path), path) for path in candidates if os.path.isfile(path)]
    return max(found)[1] if found else None


def _read_json(path: str) -> Obj:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


class ControlPlaneStatus:
    """Answers the two endpoints; `replica_status` is the local StoreReplica's `status`."""

    def __init__(self, replica_status: Callable[[], Obj], chaos_report_dir: str | None = None) -> None:
        self.replica_status = replica_status
        self.chaos_report_dir = chaos_report_dir

    async def status(self, request: Request) -> Response:
        return json_response(with_lag(self.replica_status()))

    async def chaos_last(self, request: Request) -> Response:
        if not self.chaos_report_dir:
            raise APIError(404, "NotFound", "no chaos report directory is configured: start the API server with "
                           "--chaos-report-dir DIR (where `python -m chaos run --out` writes)")
        path = newest_summary(self.chaos_report_dir)
        if path is None:
            raise APIError(404, "NotFound", f"no chaos run summary ({CHAOS_SUMMARY}) in {self.chaos_report_dir} "
                           "or its subdirectories: run `python -m chaos run SCENARIO --out DIR` there")
        try:
            summary = await asyncio.to_thread(_read_json, path)
        except (OSError, ValueError) as exc:
            raise APIError(500, "InternalError", f"cannot read the chaos summary {path}: {exc}") from None
        return json_response({**summary, "path": path})
