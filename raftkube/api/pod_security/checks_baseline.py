"""The baseline Pod Security Standard: what keeps a pod from being the node's root.

Each check returns None (allowed) or (reason, detail) with Kubernetes' words: no host
namespaces, no privileged containers, only the default capabilities added, no hostPath
volumes, no hostPorts, only safe sysctls, AppArmor / SELinux / seccomp not loosened, the
default procMount, no Windows HostProcess. Versions matter where Kubernetes changed a check
(seccomp fields from v1.19, the sysctl list at v1.27, v1.29 and v1.32, SELinux types at v1.31).
"""

from __future__ import annotations

from .levels import BASELINE
from .pod_view import Check, Obj, Violation, containers, join_quote, named, pluralize, security_context

DEFAULT_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                  "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
_SYSCTLS_1_0 = frozenset({"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
                          "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"})
_SYSCTLS_1_27 = _SYSCTLS_1_0 | {"net.ipv4.ip_local_reserved_ports"}
_SYSCTLS_1_29 = _SYSCTLS_1_27 | {"net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                                 "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}
_SYSCTLS_1_32 = _SYSCTLS_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
_SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_SELINUX_TYPES_1_31 = _SELINUX_TYPES_1_0 | {"container_engine_t"}
SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION = "container.seccomp.security.alpha.kubernetes.io/"
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
GOOD_PROFILE_TYPES = ("RuntimeDefault", "Localhost")


def _annotations(meta: Obj) -> dict[str, str]:
    return {str(k): str(v) for k, v in (meta.get("annotations") or {}).items()}


def host_namespaces(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field) is True]
    return ("host namespaces", ", ".join(shared)) if shared else None


def privileged(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad = [c.get("name", "") for c in containers(spec) if security_context(c).get("privileged") is True]
    return ("privileged", f"{named('container', bad)} must not set securityContext.privileged=true") if bad else None


def capabilities(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad, added = [], set()
    for c in containers(spec):
        extra = {str(cap) for cap in (security_context(c).get("capabilities") or {}).get("add") or []
                 if str(cap) not in DEFAULT_CAPABILITIES}
        if extra:
            bad.append(c.get("name", ""))
            added |= extra
    if not bad:
        return None
    return ("non-default capabilities",
            f"{named('container', bad)} must not include {join_quote(sorted(added))} in "
            "securityContext.capabilities.add")


def host_path_volumes(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad = [v.get("name", "") for v in spec.get("volumes") or []
           if isinstance(v, dict) and v.get("hostPath") is not None]
    return ("hostPath volumes", named("volume", bad)) if bad else None


def host_ports(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad, ports = [], set()
    for c in containers(spec):
        used = {str(p.get("hostPort")) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")}
        if used:
            bad.append(c.get("name", ""))
            ports |= used
    if not bad:
        return None
    return ("hostPort", f"{named('container', bad)} {pluralize('uses', 'use', len(bad))} "
                        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}")


def proc_mount(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    bad, kinds = [], set()
    for c in containers(spec):
        mount = security_context(c).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(c.get("name", ""))
            kinds.add(str(mount))
    if not bad:
        return None
    return ("procMount",
            f"{named('container', bad)} must not set securityContext.procMount to {join_quote(sorted(kinds))}")


def _bad_setters(spec: Obj, field: str, good: tuple[str, ...]) -> tuple[list[str], set[str]]:
    """Who (`pod`, `containers "a"`) sets `securityContext.<field>.type` to a value not in `good`."""
    setters, values = [], set()
    profile = security_context(spec).get(field)
    if isinstance(profile, dict) and profile.get("type") not in good:
        setters.append("pod")
        values.add(str(profile.get("type")))
    bad = []
    for c in containers(spec):
        profile = security_context(c).get(field)
        if isinstance(profile, dict) and profile.get("type") not in good:
            bad.append(c.get("name", ""))
            values.add(str(profile.get("type")))
    if bad:
        setters.append(named("container", bad))
    return setters, values


def app_armor(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    setters, values = _bad_setters(spec, "appArmorProfile", GOOD_PROFILE_TYPES)
    value_list = sorted(values)
    annotations = sorted(f'{k}="{v}"' for k, v in _annotations(meta).items() if k.startswith(APPARMOR_ANNOTATION)
                         and not (v == "" or v == "runtime/default" or v.startswith("localhost/")))
    if annotations:
        value_list += annotations
        setters.append(pluralize("annotation", "annotations", len(annotations)))
    if not setters:
        return None
    return (pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(value_list)),
            f"{' and '.join(setters)} must not set AppArmor profile type to {join_quote(value_list)}")


def se_linux(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    allowed = _SELINUX_TYPES_1_31 if minor >= 31 else _SELINUX_TYPES_1_0
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(options: object) -> bool:
        if not isinstance(options, dict):
            return True
        ok = True
        if str(options.get("type") or "") not in allowed:
            ok = False
            bad_types.add(str(options.get("type") or ""))
        for key in ("user", "role"):
            if options.get(key):
                ok, flags[key] = False, True
        return ok

    setters = [] if valid(security_context(spec).get("seLinuxOptions")) else ["pod"]
    bad = [c.get("name", "") for c in containers(spec) if not valid(security_context(c).get("seLinuxOptions"))]
    if bad:
        setters.append(named("container", bad))
    if not setters:
        return None
    data = [f"{pluralize('type', 'types', len(bad_types))} {join_quote(sorted(bad_types))}"] if bad_types else []
    data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
    return "seLinuxOptions", f"{' and '.join(setters)} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"


def _good_seccomp_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    if minor < 19:  # before v1.19 seccomp was set by annotations
        annotations = _annotations(meta)
        keys = [SECCOMP_POD_ANNOTATION] + [SECCOMP_CONTAINER_ANNOTATION + c.get("name", "") for c in containers(spec)]
        bad = sorted({f'{k}="{annotations[k]}"' for k in keys if k in annotations
                      and not _good_seccomp_annotation(annotations[k])})
        if not bad:
            return None
        return "seccompProfile", f"forbidden {pluralize('annotation', 'annotations', len(bad))} {', '.join(bad)}"
    setters, values = _bad_setters(spec, "seccompProfile", GOOD_PROFILE_TYPES)
    if not setters:
        return None
    return ("seccompProfile",
            f"{' and '.join(setters)} must not set securityContext.seccompProfile.type to {join_quote(sorted(values))}")


def sysctls(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    allowed = (_SYSCTLS_1_32 if minor >= 32 else _SYSCTLS_1_29 if minor >= 29
               else _SYSCTLS_1_27 if minor >= 27 else _SYSCTLS_1_0)
    bad = [str(s.get("name")) for s in security_context(spec).get("sysctls") or []
           if isinstance(s, dict) and s.get("name") not in allowed]
    return ("forbidden sysctls", ", ".join(bad)) if bad else None


def windows_host_process(meta: Obj, spec: Obj, minor: int) -> Violation | None:
    def host_process(obj: Obj) -> bool:
        return (security_context(obj).get("windowsOptions") or {}).get("hostProcess") is True

    setters = ["pod"] if host_process(spec) else []
    bad = [c.get("name", "") for c in containers(spec) if host_process(c)]
    if bad:
        setters.append(named("container", bad))
    if not setters:
        return None
    return "hostProcess", f"{' and '.join(setters)} must not set securityContext.windowsOptions.hostProcess=true"


BASELINE_CHECKS = (
    Check("appArmorProfile", BASELINE, 0, app_armor),
    Check("capabilities_baseline", BASELINE, 0, capabilities),
    Check("hostNamespaces", BASELINE, 0, host_namespaces),
    Check("hostPathVolumes", BASELINE, 0, host_path_volumes),
    Check("hostPorts", BASELINE, 0, host_ports),
    Check("privileged", BASELINE, 0, privileged),
    Check("procMount", BASELINE, 0, proc_mount),
    Check("seLinuxOptions", BASELINE, 0, se_linux),
    Check("seccompProfile_baseline", BASELINE, 0, seccomp),
    Check("sysctls", BASELINE, 0, sysctls),
    Check("windowsHostProcess", BASELINE, 0, windows_host_process),
)
