"""The root types generated from the pinned Kubernetes spec: ONE line per kind.

To give a kind its schema, add its root type here (the OpenAPI name, as `kind_type` gives it
for a Resource) and re-run `python -m raftkube.api.schema.generate`: every type reachable from
the root, with its descriptions, merge keys, list types and protobuf numbers, lands in
`generated/`. Serving the kind is a separate step (a Resource in `api/resources.py`).
"""

from __future__ import annotations

ROOTS: tuple[str, ...] = (
    "io.k8s.api.core.v1.PersistentVolume",
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    "io.k8s.api.core.v1.ResourceQuota",
    "io.k8s.api.core.v1.LimitRange",
    "io.k8s.api.core.v1.PodTemplate",
    "io.k8s.api.storage.v1.StorageClass",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.apps.v1.ControllerRevision",
    "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.policy.v1.PodDisruptionBudget",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.api.networking.v1.Ingress",
    "io.k8s.api.networking.v1.IngressClass",
    "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
    "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "io.k8s.api.discovery.v1.EndpointSlice",
)
