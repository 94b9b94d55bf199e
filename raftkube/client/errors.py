"""Typed client errors built from the server's `kind: Status` body (reason first, then HTTP code).

Every server error is an `ApiError` with `.code` (HTTP status), `.reason` (the Status reason,
e.g. "NotFound"), `.message`, `.status` (the Status dict as received or synthesized),
`.causes` (the `details.causes` list) and `.retry_after` (seconds, from the body or the
`Retry-After` header). Two errors are the client's own: `ApiUnavailable` (no endpoint
answered within the retry budget) and `OutcomeUnknown` (a write was sent but its answer was
lost: it may or may not have been applied, and it was deliberately not retried).
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    code: int = 0
    reason: str = ""

    def __init__(self, status: dict[str, Any] | None = None, *, code: int | None = None, reason: str | None = None,
                 message: str | None = None, retry_after: float | None = None) -> None:
        status = dict(status or {})
        self.code = int(code if code is not None else status.get("code") or type(self).code)
        self.reason = reason or status.get("reason") or type(self).reason or "Unknown"
        self.message = message or status.get("message") or self.reason
        status.setdefault("kind", "Status")
        status.setdefault("apiVersion", "v1")
        status.setdefault("status", "Failure")
        status.setdefault("message", self.message)
        status.setdefault("reason", self.reason)
        status.setdefault("code", self.code)
        self.status = status
        details = status.get("details") or {}
        self.details: dict[str, Any] = details if isinstance(details, dict) else {}
        self.causes: list[dict[str, Any]] = list(self.details.get("causes") or [])
        if retry_after is None and self.details.get("retryAfterSeconds") is not None:
            retry_after = float(self.details["retryAfterSeconds"])
        self.retry_after = retry_after
        super().__init__(self.message)

    def __str__(self) -> str:
        return f"{self.reason} ({self.code}): {self.message}"

    def kubectl_message(self) -> str:
        """The line kubectl prints: `Error from server (NotFound): pods "x" not found`."""
        return f"Error from server ({self.reason}): {self.message}"


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"


class Conflict(ApiError):
    code, reason = 409, "Conflict"


class Gone(ApiError):
    code, reason = 410, "Gone"


class Expired(Gone):
    """The resourceVersion asked for is older than the history kept: relist."""

    code, reason = 410, "Expired"


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Invalid(ApiError):
    code, reason = 422, "Invalid"


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"


class ServerError(ApiError):
    """Any 5xx: for a write, the outcome is unknown (it may have been committed)."""

    code, reason = 500, "InternalError"


class InternalError(ServerError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ServerError):
    code, reason = 503, "ServiceUnavailable"


class ServerTimeout(ServerError):
    code, reason = 504, "Timeout"


class ApiUnavailable(ApiError):
    """No endpoint gave an answer within the retry budget (connection errors, 5xx, 429)."""

    code, reason = 503, "ServiceUnavailable"


class OutcomeUnknown(ApiError):
    """A write reached the wire but its answer was lost; it was not retried."""

    code, reason = 0, "OutcomeUnknown"


_BY_REASON: dict[str, type[ApiError]] = {cls.reason: cls for cls in (
    BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, AlreadyExists, Conflict, Gone,
    Expired, RequestEntityTooLarge, UnsupportedMediaType, Invalid, TooManyRequests, InternalError,
    ServiceUnavailable, ServerTimeout)}
_BY_REASON["ServerTimeout"] = ServerTimeout
_BY_CODE: dict[int, type[ApiError]] = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound,
                                       405: MethodNotAllowed, 406: NotAcceptable, 409: Conflict, 410: Gone,
                                       413: RequestEntityTooLarge, 415: UnsupportedMediaType, 422: Invalid,
                                       429: TooManyRequests, 500: InternalError, 503: ServiceUnavailable,
                                       504: ServerTimeout}


def error_from_status(status: dict[str, Any] | None, code: int | None = None, *, text: str = "",
                      retry_after: float | None = None) -> ApiError:
    """The typed error for a Status body (or for a bare HTTP code when the body is not a Status)."""
    if not isinstance(status, dict) or status.get("kind") != "Status":
        status = {"message": text.strip() or f"the server answered HTTP {code}"}
    code = int(status.get("code") or code or 500)
    reason = str(status.get("reason") or "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code) or (ServerError if code >= 500 else ApiError)
    if not reason:
        reason = cls.reason if cls.code == code else _default_reason(code)
    return cls(status, code=code, reason=reason, retry_after=retry_after)


def _default_reason(code: int) -> str:
    return "InternalError" if code >= 500 else "BadRequest" if code == 400 else f"HTTP{code}"
