"""A small kopf operator (run unmodified by `kopf run --standalone`): a Greeting makes a ConfigMap it owns.

On create it writes `<name>-greeting` with the greeting, adopted by the Greeting (ownerReferences, so the
garbage collector deletes it with the Greeting) and reports `status.phase` and the ConfigMap's name (and an Event); on
a change of `spec.name` it rewrites the ConfigMap's message. The ConfigMap is written with the official
Kubernetes client, logged in from the same kubeconfig as kopf.
"""

from __future__ import annotations

from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "demo.example.com", "v1", "greetings"


def message(spec: Any) -> str:
    return f"{spec.get('greeting', 'Hello')}, {spec['name']}!"


@kopf.on.startup()
def configure(**_: Any) -> None:
    config.load_kube_config()


@kopf.on.create(GROUP, VERSION, PLURAL)
def create(spec: Any, name: str, namespace: str, body: Any, patch: kopf.Patch, **_: Any) -> dict[str, str]:
    cm: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"{name}-greeting"},
                          "data": {"message": message(spec)}}
    kopf.adopt(cm, owner=body)
    try:
        client.CoreV1Api().create_namespaced_config_map(namespace, cm)
    except ApiException as err:  # a retried handler finds the ConfigMap its first attempt made
        if err.status != 409:
            raise
    patch.status["phase"] = "Ready"
    kopf.info(body, reason="Created", message=f"created ConfigMap {cm['metadata']['name']}")
    return {"configMap": cm["metadata"]["name"]}


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.name")
def rename(spec: Any, name: str, namespace: str, body: Any, patch: kopf.Patch, **_: Any) -> None:
    client.CoreV1Api().patch_namespaced_config_map(f"{name}-greeting", namespace,
                                                   {"data": {"message": message(spec)}})
    patch.status["phase"] = "Updated"
    kopf.info(body, reason="Updated", message=f"the greeting is now {message(spec)!r}")
