"""Reading request bodies (JSON, YAML or Kubernetes protobuf; size-limited) and the query options of each verb.

The size cap is checked on the declared Content-Length before any of the body is read, and
counted chunk by chunk for a chunked body; a 413 closes the connection (app.error_response),
so the rest of an oversized body is never read. YAML is parsed with libyaml, and a YAML body
over YAML_THREAD_BYTES is decoded on a worker thread: a few megabytes take about a second to
construct, which on the event loop would stall every other request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from .errors import APIError, bad_request, unsupported_media_type
from .patch import decode_json, decode_yaml
from .protobuf import MEDIA_TYPE as PROTOBUF
from .protobuf import decode_k8s_protobuf

MAX_BODY_BYTES = 3 * 1024 * 1024  # Kubernetes' request size limit
YAML_THREAD_BYTES = 64 * 1024  # YAML bodies at least this big are decoded off the event loop
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
PROPAGATION = ("Foreground", "Background", "Orphan")


async def read_raw(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY_BYTES:
        raise APIError(413, "RequestEntityTooLarge", f"the request body is {length} bytes, over the limit of "
                       f"{MAX_BODY_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise APIError(413, "RequestEntityTooLarge",
                           f"the request body is over the limit of {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


def decode_body(raw: bytes, content_type: str) -> Any:
    if not raw.strip():
        raise bad_request("the request body is empty")
    if content_type in ("application/json", "", "*/*"):
        return decode_json(raw, "the request body as JSON")  # no NaN/Infinity, UTF-8 only
    if content_type in YAML_TYPES:
        return decode_yaml(raw, "the request body")  # JSON values only, aliases bounded
    if content_type == PROTOBUF:  # kubectl's typed clients (create configmap, deployment, ...)
        return decode_k8s_protobuf(raw)
    raise unsupported_media_type(content_type)


async def decode_body_off_loop(raw: bytes, content_type: str) -> Any:
    """`decode_body`, on a worker thread for a large YAML body (the GIL still lets the loop run meanwhile)."""
    if content_type in YAML_TYPES and len(raw) >= YAML_THREAD_BYTES:
        return await asyncio.to_thread(decode_body, raw, content_type)
    return decode_body(raw, content_type)


async def read_object(request: Request) -> Any:
    return await decode_body_off_loop(await read_raw(request), media_type(request))


def field_validation(request: Request) -> str:
    value = request.query_params.get("fieldValidation") or "Strict"
    if value not in FIELD_VALIDATION:
        raise bad_request(f"fieldValidation must be one of {', '.join(FIELD_VALIDATION)}, got {value!r}")
    return value


def dry_run(request: Request) -> bool:
    values = request.query_params.getlist("dryRun")
    for value in values:
        if value != "All":
            raise bad_request(f"dryRun must be All, got {value!r}")
    return bool(values)


def field_manager(request: Request, default: str | None = None) -> str:
    manager = request.query_params.get("fieldManager")
    if manager:
        if len(manager) > 128:
            raise bad_request("fieldManager must be at most 128 characters")
        return manager
    if default:
        return default
    agent = request.headers.get("user-agent", "unknown")
    return agent.split("/")[0][:128] or "unknown"


def int_param(request: Request, name: str, default: int = 0) -> int:
    value = request.query_params.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(value)
    except ValueError:
        raise bad_request(f"{name} must be an integer, got {value!r}") from None
    if number < 0:
        raise bad_request(f"{name} must not be negative")
    return number


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


def delete_options(request: Request, body: Any) -> dict[str, Any]:
    """DeleteOptions from the body (if any) and the query (query wins, as in Kubernetes)."""
    options: dict[str, Any] = {}
    if body is not None:
        if not isinstance(body, dict):
            raise bad_request("DeleteOptions must be an object")
        options.update(body)
    if "propagationPolicy" in request.query_params:
        options["propagationPolicy"] = request.query_params["propagationPolicy"]
    if "gracePeriodSeconds" in request.query_params:
        options["gracePeriodSeconds"] = int_param(request, "gracePeriodSeconds")
    if "orphanDependents" in request.query_params:
        options["orphanDependents"] = bool_param(request, "orphanDependents")
    policy = options.get("propagationPolicy")
    if policy is None and options.get("orphanDependents") is not None:
        policy = "Orphan" if options["orphanDependents"] else "Background"
    if policy is not None and policy not in PROPAGATION:
        raise bad_request(f"propagationPolicy must be one of {', '.join(PROPAGATION)}, got {policy!r}")
    options["propagationPolicy"] = policy
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or grace < 0):
        raise bad_request("gracePeriodSeconds must be a non-negative integer")
    pre = options.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise bad_request("preconditions must be an object")
    options["preconditions"] = pre
    return options
