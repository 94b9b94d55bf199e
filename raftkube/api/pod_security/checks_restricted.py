"""The restricted Pod Security Standard: baseline plus current hardening best practice.

Only ephemeral-data volume types (configMap, csi, downwardAPI, emptyDir, ephemeral, image,
persistentVolumeClaim, projected, secret); allowPrivilegeEscalation=false; runAsNonRoot=true
(pod or every container); no runAsUser=0; seccomp RuntimeDefault or Localhost (pod or every
container); capabilities drop ALL and add only NET_BIND_SERVICE. The volume, capability and
seccomp checks replace their baseline counterparts; Windows pods are exempt from the Linux-only
ones from v1.25, as in Kubernetes.
"""

from __future__ import annotations

from .checks_baseline import GOOD_PROFILE_TYPES
from .levels import RESTRICTED
from .pod_view import Check, Obj, Violation, containers, join_quote, named, pluralize, security_context, windows

ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image", "persistentVolumeClaim",
                   "projected", "secret")
KNOWN_VOLUMES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs",
                 "rbd", "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte",
                 "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos")


def restricted_volumes(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad, kinds = [], set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict) or any(volume.get(kind) is not None for kind in ALLOWED_VOLUMES):
            continue
        bad.append(volume.get("name", ""))
        kinds.add(next((kind for kind in KNOWN_VOLUMES if volume.get(kind) is not None), "unknown"))
    if not bad:
        return None
    return ("restricted volume types",
            f"{named('volume', bad)} {pluralize('uses', 'use', len(bad))} "
            f"{pluralize('restricted volume type', 'restricted volume types', len(kinds))} {join_quote(sorted(kinds))}")


def allow_privilege_escalation(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    if minor >= 25 and windows(spec):
        return None
    bad = [c.get("name", "") for c in containers(spec)
           if security_context(c).get("allowPrivilegeEscalation") is not False]
    if not bad:
        return None
    return ("allowPrivilegeEscalation != false",
            f"{named('container', bad)} must set securityContext.allowPrivilegeEscalation=false")


def run_as_non_root(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    setters, pod_non_root = [], False
    pod_value = security_context(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    elif pod_value is True:
        pod_non_root = True
    explicit, implicit = [], []
    for c in containers(spec):
        value = security_context(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c.get("name", ""))
        elif value is None and not pod_non_root:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(named("container", explicit))
    if setters:
        return "runAsNonRoot != true", f"{' and '.join(setters)} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return ("runAsNonRoot != true",
                f"pod or {named('container', implicit)} must set securityContext.runAsNonRoot=true")
    return None


def run_as_user(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    setters = ["pod"] if security_context(spec).get("runAsUser") == 0 else []
    bad = [c.get("name", "") for c in containers(spec) if security_context(c).get("runAsUser") == 0]
    if bad:
        setters.append(named("container", bad))
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


def seccomp_restricted(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    if minor >= 25 and windows(spec):
        return None
    setters, values, pod_set = [], set(), False
    profile = security_context(spec).get("seccompProfile")
    if isinstance(profile, dict):
        if profile.get("type") in GOOD_PROFILE_TYPES:
            pod_set = True
        else:
            setters.append("pod")
            values.add(str(profile.get("type")))
    explicit, implicit = [], []
    for c in containers(spec):
        profile = security_context(c).get("seccompProfile")
        if isinstance(profile, dict):
            if profile.get("type") not in GOOD_PROFILE_TYPES:
                explicit.append(c.get("name", ""))
                values.add(str(profile.get("type")))
        elif not pod_set:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(named("container", explicit))
    if setters:
        return ("seccompProfile", f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to "
                                  f"{join_quote(sorted(values))}")
    if implicit:
        return ("seccompProfile", f'pod or {named("container", implicit)} must set securityContext.seccompProfile.type '
                                  'to "RuntimeDefault" or "Localhost"')
    return None


def capabilities_restricted(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    if minor >= 25 and windows(spec):
        return None
    missing_drop, adding, added = [], [], set()
    for c in containers(spec):
        caps = security_context(c).get("capabilities")
        if not isinstance(caps, dict):
            missing_drop.append(c.get("name", ""))
            continue
        if "ALL" not in [str(x) for x in caps.get("drop") or []]:
            missing_drop.append(c.get("name", ""))
        extra = {str(x) for x in caps.get("add") or [] if str(x) != "NET_BIND_SERVICE"}
        if extra:
            adding.append(c.get("name", ""))
            added |= extra
    details = []
    if missing_drop:
        details.append(f'{named("container", missing_drop)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        details.append(f"{named('container', adding)} must not include {join_quote(sorted(added))} in "
                       "securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


RESTRICTED_CHECKS = (
    Check("allowPrivilegeEscalation", RESTRICTED, 8, allow_privilege_escalation),
    Check("capabilities_restricted", RESTRICTED, 22, capabilities_restricted, ("capabilities_baseline",)),
    Check("restrictedVolumes", RESTRICTED, 0, restricted_volumes, ("hostPathVolumes",)),
    Check("runAsNonRoot", RESTRICTED, 0, run_as_non_root),
    Check("runAsUser", RESTRICTED, 23, run_as_user),
    Check("seccompProfile_restricted", RESTRICTED, 19, seccomp_restricted, ("seccompProfile_baseline",)),
)
