"""Whatever JSON a client sends, defaults, validation and table rows never raise: a value of the
wrong shape anywhere in a valid manifest comes back as causes, not as a server error."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.errors import Cause
from raftkube.api.kinds import strategy_for, validate_metadata
from raftkube.api.resources import RESOURCES

TEMPLATE: dict[str, Any] = {"metadata": {"labels": {"app": "a"}}, "spec": {
    "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 80, "name": "http"}],
                    "env": [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                    "resources": {"limits": {"cpu": "1"}}, "livenessProbe": {"httpGet": {"port": 80}},
                    "volumeMounts": [{"name": "v", "mountPath": "/v"}], "envFrom": [{"secretRef": {"name": "s"}}],
                    "lifecycle": {"preStop": {"sleep": {"seconds": 1}}}}],
    "initContainers": [{"name": "i", "image": "x", "restartPolicy": "Always"}],
    "volumes": [{"name": "v", "configMap": {"name": "c", "items": [{"key": "k", "path": "p"}]}}],
    "tolerations": [{"key": "k", "operator": "Exists"}], "readinessGates": [{"conditionType": "Ready"}],
    "dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.53"]}}}
SELECTOR = {"matchLabels": {"app": "a"}, "matchExpressions": [{"key": "app", "operator": "In", "values": ["a"]}]}
BODIES: dict[str, dict[str, Any]] = {
    "Pod": {"spec": TEMPLATE["spec"], "status": {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "podIPs": [{"ip": "10.0.0.1"}],
        "containerStatuses": [{"name": "a", "ready": True, "restartCount": 1, "state": {"waiting": {"reason": "x"}},
                               "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-01T00:00:00Z"}}}],
        "initContainerStatuses": [{"name": "i", "started": True, "state": {"running": {}}}]}},
    "Deployment": {"spec": {"selector": SELECTOR, "template": TEMPLATE, "strategy": {"rollingUpdate": {
        "maxSurge": "10%"}}}},
    "ReplicaSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "ReplicationController": {"spec": {"selector": {"app": "a"}, "template": TEMPLATE}},
    "DaemonSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE}},
    "Ingress": {"spec": {"rules": [{"host": "a.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}], "tls": [{"secretName": "tls"}]}},
    "IngressClass": {"spec": {"controller": "raftkube.io/ingress", "parameters": {"kind": "K", "name": "n"}}},
    "HorizontalPodAutoscaler": {"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"},
                                         "minReplicas": 1, "maxReplicas": 3},
                                "status": {"currentReplicas": 1, "desiredReplicas": 1,
                                           "conditions": [{"type": "AbleToScale", "status": "True"}]}},
    "StatefulSet": {"spec": {"selector": SELECTOR, "template": TEMPLATE, "serviceName": "s", "volumeClaimTemplates": [
        {"metadata": {"name": "d"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                             "resources": {"requests": {"storage": "1Gi"}}}}]}},
    "ControllerRevision": {"revision": 1, "data": {"spec": {"template": {"$patch": "replace"}}}},
    "PersistentVolume": {"spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                                  "hostPath": {"path": "/tmp/v"}, "claimRef": {"namespace": "default", "name": "c"}}},
    "PersistentVolumeClaim": {"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "local-path",
                                       "resources": {"requests": {"storage": "1Gi"}}}},
    "StorageClass": {"provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer"},
    "Job": {"spec": {"template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}},
            "status": {"startTime": "2024-01-01T00:00:00Z", "conditions": [{"type": "Complete", "status": "True"}]}},
    "CronJob": {"spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {
        "template": {**TEMPLATE, "spec": {**TEMPLATE["spec"], "restartPolicy": "Never"}}}}}},
    "ResourceQuota": {"spec": {"hard": {"pods": "2", "requests.cpu": "1"}}},
    "LimitRange": {"spec": {"limits": [{"type": "Container", "default": {"cpu": "500m"}, "max": {"cpu": "1"}}]}},
    "PodDisruptionBudget": {"spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "a"}}}},
    "Service": {"spec": {"type": "NodePort", "ports": [{"name": "a", "port": 80, "nodePort": 30000}],
                         "selector": {"a": "b"}}, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}},
    "Endpoints": {"subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]},
    "ConfigMap": {"data": {"a": "b"}, "binaryData": {"c": "AA=="}},
    "CustomResourceDefinition": {"spec": {"group": "example.com", "scope": "Namespaced", "names": {
        "plural": "ns", "kind": "N", "shortNames": ["nn"]}, "versions": [{
            "name": "v1", "served": True, "storage": True, "subresources": {"status": {}, "scale": {
                "specReplicasPath": ".spec.r", "statusReplicasPath": ".status.r"}},
            "additionalPrinterColumns": [{"name": "R", "type": "integer", "jsonPath": ".spec.r"}],
            "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object", "properties": {
                "r": {"type": "integer", "default": 1}, "l": {"type": "array", "items": {"type": "string"}}}}}}}}]}},
    "Secret": {"data": {"a": "AA=="}, "stringData": {"b": "c"}},
    "Node": {"spec": {"taints": [{"key": "a", "effect": "NoSchedule"}]}, "status": {
        "capacity": {"cpu": "1"}, "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "InternalIP", "address": "192.0.2.4"}], "nodeInfo": {}}},
    "Event": {"involvedObject": {"kind": "Pod", "name": "a", "namespace": "default"},
              "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:00Z"}, "source": {"component": "x"}},
    "Lease": {"spec": {"holderIdentity": "a", "leaseDurationSeconds": 1}},
    "Namespace": {"spec": {"finalizers": ["kubernetes"]}},
    "Role": {"rules": [{"verbs": ["get"], "apiGroups": [""], "resources": ["pods"], "resourceNames": ["a"]}]},
    "ClusterRole": {"rules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
                    "aggregationRule": {"clusterRoleSelectors": [SELECTOR]}},
    "RoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                    "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
                                 {"kind": "ServiceAccount", "name": "default", "namespace": "default"}]},
    "ClusterRoleBinding": {"roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
                           "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]},
}
JSON = st.recursive(st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False)
                    | st.text(max_size=8) | st.sampled_from(["", "None", "Always", "2024-01-01T00:00:00Z", "1Gi"]),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                max_size=3),
                    max_leaves=6)


def manifest(resource: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "n", "uid": "u", "creationTimestamp": "2024-01-01T00:00:00Z",
                            "labels": {"a": "b"}, "annotations": {"a": "b"}, "finalizers": ["kubernetes"],
                            "ownerReferences": [{"apiVersion": "v1", "kind": "K", "name": "n", "uid": "u"}]}
    if resource.namespaced:
        meta["namespace"] = "default"
    if resource.kind == "CustomResourceDefinition":
        meta["name"] = "ns.example.com"  # (<plural>.<group>)
    return {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta,
            **copy.deepcopy(BODIES.get(resource.kind, {}))}


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.extend(paths(v, (*prefix, i)))
    return out


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_value_anywhere_gives_causes_not_exceptions(resource: Any, data: st.DataObject) -> None:
    strategy = strategy_for(resource.kind)
    base = manifest(resource)
    obj = copy.deepcopy(base)
    for _ in range(data.draw(st.integers(1, 3))):
        candidates = [p for p in paths(obj) if p and p[0] != "kind"]
        target = data.draw(st.sampled_from(candidates))
        holder: Any = obj
        for step in target[:-1]:
            holder = holder[step]
        holder[target[-1]] = data.draw(JSON)
    old = None
    if data.draw(st.booleans()):
        old = copy.deepcopy(base)
        strategy.default(old)
    strategy.default(obj)
    causes = validate_metadata(obj, resource.namespaced, old) + strategy.validate(obj, old)
    assert all(isinstance(c, Cause) and isinstance(c.field, str) and isinstance(c.message, str) for c in causes)
    assert len(strategy.table_row(obj, 1.7e9)) == len(strategy.table_columns())


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.kind)
def test_the_seed_manifests_are_valid(resource: Any) -> None:
    """The fuzzing starts from valid objects, so the causes it finds come from the mutation."""
    obj = manifest(resource)
    strategy = strategy_for(resource.kind)
    strategy.default(obj)
    assert validate_metadata(obj, resource.namespaced, None) + strategy.validate(obj, None) == []
