"""A small Pod/Deployment schema in raftkube's Field format, used by the patch tests."""

from __future__ import annotations

from raftkube.api.patch.typeinfo import list_semantics, shape
from raftkube.api.schema.model import Field

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
POD, DEPLOYMENT, CONFIGMAP = CORE + "Pod", APPS + "Deployment", CORE + "ConfigMap"

S, INT, B = Field("string"), Field("integer"), Field("boolean")
SMAP = Field("map[string]string")


def by(item: str, *keys: str, strategy: str = "merge") -> Field:
    return Field("[]" + item, patch_strategy=strategy, merge_key=keys[0], list_type="map", list_map_keys=keys)


def atomic(item: str) -> Field:
    return Field("[]" + item, list_type="atomic")


def top(spec: str | None, status: str | None) -> dict[str, Field]:
    out = {"apiVersion": S, "kind": S, "metadata": Field(META + "ObjectMeta")}
    if spec:
        out["spec"] = Field(spec)
    if status:
        out["status"] = Field(status)
    return out


TYPES: dict[str, dict[str, Field]] = {
    META + "ObjectMeta": {
        "name": S, "generateName": S, "namespace": S, "uid": S, "resourceVersion": S, "generation": INT,
        "creationTimestamp": Field("time"), "deletionTimestamp": Field("time"),
        "labels": SMAP, "annotations": SMAP,
        "finalizers": Field("[]string", patch_strategy="merge", list_type="set"),
        "ownerReferences": by(META + "OwnerReference", "uid"),
        "managedFields": atomic(META + "ManagedFieldsEntry"),
    },
    META + "OwnerReference": {"apiVersion": S, "kind": S, "name": S, "uid": S, "controller": B},
    META + "ManagedFieldsEntry": {"manager": S, "operation": S, "apiVersion": S, "time": Field("time"),
                                  "fieldsType": S, "fieldsV1": Field("object"), "subresource": S},
    META + "LabelSelector": {"matchLabels": SMAP, "matchExpressions": atomic(META + "LabelSelectorRequirement")},
    META + "LabelSelectorRequirement": {"key": S, "operator": S, "values": atomic("string")},
    POD: top(CORE + "PodSpec", CORE + "PodStatus"),
    CORE + "PodTemplateSpec": {"metadata": Field(META + "ObjectMeta"), "spec": Field(CORE + "PodSpec")},
    CORE + "PodSpec": {
        "containers": by(CORE + "Container", "name"), "initContainers": by(CORE + "Container", "name"),
        "volumes": by(CORE + "Volume", "name", strategy="merge,retainKeys"),
        "nodeSelector": Field("map[string]string", map_type="atomic"),
        "tolerations": atomic(CORE + "Toleration"), "restartPolicy": S, "nodeName": S,
        "terminationGracePeriodSeconds": INT, "dnsPolicy": S,
    },
    CORE + "Container": {
        "name": S, "image": S, "imagePullPolicy": S, "command": atomic("string"), "args": atomic("string"),
        "env": by(CORE + "EnvVar", "name"), "ports": by(CORE + "ContainerPort", "containerPort", "protocol"),
        "resources": Field(CORE + "ResourceRequirements"), "volumeMounts": by(CORE + "VolumeMount", "mountPath"),
    },
    CORE + "EnvVar": {"name": S, "value": S, "valueFrom": Field("object")},
    CORE + "ContainerPort": {"name": S, "containerPort": INT, "protocol": S, "hostPort": INT},
    CORE + "ResourceRequirements": {"limits": Field("map[string]quantity"), "requests": Field("map[string]quantity")},
    CORE + "VolumeMount": {"name": S, "mountPath": S, "readOnly": B},
    CORE + "Volume": {"name": S, "configMap": Field(CORE + "ConfigMapVolumeSource"),
                      "emptyDir": Field(CORE + "EmptyDirVolumeSource"), "secret": Field(CORE + "SecretVolumeSource")},
    CORE + "ConfigMapVolumeSource": {"name": S, "defaultMode": INT},
    CORE + "EmptyDirVolumeSource": {"medium": S, "sizeLimit": Field("quantity")},
    CORE + "SecretVolumeSource": {"secretName": S},
    CORE + "Toleration": {"key": S, "operator": S, "value": S, "effect": S},
    CORE + "PodStatus": {"phase": S, "podIP": S, "conditions": by(CORE + "PodCondition", "type")},
    CORE + "PodCondition": {"type": S, "status": S},
    CONFIGMAP: {**top(None, None), "data": SMAP, "binaryData": SMAP, "immutable": B},
    DEPLOYMENT: top(APPS + "DeploymentSpec", APPS + "DeploymentStatus"),
    APPS + "DeploymentSpec": {
        "replicas": INT, "selector": Field(META + "LabelSelector"), "template": Field(CORE + "PodTemplateSpec"),
        "strategy": Field(APPS + "DeploymentStrategy", patch_strategy="retainKeys"),
        "revisionHistoryLimit": INT, "progressDeadlineSeconds": INT, "minReadySeconds": INT, "paused": B,
    },
    APPS + "DeploymentStrategy": {"type": S, "rollingUpdate": Field(APPS + "RollingUpdateDeployment")},
    APPS + "RollingUpdateDeployment": {"maxSurge": Field("int-or-string"), "maxUnavailable": Field("int-or-string")},
    APPS + "DeploymentStatus": {"observedGeneration": INT, "replicas": INT, "updatedReplicas": INT,
                                "readyReplicas": INT, "availableReplicas": INT,
                                "conditions": by(APPS + "DeploymentCondition", "type")},
    APPS + "DeploymentCondition": {"type": S, "status": S, "reason": S, "message": S},
}


def test_every_referenced_type_is_defined() -> None:
    for fields in TYPES.values():
        for field in fields.values():
            kind = shape(field.type, TYPES)
            target = kind.elem if kind.kind in ("list", "map") else field.type
            assert shape(target, TYPES).kind != "object" or target == "object", target


def test_list_semantics() -> None:
    spec = TYPES[CORE + "PodSpec"]
    container = TYPES[CORE + "Container"]
    assert list_semantics(spec["containers"], TYPES) == ("map", ("name",))
    assert list_semantics(container["ports"], TYPES) == ("map", ("containerPort", "protocol"))
    assert list_semantics(container["args"], TYPES) == ("atomic", ())
    assert list_semantics(TYPES[META + "ObjectMeta"]["finalizers"], TYPES) == ("set", ())
    # without x-kubernetes-list-type, the strategic-merge strategy decides
    assert list_semantics(Field("[]" + CORE + "EnvVar", patch_strategy="merge", merge_key="name"), TYPES) == (
        "map", ("name",))
    assert list_semantics(Field("[]string", patch_strategy="merge"), TYPES) == ("set", ())
    assert list_semantics(Field("[]string"), TYPES) == ("atomic", ())
