"""Errors the store raises; each has a stable `code` so it survives the HTTP hop intact."""

from __future__ import annotations

from typing import Any


class StoreError(Exception):
    code = "internal"
    http_status = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, "details": self.details}

    def __reduce__(self) -> tuple[Any, ...]:  # errors live in snapshots (the request cache)
        return (error_from_wire, (self.to_wire(),))


class InvalidRequest(StoreError):
    """Malformed input; `field` names the offending part of the request."""

    code = "invalid"
    http_status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)
        self.field = field


class ValueTooLarge(InvalidRequest):
    """A value over the store's per-value limit (etcd's "request is too large")."""

    code = "too_large"
    http_status = 413


class CompactedError(StoreError):
    """The requested revision is older than the oldest revision the history still holds."""

    code = "compacted"
    http_status = 410

    def __init__(self, requested: int, compact_revision: int) -> None:
        super().__init__(
            f"required revision {requested} has been compacted; oldest revision held is {compact_revision}",
            requested=requested, compact_revision=compact_revision)
        self.compact_revision = compact_revision


class FutureRevisionError(StoreError):
    code = "future_revision"
    http_status = 400

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is in the future (current revision {current})",
                         requested=requested, current=current)


class LeaseNotFound(StoreError):
    code = "lease_not_found"
    http_status = 404

    def __init__(self, lease_id: int) -> None:
        super().__init__(f"lease {lease_id} not found", lease=lease_id)


class Unavailable(StoreError):
    """No quorum or no leader reachable: the request was not applied (safe to retry)."""

    code = "unavailable"
    http_status = 503


class OutcomeUnknown(StoreError):
    """The request may or may not have been applied (leader changed, timed out)."""

    code = "unknown_outcome"
    http_status = 504


class WatchCancelled(StoreError):
    """The server ended a watch (the watcher fell too far behind, or the replica stops)."""

    code = "watch_cancelled"
    http_status = 503


class NoSpace(StoreError):
    """A write would grow the store past its quota: etcd's NOSPACE alarm."""

    code = "no_space"
    http_status = 507

    def __init__(self, size: int, growth: int, quota: int) -> None:
        super().__init__(f"mvcc: database space exceeded: the store holds {size} bytes and this write adds "
                         f"{growth}, over its quota of {quota} bytes (--quota-backend-bytes); delete objects "
                         "to free space", size=size, growth=growth, quota=quota)


_BY_CODE: dict[str, type[StoreError]] = {
    c.code: c for c in (StoreError, InvalidRequest, ValueTooLarge, CompactedError, FutureRevisionError, LeaseNotFound,
                        Unavailable, OutcomeUnknown, WatchCancelled, NoSpace)
}


def error_from_wire(w: dict[str, Any]) -> StoreError:
    cls = _BY_CODE.get(w.get("error", ""), StoreError)
    d = w.get("details") or {}
    if cls is InvalidRequest or cls is ValueTooLarge:
        return cls(d.get("field", "?"), w["message"].split(": ", 1)[-1])
    if cls is CompactedError:
        return CompactedError(d.get("requested", 0), d.get("compact_revision", 0))
    if cls is FutureRevisionError:
        return FutureRevisionError(d.get("requested", 0), d.get("current", 0))
    if cls is LeaseNotFound:
        return LeaseNotFound(d.get("lease", 0))
    if cls is NoSpace:
        return NoSpace(d.get("size", 0), d.get("growth", 0), d.get("quota", 0))
    err = cls(w.get("message", "error"))
    err.details = d
    return err
