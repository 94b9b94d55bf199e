"""The scale subresource of a custom resource: replicas and selector at the CRD's JSON paths.

`specReplicasPath` (e.g. `.spec.replicas`) is read and written, `statusReplicasPath` and
`labelSelectorPath` (a serialized selector string, e.g. `.status.selector`) are read; a missing
value reads as 0 / "" as kube-apiserver answers it.
"""

from __future__ import annotations

from typing import Any

from .resource import CustomResource
from .strategy import json_path

Obj = dict[str, Any]


def custom_scale(resource: CustomResource, obj: Obj) -> Obj:
    meta = obj["metadata"]
    spec_replicas = json_path(obj, resource.spec_replicas_path)
    status_replicas = json_path(obj, resource.status_replicas_path)
    status: Obj = {"replicas": status_replicas if isinstance(status_replicas, int) else 0}
    selector = json_path(obj, resource.label_selector_path) if resource.label_selector_path else None
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec_replicas if isinstance(spec_replicas, int) else 0},
            "status": status}


def set_spec_replicas(resource: CustomResource, obj: Obj, replicas: int) -> None:
    """Write `replicas` at specReplicasPath (`.spec.a.b`), creating the objects on the way."""
    keys = [k for k in resource.spec_replicas_path.split(".") if k]
    node = obj
    for key in keys[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[keys[-1]] = replicas
