"""The Pod Security Standards' checks one by one, with Kubernetes' wording, and the label policy."""

from __future__ import annotations

from typing import Any

import pytest

from raftkube.api.pod_security import LevelVersion, Policy, evaluate, forbidden_detail, policy_from_labels

Obj = dict[str, Any]
BASELINE, RESTRICTED = LevelVersion("baseline"), LevelVersion("restricted")
GOOD = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"}}


def spec(*containers: Obj, **fields: Any) -> Obj:
    return {"containers": list(containers) or [{"name": "c", "image": "x"}], **fields}


def detail(lv: LevelVersion, pod_spec: Obj, meta: Obj | None = None) -> str:
    return forbidden_detail(evaluate(lv, meta or {}, pod_spec))


@pytest.mark.parametrize(("pod_spec", "expected"), [
    (spec(hostIPC=True), "host namespaces (hostIPC=true)"),
    (spec({"name": "a", "securityContext": {"capabilities": {"add": ["NET_ADMIN", "CHOWN", "SYS_ADMIN"]}}}),
     'non-default capabilities (container "a" must not include "NET_ADMIN", "SYS_ADMIN" in '
     "securityContext.capabilities.add)"),
    (spec({"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}, {"containerPort": 1, "hostPort": 80}]},
          {"name": "b", "ports": [{"containerPort": 9}]}),
     'hostPort (container "a" uses hostPorts 80, 8080)'),
    (spec({"name": "a", "ports": [{"containerPort": 80, "hostPort": 80}]},
          {"name": "b", "ports": [{"containerPort": 80, "hostPort": 80}]}),
     'hostPort (containers "a", "b" use hostPort 80)'),
    (spec({"name": "a", "securityContext": {"procMount": "Unmasked"}}),
     'procMount (container "a" must not set securityContext.procMount to "Unmasked")'),
    (spec(securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"},
                                       {"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}]}),
     "forbidden sysctls (kernel.msgmax)"),
    (spec({"name": "a", "securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
     'seccompProfile (container "a" must not set securityContext.seccompProfile.type to "Unconfined")'),
    (spec({"name": "a", "securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
     'forbidden AppArmor profile (container "a" must not set AppArmor profile type to "Unconfined")'),
    (spec(securityContext={"seLinuxOptions": {"type": "spc_t", "user": "root"}}),
     'seLinuxOptions (pod set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set)'),
    (spec({"name": "a", "securityContext": {"windowsOptions": {"hostProcess": True}}}),
     'hostProcess (container "a" must not set securityContext.windowsOptions.hostProcess=true)'),
    (spec(initContainers=[{"name": "i", "securityContext": {"privileged": True}}]),
     'privileged (container "i" must not set securityContext.privileged=true)'),
    (spec(volumes=[{"name": "a", "hostPath": {"path": "/"}}, {"name": "b", "hostPath": {"path": "/x"}}]),
     'hostPath volumes (volumes "a", "b")'),
])
def test_baseline_checks(pod_spec: Obj, expected: str) -> None:
    assert detail(BASELINE, pod_spec) == expected


def test_baseline_allows_ordinary_and_explicitly_safe_pods() -> None:
    context = {"privileged": False, "capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"]}, "procMount": "Default",
               "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Localhost"},
               "seLinuxOptions": {"type": "container_t", "level": "s0:c1"}}
    safe = spec({"name": "a", "image": "x", "securityContext": context, "ports": [{"containerPort": 80}]},
                hostNetwork=False, volumes=[{"name": "v", "emptyDir": {}}],
                securityContext={"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]})
    assert evaluate(BASELINE, {}, safe) == []
    assert evaluate(LevelVersion("privileged"), {}, spec(hostPID=True)) == []


def test_annotations_checked_as_kubernetes_does() -> None:
    meta = {"annotations": {"container.apparmor.security.beta.kubernetes.io/c": "unconfined"}}
    assert detail(BASELINE, spec(), meta) == (
        'forbidden AppArmor profile (annotation must not set AppArmor profile type to '
        '"container.apparmor.security.beta.kubernetes.io/c="unconfined"")')
    old = {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "unconfined"}}
    assert detail(LevelVersion("baseline", "v1.18"), spec(), old) == (
        'seccompProfile (forbidden annotation seccomp.security.alpha.kubernetes.io/pod="unconfined")')
    assert detail(BASELINE, spec(), old) == ""  # from v1.19 the fields count, not the annotations


def test_versions_gate_checks() -> None:
    newer_sysctl = spec(securityContext={"sysctls": [{"name": "net.ipv4.tcp_rmem", "value": "1"}]})
    assert detail(LevelVersion("baseline", "v1.31"), newer_sysctl) == "forbidden sysctls (net.ipv4.tcp_rmem)"
    assert detail(LevelVersion("baseline", "v1.32"), newer_sysctl) == ""
    assert detail(LevelVersion("baseline", "v1.99"), newer_sysctl) == ""  # later than this server: latest
    root = spec({"name": "c", "securityContext": {**GOOD, "runAsUser": 0}})
    assert detail(RESTRICTED, root) == 'runAsUser=0 (container "c" must not set runAsUser=0)'
    assert detail(LevelVersion("restricted", "v1.22"), root) == ""  # runAsUser=0 counts from v1.23
    caps = spec({"name": "c", "securityContext": {**GOOD, "capabilities": {"add": ["SYS_TIME"]}}})
    assert detail(LevelVersion("restricted", "v1.21"), caps) == (  # before v1.22 baseline's capability check
        'non-default capabilities (container "c" must not include "SYS_TIME" in securityContext.capabilities.add)')


@pytest.mark.parametrize(("pod_spec", "expected"), [
    (spec({"name": "c", "securityContext": {**GOOD, "allowPrivilegeEscalation": True}}),
     'allowPrivilegeEscalation != false (container "c" must set securityContext.allowPrivilegeEscalation=false)'),
    (spec({"name": "c", "securityContext": {**GOOD, "capabilities": {"drop": ["ALL"], "add": ["NET_RAW"]}}}),
     'unrestricted capabilities (container "c" must not include "NET_RAW" in securityContext.capabilities.add)'),
    (spec({"name": "c", "securityContext": {**GOOD, "capabilities": {"drop": ["NET_RAW"]}}}),
     'unrestricted capabilities (container "c" must set securityContext.capabilities.drop=["ALL"])'),
    (spec({"name": "c", "securityContext": {**GOOD, "runAsNonRoot": False}}),
     'runAsNonRoot != true (container "c" must not set securityContext.runAsNonRoot=false)'),
    (spec({"name": "c", "securityContext": GOOD}, volumes=[{"name": "n", "nfs": {"server": "s", "path": "/"}},
                                                           {"name": "e", "emptyDir": {}}]),
     'restricted volume types (volume "n" uses restricted volume type "nfs")'),
    (spec({"name": "c", "securityContext": GOOD}, volumes=[{"name": "h", "hostPath": {"path": "/"}}]),
     'restricted volume types (volume "h" uses restricted volume type "hostPath")'),  # replaces hostPath volumes
    (spec({"name": "c", "securityContext": {**GOOD, "seccompProfile": {"type": "Unconfined"}}}),
     'seccompProfile (container "c" must not set securityContext.seccompProfile.type to "Unconfined")'),
])
def test_restricted_checks(pod_spec: Obj, expected: str) -> None:
    assert detail(RESTRICTED, pod_spec) == expected


def test_restricted_settings_may_come_from_the_pod() -> None:
    pod_level = {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "Localhost"}}
    container = {"name": "c", "securityContext": {"allowPrivilegeEscalation": False,
                                                  "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}
    assert evaluate(RESTRICTED, {}, spec(container, securityContext=pod_level)) == []
    windows = spec({"name": "c"}, os={"name": "windows"}, securityContext={"runAsNonRoot": True})
    assert evaluate(RESTRICTED, {}, windows) == []  # the Linux-only checks skip Windows pods


def test_policy_from_labels() -> None:
    default = Policy.uniform("baseline")
    policy, errors = policy_from_labels({}, default)
    assert policy == default and errors == []
    policy, _ = policy_from_labels({"pod-security.kubernetes.io/enforce": "privileged"}, default)
    assert (policy.enforce.level, policy.warn.level, policy.audit.level) == ("privileged",) * 3
    policy, _ = policy_from_labels({"pod-security.kubernetes.io/enforce": "baseline",
                                    "pod-security.kubernetes.io/warn": "restricted",
                                    "pod-security.kubernetes.io/warn-version": "v1.25"}, default)
    assert str(policy.enforce) == "baseline:latest" and str(policy.warn) == "restricted:v1.25"
    policy, errors = policy_from_labels({"pod-security.kubernetes.io/enforce": "none",
                                         "pod-security.kubernetes.io/warn": "loud"}, default)
    assert policy.enforce.level == "restricted" and policy.warn.level == "privileged"  # closed / open
    assert [e.field for e in errors] == ["metadata.labels[pod-security.kubernetes.io/enforce]",
                                         "metadata.labels[pod-security.kubernetes.io/warn]"]
