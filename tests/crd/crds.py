"""CRDs the custom-resource tests share: a namespaced Widget (two versions, status and scale) and more."""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]
GROUP = "example.com"

WIDGET_SCHEMA: Obj = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": 100},
                "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "red"},
                "name": {"type": "string", "maxLength": 8, "pattern": "^[a-z]+$"},
                "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                "port": {"x-kubernetes-int-or-string": True},
                "replicas": {"type": "integer", "default": 1},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {"replicas": {"type": "integer"}, "selector": {"type": "string"},
                           "phase": {"type": "string"}},
        },
    },
}


def widget_crd(served_v1beta1: bool = True) -> Obj:
    version: Obj = {
        "name": "v1", "served": True, "storage": True,
        "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
        "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                 "statusReplicasPath": ".status.replicas",
                                                 "labelSelectorPath": ".status.selector"}},
        "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
            {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
    }
    beta = {**copy.deepcopy(version), "name": "v1beta1", "storage": False, "served": served_v1beta1}
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
                           "categories": ["all"]},
                 "versions": [version, beta]},
    }


def gadget_crd() -> Obj:
    """A cluster-scoped kind with no schema beyond preserve-unknown-fields and no printer columns."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{GROUP}"},
        "spec": {"group": GROUP, "scope": "Cluster", "names": {"plural": "gadgets", "kind": "Gadget"},
                 "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                     "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}]},
    }


def widget(name: str, size: Any = 3, namespace: str = "default", version: str = "v1", **spec: Any) -> Obj:
    return {"apiVersion": f"{GROUP}/{version}", "kind": "Widget", "metadata": {"name": name, "namespace": namespace},
            "spec": {"size": size, **spec}}
