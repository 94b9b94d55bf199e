"""Helpers of the error-reason tests: request headers and objects written through the HTTP layer."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from tests.api.inproc import (
    InProcessAPI,
    configmap,
)

_names = itertools.count()
MERGE = {"content-type": "application/merge-patch+json"}
JSON = {"content-type": "application/json"}
YAML = {"content-type": "application/yaml"}


def created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    obj: dict[str, Any] = response.json()
    return obj


def pods(ns: str) -> str:
    return f"/api/v1/namespaces/{ns}/pods"


def deployments(ns: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments"


# ------------------------------------------------------------ 410 Gone / Expired
def compact_past(api: InProcessAPI, client: httpx.Client, ns: str) -> int:
    """Write a few objects, compact the store through the latest revision, return an older one."""
    old = api.revision()
    for i in range(3):
        created(client.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap(f"c{i}")))
    assert api.compact(api.revision()) > old + 1
    return old
