"""check_structure / prune_unknown: unknown fields and wrong types, on real-looking manifests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from raftkube.api.schema import KIND_TYPES
from raftkube.api.schema.structure import check_structure, prune_unknown, strict_decoding_error

MANIFESTS = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
  annotations: {team: a}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front]}]
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web, tier: front}
    spec:
      terminationGracePeriodSeconds: 10
      nodeSelector: {disk: ssd}
      securityContext: {runAsNonRoot: true, fsGroup: 2000, seccompProfile: {type: RuntimeDefault}}
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/os, operator: In, values: [linux]}]
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            podAffinityTerm:
              labelSelector: {matchLabels: {app: web}}
              topologyKey: kubernetes.io/hostname
      tolerations:
      - {key: dedicated, operator: Equal, value: web, effect: NoSchedule, tolerationSeconds: 30}
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: zone, whenUnsatisfiable: ScheduleAnyway, labelSelector: {matchLabels: {app: web}}}
      imagePullSecrets: [{name: regcred}]
      initContainers:
      - name: init
        image: busybox:1.36
        command: [sh, -c, "echo init"]
      containers:
      - name: app
        image: nginx:1.27
        imagePullPolicy: IfNotPresent
        args: ["--port", "8080"]
        workingDir: /srv
        ports:
        - {name: http, containerPort: 8080, protocol: TCP}
        env:
        - {name: MODE, value: production}
        - name: POD_NAME
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
        - name: CPU_LIMIT
          valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password, optional: false}}
        - name: LEVEL
          valueFrom: {configMapKeyRef: {name: settings, key: level}}
        envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
        resources:
          requests: {cpu: 100m, memory: 64Mi}
          limits: {cpu: "1", memory: 128Mi}
        livenessProbe:
          httpGet: {path: /healthz, port: http, httpHeaders: [{name: X-Probe, value: "1"}]}
          initialDelaySeconds: 5
          periodSeconds: 10
          failureThreshold: 3
        readinessProbe:
          tcpSocket: {port: 8080}
          timeoutSeconds: 2
        startupProbe:
          exec: {command: [cat, /tmp/ready]}
        lifecycle:
          preStop: {exec: {command: [sh, -c, "sleep 5"]}}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        volumeMounts:
        - {name: config, mountPath: /etc/app, readOnly: true}
        - {name: cache, mountPath: /cache}
        - {name: secret, mountPath: /etc/secret}
        terminationMessagePath: /dev/termination-log
        terminationMessagePolicy: FallbackToLogsOnError
      volumes:
      - name: config
        configMap:
          name: settings
          items: [{key: app.conf, path: app.conf, mode: 0644}]
      - name: cache
        emptyDir: {medium: Memory, sizeLimit: 64Mi}
      - name: secret
        secret: {secretName: creds, defaultMode: 0400}
      - name: host
        hostPath: {path: /var/log, type: Directory}
      - name: data
        persistentVolumeClaim: {claimName: data}
      - name: info
        downwardAPI:
          items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]
      - name: all
        projected:
          sources:
          - configMap: {name: settings}
          - serviceAccountToken: {path: token, expirationSeconds: 3600}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http, nodePort: 30080, protocol: TCP}
  - {name: metrics, port: 9090, targetPort: 9090}
  sessionAffinity: ClientIP
  sessionAffinityConfig: {clientIP: {timeoutSeconds: 600}}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: debug
  app.conf: |
    listen 8080
binaryData:
  blob: aGVsbG8=
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
type: Opaque
data:
  password: c2VjcmV0
stringData:
  user: admin
---
apiVersion: batch/v1
kind: Job
metadata:
  name: migrate
spec:
  backoffLimit: 2
  completions: 1
  parallelism: 1
  activeDeadlineSeconds: 600
  ttlSecondsAfterFinished: 100
  podFailurePolicy:
    rules:
    - action: FailJob
      onExitCodes: {containerName: migrate, operator: In, values: [42]}
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: migrate
        image: busybox:1.36
        command: [sh, -c, "exit 0"]
---
apiVersion: v1
kind: Pod
metadata:
  name: two
  labels: {app: two}
spec:
  restartPolicy: Always
  containers:
  - name: web
    image: nginx:1.27
    ports: [{containerPort: 80}]
  - name: sidecar
    image: busybox:1.36
    command: [sh, -c, "sleep 3600"]
    stdin: true
    tty: true
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: agent
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      hostNetwork: true
      containers:
      - {name: agent, image: busybox:1.36}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: leader
spec:
  holderIdentity: replica-1
  leaseDurationSeconds: 15
  renewTime: "2024-05-01T12:00:00.123456Z"
"""

DOCS: list[dict[str, Any]] = [d for d in yaml.safe_load_all(MANIFESTS) if d]


def root_of(obj: dict[str, Any]) -> str:
    return KIND_TYPES[(obj["apiVersion"], obj["kind"])]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d["kind"])
def test_typical_manifests_pass(doc: dict[str, Any]) -> None:
    assert check_structure(doc, root_of(doc)) == ([], [])
    assert prune_unknown(doc, root_of(doc)) == doc


def deployment() -> dict[str, Any]:
    return copy.deepcopy(DOCS[0])


def test_unknown_fields_in_nested_lists_are_named() -> None:
    obj = deployment()
    pod = obj["spec"]["template"]["spec"]
    pod["containers"][0]["imagePullPolcy"] = "Always"
    pod["containers"][0]["ports"][0]["hostPrt"] = 1
    pod["volumes"][2]["secret"]["secretNam"] = "x"
    pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"][0][
        "matchExpressions"][0]["valuez"] = []
    obj["metadata"]["labelz"] = {}
    obj["status"] = {"replicas": 1, "bogus": True}
    obj["extra"] = 1
    unknown, causes = check_structure(obj, root_of(obj))
    assert causes == []
    assert sorted(unknown) == sorted([
        "spec.template.spec.containers[0].imagePullPolcy",
        "spec.template.spec.containers[0].ports[0].hostPrt",
        "spec.template.spec.volumes[2].secret.secretNam",
        "spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].valuez",
        "metadata.labelz",
        "status.bogus",
        "extra",
    ])
    pruned = prune_unknown(obj, root_of(obj))
    assert check_structure(pruned, root_of(obj)) == ([], [])
    assert "imagePullPolcy" in obj["spec"]["template"]["spec"]["containers"][0], "input must not be mutated"
    assert "extra" not in pruned and pruned["status"] == {"replicas": 1}
    expected = deployment()
    expected["status"] = {"replicas": 1}
    expected["metadata"] = deployment()["metadata"]
    assert pruned == expected


def test_wrong_types_give_invalid_causes() -> None:
    obj = deployment()
    obj["spec"]["replicas"] = "three"
    container = obj["spec"]["template"]["spec"]["containers"][0]
    container["ports"][0]["containerPort"] = "8080"
    container["env"][0]["value"] = 5
    container["stdin"] = "yes"
    container["args"] = "--port 8080"
    obj["metadata"]["labels"]["version"] = 1.5
    unknown, causes = check_structure(obj, root_of(obj))
    assert unknown == []
    by_field = {c.field: c for c in causes}
    assert by_field["spec.replicas"].message == (
        'Invalid value: "string": spec.replicas in body must be of type integer')
    assert by_field["spec.replicas"].reason == "FieldValueTypeInvalid"
    assert "must be of type integer" in by_field["spec.template.spec.containers[0].ports[0].containerPort"].message
    assert "must be of type string" in by_field["spec.template.spec.containers[0].env[0].value"].message
    assert "must be of type boolean" in by_field["spec.template.spec.containers[0].stdin"].message
    assert "must be of type array" in by_field["spec.template.spec.containers[0].args"].message
    assert 'Invalid value: "number"' in by_field["metadata.labels.version"].message
    assert len(causes) == 6


@pytest.mark.parametrize(("path", "value", "ok"), [
    (("spec", "replicas"), 3.0, True),
    (("spec", "replicas"), 3.5, False),
    (("spec", "replicas"), True, False),
    (("spec", "replicas"), 2**31, False),
    (("spec", "replicas"), None, True),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), "30%", True),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), 2, True),
    (("spec", "strategy", "rollingUpdate", "maxSurge"), [2], False),
    (("metadata", "creationTimestamp"), "2024-05-01T12:00:00Z", True),
    (("metadata", "creationTimestamp"), "yesterday", False),
    (("metadata", "creationTimestamp"), None, True),
    (("metadata", "generation"), 2**40, True),
    (("spec", "selector"), "app=web", False),
    (("spec", "template", "spec", "containers"), {"name": "x"}, False),
])
def test_scalar_rules(path: tuple[str, ...], value: Any, ok: bool) -> None:
    obj = deployment()
    target = obj
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    unknown, causes = check_structure(obj, root_of(obj))
    assert unknown == []
    assert (causes == []) is ok, causes
    if not ok:
        assert causes[0].field == ".".join(path)


def test_quantities_and_base64() -> None:
    obj = deployment()
    limits = obj["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    limits["cpu"] = 0.5
    limits["memory"] = "lots"
    _, causes = check_structure(obj, root_of(obj))
    assert [c.field for c in causes] == ["spec.template.spec.containers[0].resources.limits.memory"]
    assert "quantities must match the regular expression" in causes[0].message

    secret = copy.deepcopy(DOCS[3])
    secret["data"]["bad"] = "not base64!"
    _, causes = check_structure(secret, root_of(secret))
    assert [c.field for c in causes] == ["data.bad"]
    assert "not base64!" not in causes[0].message, "the secret value is not echoed"


def test_free_form_and_root_fields() -> None:
    obj = deployment()
    obj["metadata"]["managedFields"] = [{"manager": "m", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]  # free-form
    assert check_structure(obj, root_of(obj)) == ([], [])
    obj["metadata"]["managedFields"][0]["fieldsV1"] = "fields"
    _, causes = check_structure(obj, root_of(obj))
    assert [c.field for c in causes] == ["metadata.managedFields[0].fieldsV1"]
    del obj["metadata"]["managedFields"]
    # the legacy volume sources are typed (as in Kubernetes), not free-form
    obj["spec"]["template"]["spec"]["volumes"].append({"name": "gce", "gcePersistentDisk": {"pdName": "d", "x": 1}})
    assert check_structure(obj, root_of(obj)) == (["spec.template.spec.volumes[7].gcePersistentDisk.x"], [])
    options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Foreground", "gracePeriod": 1}
    assert check_structure(options, KIND_TYPES[("v1", "DeleteOptions")]) == (["gracePeriod"], [])
    _, causes = check_structure({"apiVersion": 1}, root_of(obj))
    assert [c.field for c in causes] == ["apiVersion"]
    _, causes = check_structure([], root_of(obj))  # type: ignore[arg-type]
    assert causes


def test_strict_decoding_error_reads_like_kubernetes() -> None:
    err = strict_decoding_error("Deployment", "v1", ["spec.foo", "spec.bar"])
    assert err.code == 400 and err.reason == "BadRequest"
    assert err.message == ('Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
                           'unknown field "spec.foo", unknown field "spec.bar"')
