"""API errors as Kubernetes `Status` objects, with the reasons and codes kubectl expects."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cause:
    """One invalid field: `field` is a JSON path like `spec.containers[0].image`."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"  # FieldValueRequired, FieldValueNotSupported, FieldValueDuplicate, ...

    def to_json(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "reason": self.reason}


class APIError(Exception):
    def __init__(self, code: int, reason: str, message: str, *, name: str | None = None, kind: str | None = None,
                 group: str | None = None, causes: list[Cause] | None = None,
                 retry_after: int | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message
        self.name, self.kind, self.group = name, kind, group
        self.causes = causes or []
        self.retry_after = retry_after

    def status(self) -> dict[str, Any]:
        details: dict[str, Any] = {}
        if self.name is not None:
            details["name"] = self.name
        if self.group:
            details["group"] = self.group
        if self.kind is not None:
            details["kind"] = self.kind
        if self.causes:
            details["causes"] = [c.to_json() for c in self.causes]
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                "message": self.message, "reason": self.reason, "code": self.code}
        if details:
            body["details"] = details
        return body


def not_found(resource: str, name: str, group: str = "") -> APIError:
    full = f"{resource}.{group}" if group else resource
    return APIError(404, "NotFound", f'{full} "{name}" not found', name=name, kind=resource, group=group)


def already_exists(resource: str, name: str, group: str = "") -> APIError:
    full = f"{resource}.{group}" if group else resource
    return APIError(409, "AlreadyExists", f'{full} "{name}" already exists', name=name, kind=resource, group=group)


def conflict(resource: str, name: str, group: str = "", why: str | None = None) -> APIError:
    full = f"{resource}.{group}" if group else resource
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return APIError(409, "Conflict", f'Operation cannot be fulfilled on {full} "{name}": {why}',
                    name=name, kind=resource, group=group)


def invalid(kind: str, name: str, causes: list[Cause], group: str = "") -> APIError:
    summary = ", ".join(f"{c.field}: {c.message}" for c in causes)
    full = f"{kind}.{group}" if group else kind
    return APIError(422, "Invalid", f'{full} "{name}" is invalid: {summary}', name=name, kind=kind, group=group,
                    causes=causes)


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def unauthorized(message: str = "Unauthorized") -> APIError:
    return APIError(401, "Unauthorized", message)


def forbidden(message: str) -> APIError:
    return APIError(403, "Forbidden", message)


def method_not_allowed(message: str) -> APIError:
    return APIError(405, "MethodNotAllowed", message)


def gone(message: str) -> APIError:
    return APIError(410, "Expired", message)


def unsupported_media_type(content_type: str) -> APIError:
    return APIError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                    f"accepted media types include: application/json, application/yaml (got {content_type!r})")


def too_many_requests(message: str, retry_after: int = 1) -> APIError:
    return APIError(429, "TooManyRequests", message, retry_after=retry_after)


def internal(message: str) -> APIError:
    return APIError(500, "InternalError", message)


def insufficient_storage(message: str) -> APIError:
    """The store is at its byte quota. Kubernetes passes etcd's "database space exceeded" on as a 500
    InternalError; 507 Insufficient Storage (RFC 4918) says what it is: not a bug, not the request's
    size (413), and it lasts until objects are deleted (no Retry-After)."""
    return APIError(507, "InsufficientStorage", message)


def unavailable(message: str) -> APIError:
    return APIError(503, "ServiceUnavailable", message, retry_after=1)


def timeout(message: str) -> APIError:
    return APIError(504, "Timeout", message, retry_after=1)
