"""Pod Security Admission through the real API: the attack pod refused in a default namespace
with every violation named and nothing stored, allowed where the namespace is labelled
privileged; restricted refusing a root pod; warn mode and workloads answering with warnings."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.inproc import InProcessAPI

Obj = dict[str, Any]
ENFORCE, WARN = "pod-security.kubernetes.io/enforce", "pod-security.kubernetes.io/warn"
ATTACK = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "attack"},
          "spec": {"hostNetwork": True, "hostPID": True,
                   "containers": [{"name": "c", "image": "busybox:1", "command": ["sleep", "1d"],
                                   "securityContext": {"privileged": True},
                                   "volumeMounts": [{"name": "root", "mountPath": "/host"}]}],
                   "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}}
PLAIN = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "plain"},
         "spec": {"containers": [{"name": "app", "image": "busybox:1"}]}}
HARDENED_CONTEXT = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
HARDENED = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hardened"},
            "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000,
                                         "seccompProfile": {"type": "RuntimeDefault"}},
                     "containers": [{"name": "app", "image": "busybox:1", "securityContext": HARDENED_CONTEXT}]}}


def namespace(admin: httpx.Client, name: str, labels: dict[str, str] | None = None) -> str:
    response = admin.post("/api/v1/namespaces", json={"metadata": {"name": name, "labels": labels or {}}})
    assert response.status_code == 201, response.text
    return name


def test_attack_pod_refused_in_a_default_namespace_with_every_violation_named(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-default")
    response = admin.post(f"/api/v1/namespaces/{ns}/pods", json=ATTACK)
    assert response.status_code == 403, response.text
    status = response.json()
    assert status["reason"] == "Forbidden" and status["details"] == {"name": "attack", "kind": "pods"}
    assert status["message"] == (
        'pods "attack" is forbidden: violates PodSecurity "baseline:latest": host namespaces (hostNetwork=true, '
        'hostPID=true), hostPath volumes (volume "root"), privileged (container "c" must not set '
        'securityContext.privileged=true)')
    assert admin.get(f"/api/v1/namespaces/{ns}/pods/attack").status_code == 404  # nothing stored
    dry = admin.post(f"/api/v1/namespaces/{ns}/pods", json=ATTACK, params={"dryRun": "All"})
    assert dry.status_code == 403
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=PLAIN).status_code == 201  # baseline pods run


def test_attack_pod_allowed_where_the_namespace_is_privileged(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-privileged", {ENFORCE: "privileged"})
    response = admin.post(f"/api/v1/namespaces/{ns}/pods", json=ATTACK)
    assert response.status_code == 201, response.text
    assert "warning" not in response.headers


def test_system_namespaces_are_privileged(admin: httpx.Client) -> None:
    body = {**ATTACK, "metadata": {"name": "system-attack"}}
    response = admin.post("/api/v1/namespaces/kube-system/pods", json=body, params={"dryRun": "All"})
    assert response.status_code == 201, response.text


def test_restricted_refuses_a_root_pod_and_admits_a_hardened_one(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-restricted", {ENFORCE: "restricted"})
    root = {**PLAIN, "metadata": {"name": "root"},
            "spec": {"securityContext": {"runAsUser": 0}, "containers": PLAIN["spec"]["containers"]}}
    response = admin.post(f"/api/v1/namespaces/{ns}/pods", json=root)
    assert response.status_code == 403
    assert response.json()["message"] == (
        'pods "root" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false '
        '(container "app" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities '
        '(container "app" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or '
        'container "app" must set securityContext.runAsNonRoot=true), runAsUser=0 (pod must not set runAsUser=0), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to "RuntimeDefault" '
        'or "Localhost")')
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=HARDENED).status_code == 201


def test_warn_mode_answers_with_a_warning_header(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-warn", {ENFORCE: "baseline", WARN: "restricted"})
    response = admin.post(f"/api/v1/namespaces/{ns}/pods", json=PLAIN)
    assert response.status_code == 201
    warning = response.headers["warning"]
    assert warning.startswith('299 - "would violate PodSecurity \\"restricted:latest\\": allowPrivilegeEscalation')
    assert "runAsNonRoot != true" in warning
    quiet = admin.post(f"/api/v1/namespaces/{ns}/pods", json=HARDENED)
    assert quiet.status_code == 201 and "warning" not in quiet.headers


def test_workloads_get_warnings_only(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-workloads")
    template = {"metadata": {"labels": {"app": "x"}}, "spec": ATTACK["spec"]}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"selector": {"matchLabels": {"app": "x"}}, "template": template}}
    response = admin.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment)
    assert response.status_code == 201, response.text
    assert 'would violate PodSecurity \\"baseline:latest\\": host namespaces' in response.headers["warning"]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
           "spec": {"template": {"spec": {**ATTACK["spec"], "restartPolicy": "Never"}}}}
    response = admin.post(f"/apis/batch/v1/namespaces/{ns}/jobs", json=job)
    assert response.status_code == 201 and "hostPath volumes" in response.headers["warning"]


def test_enforce_tracks_label_changes_and_warns_about_existing_pods(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-relabel", {ENFORCE: "privileged"})
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=ATTACK).status_code == 201
    merge = {"Content-Type": "application/merge-patch+json"}
    response = admin.patch(f"/api/v1/namespaces/{ns}", headers=merge,
                           content=f'{{"metadata":{{"labels":{{"{ENFORCE}":"baseline"}}}}}}'.encode())
    assert response.status_code == 200
    warning = response.headers["warning"]
    assert f'existing pods in namespace \\"{ns}\\" violate the new PodSecurity enforce level \\"baseline:latest\\"' \
        in warning
    assert "attack: host namespaces, hostPath volumes, privileged" in warning
    again = {**ATTACK, "metadata": {"name": "attack-2"}}
    assert admin.post(f"/api/v1/namespaces/{ns}/pods", json=again).status_code == 403


def test_invalid_labels_refused_and_read_as_restricted(admin: httpx.Client, api: InProcessAPI) -> None:
    response = admin.post("/api/v1/namespaces", json={"metadata": {"name": "psa-bad", "labels": {ENFORCE: "strict"}}})
    assert response.status_code == 422
    assert response.json()["message"] == (
        'Namespace "psa-bad" is invalid: metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: '
        '"strict": must be one of privileged, baseline, restricted')
    response = admin.post("/api/v1/namespaces", json={"metadata": {"name": "psa-bad",
                                                                   "labels": {f"{ENFORCE}-version": "1.30"}}})
    assert response.status_code == 422 and 'must be "latest" or "v1.x"' in response.json()["message"]
    assert namespace(admin, "psa-pinned", {ENFORCE: "baseline", f"{ENFORCE}-version": "v1.30"})
    response = admin.post("/api/v1/namespaces/psa-pinned/pods", json=ATTACK)
    assert response.status_code == 403 and 'violates PodSecurity "baseline:v1.30"' in response.json()["message"]


def test_status_updates_are_not_evaluated_and_nodes_keep_reporting(admin: httpx.Client) -> None:
    ns = namespace(admin, "psa-status", {ENFORCE: "privileged"})
    created = admin.post(f"/api/v1/namespaces/{ns}/pods", json=ATTACK).json()
    merge = {"Content-Type": "application/merge-patch+json"}
    admin.patch(f"/api/v1/namespaces/{ns}", headers=merge,
                content=f'{{"metadata":{{"labels":{{"{ENFORCE}":"restricted"}}}}}}'.encode()).raise_for_status()
    created["status"] = {"phase": "Running"}
    assert admin.put(f"/api/v1/namespaces/{ns}/pods/attack/status", json=created).status_code == 200
    relabel = admin.patch(f"/api/v1/namespaces/{ns}/pods/attack", headers=merge,
                          content=b'{"metadata":{"labels":{"seen":"yes"}}}')
    assert relabel.status_code == 200  # no image change: not a significant update
    image = admin.patch(f"/api/v1/namespaces/{ns}/pods/attack",
                        headers={"Content-Type": "application/strategic-merge-patch+json"},
                        content=b'{"spec":{"containers":[{"name":"c","image":"busybox:2"}]}}')
    assert image.status_code == 403 and "restricted:latest" in image.json()["message"]
