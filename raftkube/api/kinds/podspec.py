"""PodSpec and PodTemplateSpec: defaults and validation shared by Pods and the workload kinds.

`default_pod_spec` fills what the Kubernetes API server fills (restartPolicy Always,
dnsPolicy ClusterFirst, schedulerName, grace period, pull policies, probe timings, ...).
`validate_pod_spec(spec, path)` reports causes with paths under `path`, e.g.
`spec.template.spec.containers[0].image` for a Deployment.
"""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .common import child, setdef
from .containers import (
    MESSAGE_POLICIES,
    PROBES,
    PULL_POLICIES,
    default_container,
    validate_env,
    validate_env_from,
    validate_handler,
    validate_ports,
    validate_probe,
    validate_resources,
    validate_volume_mounts,
)
from .metadata import validate_annotations
from .names import is_dns1123_label, is_dns1123_subdomain, is_label_value, is_qualified_name
from .selectors import validate_labels
from .volumes import default_volume, validate_volumes

Obj = dict[str, Any]

RESTART_POLICIES = ("Always", "OnFailure", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_INT32 = 2**31 - 1


def default_pod_spec(spec: Obj) -> None:
    setdef(spec, "restartPolicy", "Always")
    setdef(spec, "dnsPolicy", "ClusterFirst")
    setdef(spec, "terminationGracePeriodSeconds", 30)
    setdef(spec, "securityContext", {})
    setdef(spec, "schedulerName", "default-scheduler")
    setdef(spec, "enableServiceLinks", True)
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        for container in fe.as_list(spec.get(key)):
            if isinstance(container, dict):
                default_container(container, host_network)
    for volume in fe.as_list(spec.get("volumes")):
        if isinstance(volume, dict):
            default_volume(volume)


def default_pod_template(template: Any) -> None:
    if isinstance(template, dict):
        default_pod_spec(child(template, "spec"))


def validate_container(container: Any, path: str, volumes: set[str], names: set[str], *,
                       init: bool) -> list[Cause]:
    if not isinstance(container, dict):
        return [fe.type_invalid(path, container, "must be an object")]
    out: list[Cause] = []
    name = container.get("name")
    if not name:
        out.append(fe.required(f"{path}.name", ""))
    elif fe.check_str(out, f"{path}.name", name):
        out.extend(fe.invalid(f"{path}.name", name, msg) for msg in is_dns1123_label(name))
        if name in names:
            out.append(fe.duplicate(f"{path}.name", name))
        names.add(name)
    image = container.get("image")
    if not image:
        out.append(fe.required(f"{path}.image", ""))
    elif fe.check_str(out, f"{path}.image", image) and image.strip() != image:
        out.append(fe.invalid(f"{path}.image", image, "must not have leading or trailing whitespace"))
    fe.check_enum(out, f"{path}.imagePullPolicy", container.get("imagePullPolicy"), PULL_POLICIES)
    for key in ("command", "args"):
        value = container.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            out.append(fe.type_invalid(f"{path}.{key}", value, "must be a list of strings"))
    out.extend(validate_ports(container.get("ports"), f"{path}.ports"))
    out.extend(validate_env_from(container.get("envFrom"), f"{path}.envFrom"))
    out.extend(validate_env(container.get("env"), f"{path}.env"))
    out.extend(validate_resources(container.get("resources"), f"{path}.resources"))
    out.extend(validate_volume_mounts(container.get("volumeMounts"), f"{path}.volumeMounts", volumes))
    restart = container.get("restartPolicy")
    sidecar = init and restart == "Always"
    if restart is not None:
        if not init:
            out.append(fe.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers"))
        elif restart != "Always":
            out.append(fe.not_supported(f"{path}.restartPolicy", restart, ["Always"]))
    for probe in PROBES:
        if init and not sidecar and container.get(probe) is not None:
            out.append(fe.forbidden(f"{path}.{probe}", "may not be set for init containers without "
                                                      "restartPolicy=Always"))
            continue
        out.extend(validate_probe(container.get(probe), f"{path}.{probe}"))
        threshold = fe.as_dict(container.get(probe)).get("successThreshold")
        if probe != "readinessProbe" and threshold not in (None, 1):
            out.append(fe.invalid(f"{path}.{probe}.successThreshold", threshold, "must be 1"))
    lifecycle = fe.as_dict(container.get("lifecycle"))
    for hook in ("postStart", "preStop"):
        if lifecycle.get(hook) is not None:
            out.extend(validate_handler(lifecycle[hook], f"{path}.lifecycle.{hook}",
                                        ("exec", "httpGet", "tcpSocket", "sleep")))
    fe.check_enum(out, f"{path}.terminationMessagePolicy", container.get("terminationMessagePolicy"),
                  MESSAGE_POLICIES)
    return out


def validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    out: list[Cause] = []
    for i, toleration in enumerate(fe.as_list(tolerations)):
        tpath, tol = f"{path}[{i}]", fe.as_dict(toleration)
        key, op, value, effect = tol.get("key") or "", tol.get("operator") or "", tol.get("value") or "", \
            tol.get("effect") or ""
        if key:
            out.extend(fe.invalid(f"{tpath}.key", key, msg) for msg in is_qualified_name(str(key)))
        elif op != "Exists":
            out.append(fe.invalid(f"{tpath}.operator", op, "operator must be Exists when `key` is empty, which "
                                                           "means \"match all values and all keys\""))
        if tol.get("tolerationSeconds") is not None and effect != "NoExecute":
            out.append(fe.invalid(f"{tpath}.effect", effect,
                                  "effect must be 'NoExecute' when `tolerationSeconds` is set"))
        if op in ("Equal", ""):
            errs = is_label_value(str(value))
            if errs:
                out.append(fe.invalid(f"{tpath}.operator", value, ";".join(errs)))
        elif op == "Exists":
            if value:
                out.append(fe.invalid(f"{tpath}.operator", tol, "value must be empty when `operator` is 'Exists'"))
        else:
            out.append(fe.not_supported(f"{tpath}.operator", op, ["Equal", "Exists"]))
        if effect:
            fe.check_enum(out, f"{tpath}.effect", effect, TAINT_EFFECTS)
    return out


def validate_pod_spec(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [fe.required(path, "")] if spec is None else [fe.type_invalid(path, spec, "must be an object")]
    out, volumes = validate_volumes(spec.get("volumes"), f"{path}.volumes")
    names: set[str] = set()
    containers = spec.get("containers")
    if not containers:
        out.append(fe.required(f"{path}.containers", ""))
    elif not isinstance(containers, list):
        out.append(fe.type_invalid(f"{path}.containers", containers, "must be a list"))
    else:
        for i, container in enumerate(containers):
            out.extend(validate_container(container, f"{path}.containers[{i}]", volumes, names, init=False))
    for i, container in enumerate(fe.as_list(spec.get("initContainers"))):
        out.extend(validate_container(container, f"{path}.initContainers[{i}]", volumes, names, init=True))
    fe.check_enum(out, f"{path}.restartPolicy", spec.get("restartPolicy"), RESTART_POLICIES, required_=True)
    fe.check_enum(out, f"{path}.dnsPolicy", spec.get("dnsPolicy"), DNS_POLICIES, required_=True)
    if spec.get("dnsPolicy") == "None" and not spec.get("dnsConfig"):
        out.append(fe.required(f"{path}.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None"))
    out.extend(validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector"))
    for key, rule in (("serviceAccountName", is_dns1123_subdomain), ("nodeName", is_dns1123_subdomain),
                      ("schedulerName", is_dns1123_subdomain), ("hostname", is_dns1123_label),
                      ("subdomain", is_dns1123_label), ("priorityClassName", is_dns1123_subdomain)):
        value = spec.get(key)
        if value and fe.check_str(out, f"{path}.{key}", value):
            out.extend(fe.invalid(f"{path}.{key}", value, msg) for msg in rule(value))
    fe.check_int(out, f"{path}.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), minimum=1,
                 maximum=MAX_INT32)
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None and not fe.is_int(grace):
        out.append(fe.type_invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be an integer"))
    out.extend(validate_tolerations(spec.get("tolerations"), f"{path}.tolerations"))
    if spec.get("hostNetwork") is True:
        for i, container in enumerate(fe.as_list(containers)):
            for j, port in enumerate(fe.as_list(fe.as_dict(container).get("ports"))):
                port = fe.as_dict(port)
                if port.get("hostPort") and port.get("hostPort") != port.get("containerPort"):
                    out.append(fe.invalid(f"{path}.containers[{i}].ports[{j}].containerPort",
                                          port.get("containerPort"),
                                          "must match `hostPort` when `hostNetwork` is true"))
    for i, gate in enumerate(fe.as_list(spec.get("readinessGates"))):
        condition = str(fe.as_dict(gate).get("conditionType") or "")
        out.extend(fe.invalid(f"{path}.readinessGates[{i}].conditionType", condition, msg)
                   for msg in is_qualified_name(condition))
    return out


def validate_pod_template(template: Any, path: str) -> list[Cause]:
    """A PodTemplateSpec: template labels/annotations and the pod spec (`<path>.spec...`)."""
    if template is None:
        return [fe.required(path, "")]
    if not isinstance(template, dict):
        return [fe.type_invalid(path, template, "must be an object")]
    meta = fe.as_dict(template.get("metadata"))
    out = validate_labels(meta.get("labels"), f"{path}.metadata.labels")
    out.extend(validate_annotations(meta.get("annotations"), f"{path}.metadata.annotations"))
    out.extend(validate_pod_spec(template.get("spec"), f"{path}.spec"))
    return out
