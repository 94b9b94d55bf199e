"""Per-kind rules: `strategy_for(kind)` gives the KindStrategy (defaults, validation of the
kind's own fields, table columns/rows) for every kind in `resources.RESOURCES`; metadata is
checked beside it with `validate_metadata(obj, namespaced, old)`."""

from __future__ import annotations

from ...machinery.quantity import canonical_quantity, parse_quantity
from ..resources import RESOURCES, Resource
from .autoscaling import HorizontalPodAutoscalerStrategy
from .base import Column, KindStrategy
from .cluster import EventStrategy, LeaseStrategy, NodeStrategy
from .common import ObjectStrategy
from .core_misc import ConfigMapStrategy, NamespaceStrategy, SecretStrategy, ServiceAccountStrategy
from .cronjob import CronJobStrategy
from .ingress import IngressClassStrategy, IngressStrategy
from .job import JobStrategy
from .metadata import validate_metadata
from .pdb import PodDisruptionBudgetStrategy
from .pod import PodStrategy
from .quota import LimitRangeStrategy, ResourceQuotaStrategy
from .rbac import ClusterRoleBindingStrategy, ClusterRoleStrategy, RoleBindingStrategy, RoleStrategy
from .replication import ReplicationControllerStrategy
from .service import EndpointsStrategy, ServiceStrategy, drop_type_dependent_fields, preserve_allocations
from .statefulset import ControllerRevisionStrategy, StatefulSetStrategy
from .storage import PersistentVolumeClaimStrategy, PersistentVolumeStrategy, StorageClassStrategy
from .workloads import DaemonSetStrategy, DeploymentStrategy, ReplicaSetStrategy

__all__ = ["Column", "KindStrategy", "ObjectStrategy", "canonical_quantity", "drop_type_dependent_fields",
           "parse_quantity", "preserve_allocations", "strategy_for", "strategy_of", "validate_metadata"]

_CLASSES: dict[str, type[ObjectStrategy]] = {cls.kind: cls for cls in (
    NamespaceStrategy, PodStrategy, ServiceStrategy, EndpointsStrategy, ConfigMapStrategy, SecretStrategy,
    NodeStrategy, EventStrategy, DeploymentStrategy, ReplicaSetStrategy, DaemonSetStrategy, JobStrategy,
    LeaseStrategy, RoleStrategy, ClusterRoleStrategy, RoleBindingStrategy, ClusterRoleBindingStrategy,
    ServiceAccountStrategy, ReplicationControllerStrategy, IngressStrategy, IngressClassStrategy,
    HorizontalPodAutoscalerStrategy, StatefulSetStrategy, ControllerRevisionStrategy, PersistentVolumeStrategy,
    PersistentVolumeClaimStrategy, StorageClassStrategy, CronJobStrategy, ResourceQuotaStrategy, LimitRangeStrategy,
    PodDisruptionBudgetStrategy)}

_STRATEGIES: dict[str, KindStrategy] = {}


def _strategies() -> dict[str, KindStrategy]:
    """Every built-in kind's strategy, made on first use: the CRD kind's module (api/crd/) builds on this
    package, so it is imported only once this package is whole."""
    if not _STRATEGIES:
        from ..crd.definition import CustomResourceDefinitionStrategy

        classes = {**_CLASSES, CustomResourceDefinitionStrategy.kind: CustomResourceDefinitionStrategy}
        _STRATEGIES.update({r.kind: classes.get(r.kind, ObjectStrategy)(r.kind, r.namespaced) for r in RESOURCES})
    return _STRATEGIES


def strategy_of(resource: Resource) -> KindStrategy:
    """The strategy of a resource: a custom resource's comes from its CRD version, a built-in's from its kind."""
    from ..crd.resource import CustomResource
    from ..crd.strategy import CustomResourceStrategy  # (it builds on this package)

    if isinstance(resource, CustomResource):
        return CustomResourceStrategy(resource)
    return strategy_for(resource.kind)


def strategy_for(kind: str) -> KindStrategy:
    """The strategy for a kind; kinds without rules of their own get metadata checks only."""
    strategies = _strategies()
    strategy = strategies.get(kind)
    if strategy is None:
        strategy = strategies[kind] = ObjectStrategy(kind)
    return strategy
