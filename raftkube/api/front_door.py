"""What every API request passes before its handler: authentication (once), the audit log, fairness.

The front door authenticates the request's bearer token once and leaves the user in the scope
(`AUTHENTICATED`: the User, or None for a token nobody knows), where `app.guarded` takes it for
authorization and the handlers. Knowing the user here is what lets the in-flight limiter queue
per user and the audit log name who asked. Order: the audit record opens first (so refusals are
logged too), then fairness seats the request (or answers 429), then the app serves it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .audit import ANONYMOUS, MAX_REQUEST_OBJECT_BYTES, AuditLog
from .audit import Request as AuditRequest
from .auth import TokenAuthenticator, is_anonymous_path
from .authz import request_attributes
from .errors import APIError
from .fairness import Fairness, is_long_running
from .x509_auth import client_certificate_user

AUTHENTICATED = "raftkube.authenticated"  # scope key: the User the token names, or None
ErrorResponse = Callable[[APIError], Any]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key == name:
            return str(value.decode("latin-1"))
    return None


def front_door(inner: ASGIApp, auth: TokenAuthenticator, fairness: Fairness | None, audit: AuditLog | None,
               error_response: ErrorResponse) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope["method"]
        user = None
        if not is_anonymous_path(path):
            authorization = _header(scope, b"authorization")
            # a bearer token when one is sent (a wrong one is a 401), else a verified client certificate
            user = auth.authenticate(authorization) if authorization else client_certificate_user(scope)
            scope[AUTHENTICATED] = user
        raw_query = scope.get("query_string", b"")
        query = dict(parse_qsl(raw_query.decode("latin-1"))) if b"watch" in raw_query or b"follow" in raw_query else {}
        attrs = request_attributes(user or ANONYMOUS, method, path, query.get("watch", "").lower() in ("1", "true"))
        long_running = is_long_running(attrs.verb, attrs.subresource, query)
        record = audit.begin(attrs, scope) if audit is not None else None
        if record is not None:
            receive, send = _audited(audit, record, receive, send, long_running)  # type: ignore[arg-type]
        try:
            release = await fairness.enter(user, attrs.verb, long_running) if fairness is not None else None
        except APIError as err:
            await error_response(err)(scope, receive, send)
        else:
            try:
                await inner(scope, receive, send)
            finally:
                if release is not None:
                    release()
        if record is not None and not record.completed:
            # 500: the app ended without answering (it failed)
            audit.record(record, "ResponseComplete", record.code or 500)  # type: ignore[union-attr]
    return app


def _audited(audit: AuditLog, record: AuditRequest, receive: Receive, send: Send,
             long_running: bool) -> tuple[Receive, Send]:
    """`receive` keeping the body for a Request-level event, `send` noting the status (and Audit-Id)."""
    keep_body = record.level in ("Request", "RequestResponse")

    async def receiving() -> Message:
        message = await receive()
        if message["type"] == "http.request" and len(record.body) <= MAX_REQUEST_OBJECT_BYTES:
            record.body += message.get("body", b"")
        return message

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            record.code = message["status"]
            message = {**message, "headers": [*message.get("headers", []), (b"audit-id", record.audit_id.encode())]}
            if long_running:
                audit.record(record, "ResponseStarted", message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            # recorded before the last byte leaves: whoever saw the answer finds its event queued
            record.completed = True
            audit.record(record, "ResponseComplete", record.code or 500)
        await send(message)
    return (receiving if keep_body else receive), sending
