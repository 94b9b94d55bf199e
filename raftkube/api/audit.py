"""The audit log (kube-apiserver's --audit-log-path): one audit.k8s.io/v1 Event per request, as JSON lines.

`AuditLog.record` builds the event on the request path and hands it to a queue; a writer thread
serialises and appends it, so no request ever waits on the disk. A full queue (the disk far
behind) drops the event and counts it (`dropped`), logged once per thousand. The file is created
0600 (an existing one is tightened) and rotated by size (--audit-log-maxsize, megabytes): the full
file is renamed `<name>-<UTC time><ext>` and at most `max_backups` such files are kept.

What an event holds: auditID (also sent back as the `Audit-Id` response header), stage, requestURI,
verb, user {username, uid, groups}, sourceIPs, userAgent, objectRef, responseStatus {code},
requestReceivedTimestamp, stageTimestamp, and at level Request the request body as requestObject
(JSON bodies only). Never headers, never a token, never a response body (audit_policy.py keeps
Secrets and tokens at Metadata).
"""

from __future__ import annotations

import datetime
import glob
import json
import logging
import os
import queue
import threading
import uuid
from dataclasses import dataclass
from typing import Any

from .audit_policy import Policy, default_policy
from .auth import User
from .authz import Attributes

log = logging.getLogger(__name__)
QUEUE_EVENTS = 10_000
ANONYMOUS = User("system:anonymous", "", ("system:unauthenticated",))
MAX_REQUEST_OBJECT_BYTES = 3 * 1024 * 1024


def timestamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass
class Request:
    """What the audit layer saw of one request while it was served."""

    attrs: Attributes
    level: str
    omit_stages: tuple[str, ...]
    uri: str
    source_ip: str
    user_agent: str
    received: datetime.datetime
    audit_id: str
    body: bytes = b""
    body_is_json: bool = False
    code: int = 0  # the response's status, once sent
    completed: bool = False  # its ResponseComplete event is recorded


class AuditLog:
    def __init__(self, path: str, policy: Policy | None = None, max_size_mb: int = 100, max_backups: int = 10,
                 queue_events: int = QUEUE_EVENTS) -> None:
        self.path = path
        self.policy = policy or default_policy()
        self.max_bytes = max_size_mb * 1024 * 1024 if max_size_mb > 0 else 0
        self.max_backups = max_backups
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(queue_events)
        self._fd = self._open()
        self._thread = threading.Thread(target=self._write_all, name="audit-log", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ request path
    def begin(self, attrs: Attributes, scope: dict[str, Any]) -> Request | None:
        """The request's audit record, or None when the policy logs nothing for it."""
        level, omit = self.policy.decide(attrs)
        if level == "None":
            return None
        headers = dict(scope.get("headers") or [])
        query = scope.get("query_string", b"").decode("latin-1")
        client = scope.get("client") or ("", 0)
        return Request(attrs, level, omit, scope.get("path", "") + (f"?{query}" if query else ""), client[0],
                       headers.get(b"user-agent", b"").decode("latin-1"), now(), str(uuid.uuid4()),
                       body_is_json=headers.get(b"content-type", b"application/json").split(b";")[0].strip()
                       in (b"application/json", b"application/merge-patch+json",
                           b"application/strategic-merge-patch+json", b"application/json-patch+json"))

    def record(self, request: Request, stage: str, code: int) -> None:
        if stage in request.omit_stages:
            return
        event = self.event(request, stage, code)
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("audit log %s is behind: %d events dropped", self.path, self.dropped)

    def event(self, request: Request, stage: str, code: int) -> dict[str, Any]:
        attrs = request.attrs
        groups = attrs.user.groups if attrs.user is ANONYMOUS else attrs.groups  # anonymous: not authenticated
        user: dict[str, Any] = {"username": attrs.user.name, "groups": list(groups)}
        if attrs.user.uid:
            user["uid"] = attrs.user.uid
        event: dict[str, Any] = {
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": request.level, "auditID": request.audit_id,
            "stage": stage, "requestURI": request.uri, "verb": attrs.verb, "user": user,
            "sourceIPs": [request.source_ip] if request.source_ip else [], "userAgent": request.user_agent}
        if attrs.resource_request:
            ref = {"resource": attrs.resource, "namespace": attrs.namespace, "name": attrs.name,
                   "apiGroup": attrs.api_group, "apiVersion": attrs.api_version, "subresource": attrs.subresource}
            event["objectRef"] = {k: v for k, v in ref.items() if v}
        event["responseStatus"] = {"metadata": {}, "code": code}
        if request.level in ("Request", "RequestResponse") and request.body and request.body_is_json:
            try:
                event["requestObject"] = json.loads(request.body)
            except ValueError:
                pass  # not JSON after all: the event goes without it
        event["requestReceivedTimestamp"] = timestamp(request.received)
        event["stageTimestamp"] = timestamp(now())
        return event

    # ------------------------------------------------------------ writer thread
    def _open(self) -> int:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        os.fchmod(fd, 0o600)  # an existing file is tightened too
        return fd

    def _write_all(self) -> None:
        stop = False
        while not stop:
            batch = [self._queue.get()]
            while len(batch) < 1000:  # what else is waiting goes out in the same write
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events = [e for e in batch if e is not None]
            stop = len(events) < len(batch)
            try:
                if events:
                    self._write([json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events])
            except OSError as exc:
                log.error("audit log %s: %s", self.path, exc)
            finally:
                for _ in batch:
                    self._queue.task_done()

    def _write(self, lines: list[bytes]) -> None:
        """Append the lines, rotating first whenever the next one would take the file past max_bytes."""
        size = os.fstat(self._fd).st_size
        chunk: list[bytes] = []
        for line in lines:
            if self.max_bytes and size + len(line) > self.max_bytes and size > 0:
                if chunk:
                    os.write(self._fd, b"".join(chunk))
                    chunk = []
                self._rotate()
                size = 0
            chunk.append(line)
            size += len(line)
        if chunk:
            os.write(self._fd, b"".join(chunk))

    def _rotate(self) -> None:
        os.close(self._fd)
        stem, ext = os.path.splitext(self.path)
        stamp = now().strftime("%Y-%m-%dT%H-%M-%S.%f")[:-3]
        target, n = f"{stem}-{stamp}{ext}", 1
        while os.path.exists(target):  # two rotations within one millisecond
            target, n = f"{stem}-{stamp}.{n}{ext}", n + 1
        os.replace(self.path, target)
        backups = sorted(glob.glob(glob.escape(stem) + "-*" + glob.escape(ext)))
        for old in backups[:max(0, len(backups) - self.max_backups)]:
            os.unlink(old)
        self._fd = self._open()

    def flush(self) -> None:
        """Wait until every recorded event is written (tests, shutdown)."""
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(10)
        os.close(self._fd)
