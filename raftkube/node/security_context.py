"""A Pod's and container's securityContext turned into the runtime's `SecuritySettings`, or refused.

The effective value of each field is the container's, else the pod's (Kubernetes'
DetermineEffectiveSecurityContext). What this node cannot honour refuses the container with
CreateContainerConfigError and a message naming the field; nothing is silently ignored:
- seLinuxOptions: this node runs without SELinux; windowsOptions: a Linux node;
- appArmorProfile (field or the beta annotation) other than Unconfined when the host has no AppArmor;
- procMount Unmasked (needs user namespaces); supplementalGroupsPolicy Strict;
- seccompProfile Localhost whose file is not under `<data-dir>/seccomp` (the kubelet's directory).
runAsNonRoot is checked by the runtime, which knows the image's user (`non_root_refusal`).
"""

from __future__ import annotations

import os
from typing import Any

from .env import ConfigError
from .runtime import SecuritySettings

Obj = dict[str, Any]
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled"


def apparmor_enabled() -> bool:
    try:
        with open(APPARMOR_ENABLED) as f:
            return f.read().strip().upper().startswith("Y")
    except OSError:
        return False


def _refuse(message: str) -> ConfigError:
    return ConfigError(message, reason="CreateContainerConfigError")


def _effective(pod_sc: Obj, sc: Obj, key: str) -> Any:
    value = sc.get(key)
    return pod_sc.get(key) if value is None else value


def capability(name: str) -> str:
    """Kubernetes' capability name ("NET_ADMIN", "ALL") in the runtime's form ("CAP_NET_ADMIN", "ALL")."""
    upper = str(name).strip().upper()
    if upper == "ALL" or upper.startswith("CAP_"):
        return upper
    return "CAP_" + upper


def _seccomp(profile: Obj | None, where: str, seccomp_root: str | None) -> str | None:
    if not profile:
        return None
    kind = profile.get("type")
    if kind in (None, "RuntimeDefault"):
        return None
    if kind == "Unconfined":
        return "unconfined"
    if kind != "Localhost":
        raise _refuse(f"{where}.seccompProfile.type: unsupported value {kind!r}")
    name = str(profile.get("localhostProfile") or "")
    if not name:
        raise _refuse(f"{where}.seccompProfile.localhostProfile must be set if seccompProfile type is Localhost")
    if seccomp_root is None:
        raise _refuse(f"{where}.seccompProfile: this node has no seccomp profile directory")
    root = os.path.realpath(seccomp_root)
    path = os.path.realpath(os.path.join(root, name))
    if not path.startswith(root + os.sep):
        raise _refuse(f"{where}.seccompProfile.localhostProfile {name!r} escapes the seccomp profile directory")
    if not os.path.isfile(path):
        raise _refuse(f"{where}.seccompProfile: localhost profile {name!r} not found on this node ({path})")
    return path


def _apparmor(profile: Obj | None, annotation: str | None, where: str) -> str | None:
    if annotation:
        kind = {"runtime/default": "RuntimeDefault", "unconfined": "Unconfined"}.get(annotation, "Localhost")
        profile = {"type": kind, "localhostProfile": annotation.removeprefix("localhost/")}
    if not profile or profile.get("type") is None:
        return None
    kind = profile["type"]
    if kind == "Unconfined":
        return "unconfined"
    if not apparmor_enabled():
        raise _refuse(f"{where}.appArmorProfile {kind}: cannot enforce AppArmor: AppArmor is not enabled on the host")
    if kind == "RuntimeDefault":
        return None
    if kind == "Localhost" and profile.get("localhostProfile"):
        return str(profile["localhostProfile"])
    raise _refuse(f"{where}.appArmorProfile: unsupported value {kind!r} (Localhost needs localhostProfile)")


def _unsupported(pod_sc: Obj, sc: Obj, where: str) -> None:
    for scope, ctx in (("spec.securityContext", pod_sc), (where, sc)):
        if ctx.get("seLinuxOptions"):
            raise _refuse(f"{scope}.seLinuxOptions: SELinux is not enabled on this node; refusing to run "
                          "without the requested labels")
        if ctx.get("windowsOptions"):
            raise _refuse(f"{scope}.windowsOptions: this is a Linux node; Windows options cannot be honoured")
    if (sc.get("procMount") or "Default") != "Default":
        raise _refuse(f"{where}.procMount {sc['procMount']!r}: an unmasked /proc needs user namespaces, "
                      "which this node does not provide")
    if (pod_sc.get("supplementalGroupsPolicy") or "Merge") != "Merge":
        raise _refuse(f"spec.securityContext.supplementalGroupsPolicy {pod_sc['supplementalGroupsPolicy']!r}: "
                      "only Merge is supported on this node")


def security_settings(pod: Obj, container: Obj, where: str, seccomp_root: str | None = None) -> SecuritySettings:
    """The container's effective settings; `where` is its field path (e.g. "spec.containers[0].securityContext")."""
    spec = pod.get("spec") or {}
    pod_sc: Obj = spec.get("securityContext") or {}
    sc: Obj = container.get("securityContext") or {}
    _unsupported(pod_sc, sc, where)
    privileged = bool(sc.get("privileged"))
    escalation = sc.get("allowPrivilegeEscalation")
    caps = sc.get("capabilities") or {}
    if escalation is False and privileged:
        raise _refuse(f"{where}: cannot set allowPrivilegeEscalation to false and privileged to true")
    if escalation is False and "CAP_SYS_ADMIN" in {capability(c) for c in caps.get("add") or []}:
        raise _refuse(f"{where}: cannot set allowPrivilegeEscalation to false and capabilities.Add CAP_SYS_ADMIN")
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None and int(pod_sc["fsGroup"]) not in groups:
        groups.append(int(pod_sc["fsGroup"]))
    user, group = _effective(pod_sc, sc, "runAsUser"), _effective(pod_sc, sc, "runAsGroup")
    seccomp_where = where if sc.get("seccompProfile") else "spec.securityContext"
    apparmor_where = where if sc.get("appArmorProfile") else "spec.securityContext"
    annotation = ((pod.get("metadata") or {}).get("annotations") or {}).get(APPARMOR_ANNOTATION + container["name"])
    return SecuritySettings(
        run_as_user=None if user is None else int(user),
        run_as_group=None if group is None else int(group),
        run_as_non_root=bool(_effective(pod_sc, sc, "runAsNonRoot")),
        groups=tuple(groups),
        cap_add=tuple(capability(c) for c in caps.get("add") or []),
        cap_drop=tuple(capability(c) for c in caps.get("drop") or []),
        privileged=privileged,
        read_only_root=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privileges=escalation is False,
        seccomp=_seccomp(_effective(pod_sc, sc, "seccompProfile"), seccomp_where, seccomp_root),
        apparmor=_apparmor(_effective(pod_sc, sc, "appArmorProfile"), annotation, apparmor_where),
        sysctls=tuple((str(s.get("name")), str(s.get("value", ""))) for s in pod_sc.get("sysctls") or []),
    )


def image_uid(image_user: str) -> tuple[int | None, str]:
    """(uid, username) of an image's configured user ("" and "0" are root; a name has no uid)."""
    user = (image_user or "").split(":", 1)[0]
    if not user:
        return 0, ""
    if user.isdigit():
        return int(user), ""
    return None, user


def non_root_refusal(security: SecuritySettings, image_user: str, pod: str, container: str) -> str | None:
    """Kubernetes' verifyRunAsNonRoot: the message refusing the container, or None. `pod` is "name_ns(uid)"."""
    if not security.run_as_non_root:
        return None
    where = f'(pod: "{pod}", container: {container})'
    if security.run_as_user is not None:
        return f"container's runAsUser breaks non-root policy {where}" if security.run_as_user == 0 else None
    uid, name = image_uid(image_user)
    if uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    if uid is None and name:
        return (f"container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is "
                f"non-root {where}")
    return None


def pod_description(name: str, namespace: str, uid: str) -> str:
    """Kubernetes' format.Pod: "name_namespace(uid)"."""
    return f"{name}_{namespace}({uid})"
