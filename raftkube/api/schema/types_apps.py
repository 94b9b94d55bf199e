"""apps/v1 Deployment, ReplicaSet, DaemonSet, core/v1 ReplicationController, and autoscaling/v1 Scale."""

from __future__ import annotations

from .build import (
            APPS,
            AUTOSCALING,
            CORE,
            META,
            b,
            condition_fields,
            conditions,
            i32,
            i64,
            ios,
            kind_fields,
            ref,
            s,
            smap,
)
from .model import TypeFields

SELECTOR = ("Label query over the pods the controller manages; must match the template's labels. Cannot be "
            "changed after creation in apps/v1.")
TEMPLATE = "The pod template: the pods the controller creates look like this."
MIN_READY = ("Seconds a newly created pod must be ready, with no container crashing, to count as available. "
             "Defaults to 0.")
HISTORY = "Number of old revisions (ReplicaSets / ControllerRevisions) kept to allow rollback. Defaults to 10."
COLLISION = "Count of hash collisions, used to compute a unique name for the newest revision."
OBSERVED = "The generation observed by the controller."

TYPES: dict[str, TypeFields] = {
    APPS + "Deployment": kind_fields(APPS + "DeploymentSpec", APPS + "DeploymentStatus",
                                     "The desired behaviour of the Deployment.",
                                     "The most recently observed status of the Deployment."),
    APPS + "DeploymentSpec": {
        "replicas": i32("Number of desired pods. Defaults to 1."),
        "selector": ref(META + "LabelSelector", SELECTOR, req=True),
        "template": ref(CORE + "PodTemplateSpec", TEMPLATE, req=True),
        "strategy": ref(APPS + "DeploymentStrategy", "How existing pods are replaced by new ones.",
                        strategy="retainKeys"),
        "minReadySeconds": i32(MIN_READY),
        "revisionHistoryLimit": i32(HISTORY),
        "paused": b("Pauses the rollout: template changes are not rolled out while true."),
        "progressDeadlineSeconds": i32("Seconds the Deployment may take to make progress before it is reported "
                                       "as failed (Progressing=False, ProgressDeadlineExceeded). Defaults to "
                                       "600."),
    },
    APPS + "DeploymentStrategy": {
        "type": s("Type of deployment: RollingUpdate (default) or Recreate (kill all old pods first).",
                  enum=("Recreate", "RollingUpdate")),
        "rollingUpdate": ref(APPS + "RollingUpdateDeployment", "Parameters of a rolling update; only for type "
                             "RollingUpdate."),
    },
    APPS + "RollingUpdateDeployment": {
        "maxUnavailable": ios("How many pods may be unavailable during the update: a number or a percentage of "
                              "desired pods (rounded down). Defaults to 25%; cannot be 0 if maxSurge is 0."),
        "maxSurge": ios("How many pods may be created above the desired number: a number or a percentage "
                        "(rounded up). Defaults to 25%; cannot be 0 if maxUnavailable is 0."),
    },
    APPS + "DeploymentStatus": {
        "observedGeneration": i64(OBSERVED),
        "replicas": i32("Total number of non-terminating pods targeted by this deployment (their labels match "
                        "the selector)."),
        "updatedReplicas": i32("Non-terminating pods that have the desired template."),
        "readyReplicas": i32("Pods targeted by this deployment with a Ready condition."),
        "availableReplicas": i32("Pods targeted by this deployment that have been ready for at least "
                                 "minReadySeconds."),
        "unavailableReplicas": i32("Pods still needed for 100% available capacity: desired minus available."),
        "conditions": conditions(APPS + "DeploymentCondition", "Latest observations of the deployment's "
                                 "state: Available, Progressing, ReplicaFailure."),
        "collisionCount": i32(COLLISION),
    },
    APPS + "DeploymentCondition": condition_fields("deployment", update_time=True),
    APPS + "ReplicaSet": kind_fields(APPS + "ReplicaSetSpec", APPS + "ReplicaSetStatus",
                                     "The desired behaviour of the ReplicaSet.",
                                     "The most recently observed status of the ReplicaSet."),
    APPS + "ReplicaSetSpec": {
        "replicas": i32("Number of desired pods. Defaults to 1."),
        "minReadySeconds": i32(MIN_READY),
        "selector": ref(META + "LabelSelector", SELECTOR, req=True),
        "template": ref(CORE + "PodTemplateSpec", TEMPLATE + " Pods are created from it when too few exist."),
    },
    APPS + "ReplicaSetStatus": {
        "replicas": i32("Most recently observed number of replicas.", req=True),
        "fullyLabeledReplicas": i32("Pods whose labels match the labels of the pod template."),
        "readyReplicas": i32("Pods targeted by this ReplicaSet with a Ready condition."),
        "availableReplicas": i32("Pods that have been ready for at least minReadySeconds."),
        "observedGeneration": i64("The generation of the most recently observed ReplicaSet."),
        "conditions": conditions(APPS + "ReplicaSetCondition", "Latest observations of the ReplicaSet's state."),
    },
    APPS + "ReplicaSetCondition": condition_fields("replica set"),
    CORE + "ReplicationController": kind_fields(
        CORE + "ReplicationControllerSpec", CORE + "ReplicationControllerStatus",
        "The desired behaviour of the replication controller.",
        "The most recently observed status of the replication controller."),
    CORE + "ReplicationControllerSpec": {
        "replicas": i32("Number of desired pods. Defaults to 1."),
        "minReadySeconds": i32(MIN_READY),
        "selector": smap("Label keys and values pods must match to be controlled by this replication controller; "
                         "defaults to the template's labels.", atomic=True),
        "template": ref(CORE + "PodTemplateSpec", TEMPLATE + " Pods are created from it when too few exist."),
    },
    CORE + "ReplicationControllerStatus": {
        "replicas": i32("Most recently observed number of replicas.", req=True),
        "fullyLabeledReplicas": i32("Pods whose labels match the labels of the pod template."),
        "readyReplicas": i32("Pods targeted by this replication controller with a Ready condition."),
        "availableReplicas": i32("Pods that have been ready for at least minReadySeconds."),
        "observedGeneration": i64("The generation of the most recently observed replication controller."),
        "conditions": conditions(CORE + "ReplicationControllerCondition",
                                 "Latest observations of the replication controller's state."),
    },
    CORE + "ReplicationControllerCondition": condition_fields("replication controller"),
    APPS + "DaemonSet": kind_fields(APPS + "DaemonSetSpec", APPS + "DaemonSetStatus",
                                    "The desired behaviour of the DaemonSet.",
                                    "The most recently observed status of the DaemonSet."),
    APPS + "DaemonSetSpec": {
        "selector": ref(META + "LabelSelector", SELECTOR, req=True),
        "template": ref(CORE + "PodTemplateSpec", TEMPLATE + " One such pod runs on every eligible node.",
                        req=True),
        "updateStrategy": ref(APPS + "DaemonSetUpdateStrategy", "How old pods are replaced by new ones."),
        "minReadySeconds": i32(MIN_READY),
        "revisionHistoryLimit": i32(HISTORY),
    },
    APPS + "DaemonSetUpdateStrategy": {
        "type": s("Type of update: RollingUpdate (default) or OnDelete (replace pods only when deleted).",
                  enum=("OnDelete", "RollingUpdate")),
        "rollingUpdate": ref(APPS + "RollingUpdateDaemonSet", "Parameters of a rolling update."),
    },
    APPS + "RollingUpdateDaemonSet": {
        "maxUnavailable": ios("How many nodes' pods may be unavailable during the update: a number or a "
                              "percentage. Defaults to 1."),
        "maxSurge": ios("How many nodes may run an updated pod next to the old one during the update. "
                        "Defaults to 0."),
    },
    APPS + "DaemonSetStatus": {
        "currentNumberScheduled": i32("Nodes running at least one daemon pod that are supposed to.", req=True),
        "numberMisscheduled": i32("Nodes running the daemon pod that are not supposed to.", req=True),
        "desiredNumberScheduled": i32("Nodes that should be running the daemon pod.", req=True),
        "numberReady": i32("Nodes that should run the daemon pod and have one or more of them ready.",
                           req=True),
        "observedGeneration": i64(OBSERVED),
        "updatedNumberScheduled": i32("Nodes running the updated daemon pod."),
        "numberAvailable": i32("Nodes that should run the daemon pod and have one available."),
        "numberUnavailable": i32("Nodes that should run the daemon pod and have none available."),
        "collisionCount": i32(COLLISION),
        "conditions": conditions(APPS + "DaemonSetCondition", "Latest observations of the DaemonSet's state."),
    },
    APPS + "DaemonSetCondition": condition_fields("daemon set"),
    AUTOSCALING + "Scale": kind_fields(AUTOSCALING + "ScaleSpec", AUTOSCALING + "ScaleStatus",
                                       "The desired scale of the object.", "The current status of the scale."),
    AUTOSCALING + "ScaleSpec": {
        "replicas": i32("Desired number of instances of the scaled object."),
    },
    AUTOSCALING + "ScaleStatus": {
        "replicas": i32("Actual number of observed instances of the scaled object.", req=True),
        "selector": s("Label query over the pods counted in replicas, in string form."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    APPS + "Deployment": "Declarative updates for pods and ReplicaSets: the controller rolls the pods from the "
                         "old template to the new one.",
    APPS + "DeploymentSpec": "The specification of the desired behaviour of a Deployment.",
    APPS + "DeploymentStrategy": "How to replace existing pods with new ones.",
    APPS + "RollingUpdateDeployment": "Controls a rolling update.",
    APPS + "DeploymentStatus": "The most recently observed status of a Deployment.",
    APPS + "DeploymentCondition": "The state of a deployment at a point in time.",
    APPS + "ReplicaSet": "Ensures that a number of pod replicas are running at any given time.",
    APPS + "ReplicaSetSpec": "The specification of a ReplicaSet.",
    APPS + "ReplicaSetStatus": "The current status of a ReplicaSet.",
    APPS + "ReplicaSetCondition": "The state of a replica set at a point in time.",
    CORE + "ReplicationController": "Keeps a number of pod replicas (selected by a plain label map) running.",
    CORE + "ReplicationControllerSpec": "The specification of a replication controller.",
    CORE + "ReplicationControllerStatus": "The current status of a replication controller.",
    CORE + "ReplicationControllerCondition": "The state of a replication controller at a point in time.",
    APPS + "DaemonSet": "Runs a copy of a pod on every eligible node.",
    APPS + "DaemonSetSpec": "The specification of a DaemonSet.",
    APPS + "DaemonSetUpdateStrategy": "How a DaemonSet replaces its pods.",
    APPS + "RollingUpdateDaemonSet": "Controls the rolling update of a DaemonSet.",
    APPS + "DaemonSetStatus": "The current status of a DaemonSet.",
    APPS + "DaemonSetCondition": "The state of a DaemonSet at a point in time.",
    AUTOSCALING + "Scale": "The scaling request of a resource (the scale subresource).",
    AUTOSCALING + "ScaleSpec": "The attributes of a scale subresource.",
    AUTOSCALING + "ScaleStatus": "The current status of a scale subresource.",
}
