"""apps/v1 StatefulSet and ControllerRevision: defaults, Kubernetes' validation (ValidateStatefulSet,
ValidateStatefulSetUpdate, ValidateControllerRevision) and kubectl's columns.

Kubernetes leaves a StatefulSet's pod spec unvalidated (its volumeMounts name claim templates, not
volumes); here the template is validated with each claim template added as a claim volume."""

from __future__ import annotations

import copy
from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .podspec import default_pod_template
from .printing import age, container_cells, name_of
from .storage import default_claim, validate_claim_spec
from .workloads import AGE, NAME, validate_replica_template, validate_selector_update, validate_status

Obj = dict[str, Any]
COUNTERS = ("replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas")
UPDATABLE = ("replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy",
             "minReadySeconds")
RETENTION = ("Retain", "Delete")


def _template_with_claims(spec: Obj) -> Obj:
    """The pod template with a persistentVolumeClaim volume per claim template (for validation)."""
    template = copy.deepcopy(fe.as_dict(spec.get("template")))
    pod_spec = template.get("spec")
    if not isinstance(pod_spec, dict):
        return template  # reported by the template's own validation
    volumes = list(fe.as_list(pod_spec.get("volumes")))
    named = {fe.key(fe.as_dict(v).get("name")) for v in volumes}
    for claim in fe.as_list(spec.get("volumeClaimTemplates")):
        name = fe.as_dict(fe.as_dict(claim).get("metadata")).get("name")
        if isinstance(name, str) and name and name not in named:
            volumes.append({"name": name, "persistentVolumeClaim": {"claimName": name}})
    if volumes:
        pod_spec["volumes"] = volumes
    return template


class StatefulSetStrategy(ObjectStrategy):
    kind = "StatefulSet"

    def default(self, obj: Obj) -> None:
        spec = child(obj, "spec")
        setdef(spec, "replicas", 1)
        setdef(spec, "podManagementPolicy", "OrderedReady")
        strategy = child(spec, "updateStrategy")
        if not strategy.get("type"):
            strategy["type"] = "RollingUpdate"
        if strategy.get("type") == "RollingUpdate":
            setdef(child(strategy, "rollingUpdate"), "partition", 0)
        setdef(spec, "revisionHistoryLimit", 10)
        retention = child(spec, "persistentVolumeClaimRetentionPolicy")
        setdef(retention, "whenDeleted", "Retain")
        setdef(retention, "whenScaled", "Retain")
        default_pod_template(child(spec, "template"))
        for claim in fe.as_list(spec.get("volumeClaimTemplates")):
            if isinstance(claim, dict):
                setdef(claim, "apiVersion", "v1")
                setdef(claim, "kind", "PersistentVolumeClaim")
                default_claim(claim)
        setdef(child(obj, "status"), "replicas", 0)
        setdef(obj["status"], "availableReplicas", 0)

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        if not isinstance(spec, dict):
            return [fe.required("spec", "")]
        out: list[Cause] = []
        fe.check_int(out, "spec.replicas", spec.get("replicas"), minimum=0)
        fe.check_enum(out, "spec.podManagementPolicy", spec.get("podManagementPolicy"), ("OrderedReady", "Parallel"),
                      required_=True)
        out.extend(self._validate_update_strategy(fe.as_dict(spec.get("updateStrategy"))))
        retention = fe.as_dict(spec.get("persistentVolumeClaimRetentionPolicy"))
        for key in ("whenDeleted", "whenScaled"):
            fe.check_enum(out, f"spec.persistentVolumeClaimRetentionPolicy.{key}", retention.get(key), RETENTION)
        fe.check_int(out, "spec.ordinals.start", fe.as_dict(spec.get("ordinals")).get("start"), minimum=0)
        out.extend(validate_replica_template({**spec, "template": _template_with_claims(spec)}
                                             if spec.get("template") is not None else spec, "StatefulSet"))
        for i, claim in enumerate(fe.as_list(spec.get("volumeClaimTemplates"))):
            path = f"spec.volumeClaimTemplates[{i}]"
            name = fe.as_dict(fe.as_dict(claim).get("metadata")).get("name")
            if not name:
                out.append(fe.required(f"{path}.metadata.name", "name or generateName is required"))
            out.extend(validate_claim_spec(fe.as_dict(claim).get("spec"), f"{path}.spec"))
        if old is not None:
            old_spec = fe.as_dict(old.get("spec"))
            if any(spec.get(k) != old_spec.get(k) for k in set(spec) | set(old_spec) if k not in UPDATABLE):
                out.extend(validate_selector_update(spec, old) or [fe.forbidden(
                    "spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                            "'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are "
                            "forbidden")])
        out.extend(validate_status(obj, COUNTERS))
        return out

    @staticmethod
    def _validate_update_strategy(strategy: Obj) -> list[Cause]:
        kind = strategy.get("type")
        out: list[Cause] = []
        if kind == "OnDelete":
            if strategy.get("rollingUpdate") is not None:
                out.append(fe.invalid("spec.updateStrategy.rollingUpdate", strategy["rollingUpdate"],
                                      "only allowed for updateStrategy 'RollingUpdate'"))
        elif kind == "RollingUpdate":
            rolling = fe.as_dict(strategy.get("rollingUpdate"))
            fe.check_int(out, "spec.updateStrategy.rollingUpdate.partition", rolling.get("partition"), minimum=0)
        elif not kind:
            out.append(fe.required("spec.updateStrategy", ""))
        else:
            out.append(fe.not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Ready", description="Number of the pod with ready state"), AGE,
                Column("Containers", priority=1, description="Names of each container in the template."),
                Column("Images", priority=1, description="Images referenced by each container in the template.")]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec = fe.as_dict(obj.get("spec"))
        names, images = container_cells(fe.as_dict(spec.get("template")).get("spec"))
        ready = fe.as_dict(obj.get("status")).get("readyReplicas") or 0
        return [name_of(obj), f"{ready}/{spec.get('replicas', 0)}", age(obj, now), names, images]


class ControllerRevisionStrategy(ObjectStrategy):
    kind = "ControllerRevision"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        fe.check_int(out, "revision", obj.get("revision"), minimum=0)
        if old is not None and obj.get("data") != old.get("data"):
            out.append(fe.immutable("data", obj.get("data")))
        return out

    def table_columns(self) -> list[Column]:
        return [NAME, Column("Controller", description="Controller of the object"),
                Column("Revision", "integer", description="Revision is the revision number"), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        controller = "<none>"
        for ref in fe.as_list(fe.as_dict(obj.get("metadata")).get("ownerReferences")):
            ref = fe.as_dict(ref)
            if ref.get("controller"):
                group = str(ref.get("apiVersion", "")).rpartition("/")[0]
                kind = str(ref.get("kind", "")) + (f".{group}" if group else "")
                controller = f"{kind.lower()}/{ref.get('name', '')}"
        revision = obj.get("revision")
        return [name_of(obj), controller, revision if fe.is_int(revision) else 0, age(obj, now)]

