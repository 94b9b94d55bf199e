"""PATCH bodies: one entry point, `apply_patch`, dispatching on the request's content type.

  application/json-patch+json             RFC 6902 (`json_patch.py`)
  application/merge-patch+json            RFC 7386 (`merge_patch.py`)
  application/strategic-merge-patch+json  Kubernetes strategic merge (`strategic_merge.py`)
  application/apply-patch+yaml            server-side apply (`apply.py`)

Everything works on copies: a request either yields a whole new object or raises `APIError`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

from ..errors import bad_request, unsupported_media_type
from .apply import decode_managed_fields, encode_managed_fields, manager_required, record_update, server_side_apply
from .json_patch import apply_json_patch
from .merge_patch import create_merge_patch, merge_patch
from .strategic_merge import strategic_merge
from .typeinfo import Types

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY_PATCH)
MAX_YAML_ALIASES = 100


# libyaml's parser (C) when PyYAML was built with it: about 10x faster than the pure-Python one on a large body
_SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[misc,valid-type]
    """YAML as Kubernetes reads it: timestamps stay strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _body_text(body: bytes, what: str) -> str:
    """The body as text, or 400 BadRequest if it is not UTF-8 or holds nothing."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"error decoding {what}: the body is not UTF-8 ({exc.reason})") from None
    if not text.strip():
        raise bad_request(f"error decoding {what}: the body is empty")
    return text


def decode_json(body: bytes, what: str = "patch") -> Any:
    """A JSON body, or 400 BadRequest saying what is wrong with it."""
    text = _body_text(body, what)
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise bad_request(f"error decoding {what}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise bad_request(f"error decoding {what}: {exc}") from None


def _jsonish(value: Any, path: str, budget: list[int] | None = None) -> Any:
    """The YAML value as plain JSON values; `budget` bounds the nodes copied (aliases expand)."""
    budget = budget if budget is not None else [0]
    budget[0] -= 1
    if budget[0] < 0:
        raise bad_request("error decoding YAML: the document expands to too many values (aliases?)")
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else json.dumps(key)
            out[name] = _jsonish(item, f"{path}.{name}", budget)
        return out
    if isinstance(value, list):
        return [_jsonish(item, f"{path}[{i}]", budget) for i, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise bad_request(f"error decoding YAML: {path or '<root>'}: {value} is not a JSON number")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise bad_request(f"error decoding YAML: {path or '<root>'}: a {type(value).__name__} is not a JSON value")


def decode_yaml(body: bytes, what: str = "apply configuration") -> Any:
    """A YAML (or JSON) body, or 400 BadRequest naming the problem."""
    text = _body_text(body, what)
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text, parse_constant=_reject_constant)
        except ValueError:
            pass  # flow-style YAML is a superset of JSON: let the YAML parser have it
    try:
        aliases = sum(1 for token in yaml.scan(text, Loader=_Loader) if isinstance(token, yaml.AliasToken))
        if aliases > MAX_YAML_ALIASES:  # an alias bomb expands a few bytes into gigabytes
            raise bad_request(f"error decoding {what} as YAML: {aliases} aliases, over the limit of "
                              f"{MAX_YAML_ALIASES}")
        value = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise bad_request(f"error decoding {what} as YAML: {' '.join(str(exc).split())}") from None
    return _jsonish(value, "", [max(100_000, 20 * len(text))])


def apply_patch(content_type: str, live: dict[str, Any] | None, body: bytes, root_type: str, *,
                field_manager: str | None, force: bool, now: str, types: Types | None = None,
                subresource: str = "") -> dict[str, Any]:
    """The object that results from PATCHing `live` with `body`; `live` is never modified.

    `live is None` is allowed only for apply patches (it means create). For other patch types
    a `field_manager` also records the write in managedFields (operation Update); pass None to
    leave managedFields to the caller (e.g. for the scale subresource)."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in PATCH_TYPES:
        raise unsupported_media_type(content_type)
    if media == APPLY_PATCH:
        if not field_manager:
            raise manager_required()
        applied = decode_yaml(body)
        if not isinstance(applied, dict):
            raise bad_request("the apply configuration must be an object (a YAML mapping or a JSON object), got "
                              + type(applied).__name__)
        return server_side_apply(live, applied, field_manager, force, types, root_type=root_type, now=now,
                                 subresource=subresource)
    if force:
        raise bad_request("force may only be set for apply patches (application/apply-patch+yaml)")
    if live is None:
        raise ValueError("only apply patches can create: the server must answer 404 before patching")
    patch = decode_json(body)
    if media == JSON_PATCH:
        result = apply_json_patch(live, patch)
    elif not isinstance(patch, dict):
        raise bad_request(f"a {media} body must be a JSON object, got {type(patch).__name__}")
    elif media == MERGE_PATCH:
        result = merge_patch(live, patch)
    else:
        result = strategic_merge(live, patch, root_type, types)
    if not isinstance(result, dict):
        raise bad_request("the patched object is not a JSON object")
    obj: dict[str, Any] = result
    if field_manager:
        obj = record_update(live, obj, field_manager, types, root_type=root_type, now=now, subresource=subresource)
    return obj


__all__ = ["APPLY_PATCH", "JSON_PATCH", "MERGE_PATCH", "PATCH_TYPES", "STRATEGIC_MERGE_PATCH", "apply_json_patch",
           "apply_patch", "create_merge_patch", "decode_json", "decode_managed_fields", "decode_yaml",
           "encode_managed_fields", "merge_patch", "record_update", "server_side_apply", "strategic_merge"]
