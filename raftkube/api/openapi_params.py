"""The query parameters the OpenAPI documents declare on each operation (list/watch, delete, log, write
options), as kube-apiserver's spec names and types them; raftkube/api/openapi.py puts them on paths."""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def param(name: str, where: str, desc: str, type_: str = "string", required: bool = False) -> Obj:
    out: Obj = {"name": name, "in": where, "description": desc, "schema": {"type": type_, "uniqueItems": True}}
    if required:
        out["required"] = True
    return out


PRETTY = param("pretty", "query", "If 'true', the output is pretty printed.")
DRY_RUN = param("dryRun", "query", "When present (the only valid value is All), the change is checked but "
                 "not persisted.")
FIELD_MANAGER = param("fieldManager", "query", "Name of the actor making the change, for managedFields.")
FIELD_VALIDATION = param("fieldValidation", "query", "What to do with unknown fields in the body: Ignore "
                          "(drop them), Warn (drop them with a warning per field) or Strict (fail the request).")
FORCE = param("force", "query", "Apply requests only: take over fields owned by other managers.", "boolean")
LIST_PARAMS = [
    param("allowWatchBookmarks", "query", "Watch only: send BOOKMARK events.", "boolean"),
    param("continue", "query", "The continue token of the previous chunk of a list."),
    param("fieldSelector", "query", "Restrict the list by fields, e.g. metadata.name=x,status.phase!=Running."),
    param("labelSelector", "query", "Restrict the list by labels, e.g. app=web,tier in (a,b),!legacy."),
    param("limit", "query", "Maximum number of items in one chunk.", "integer"),
    param("resourceVersion", "query", "List at (or watch from) this resource version."),
    param("resourceVersionMatch", "query", "How resourceVersion applies to a list: Exact or NotOlderThan."),
    param("sendInitialEvents", "query", "Watch only: start with synthetic ADDED events for the current state.",
           "boolean"),
    param("timeoutSeconds", "query", "Timeout of the list or watch call.", "integer"),
    param("watch", "query", "Watch for changes instead of listing.", "boolean"),
]
DELETE_PARAMS = [
    DRY_RUN,
    param("gracePeriodSeconds", "query", "Seconds before the object is deleted; 0 deletes now.", "integer"),
    param("orphanDependents", "query", "Deprecated: use propagationPolicy.", "boolean"),
    param("propagationPolicy", "query", "Orphan, Background or Foreground garbage collection of dependents."),
]
LOG_PARAMS = [
    param("container", "query", "The container to stream logs of; optional if the pod has one."),
    param("follow", "query", "Follow the log stream.", "boolean"),
    param("previous", "query", "Logs of the previous, terminated container instance.", "boolean"),
    param("sinceSeconds", "query", "Only logs newer than this many seconds.", "integer"),
    param("tailLines", "query", "Only this many lines from the end.", "integer"),
    param("timestamps", "query", "Prefix each line with an RFC 3339 timestamp.", "boolean"),
    param("limitBytes", "query", "Stop after this many bytes.", "integer"),
]
