"""core/v1 Pod: PodSpec, PodTemplateSpec, PodStatus and container statuses; Binding, ObjectReference."""

from __future__ import annotations

from .build import (
    API_VERSION,
    CORE,
    KIND,
    OBJECT_META,
    b,
    by_name,
    condition_fields,
    conditions,
    i32,
    i64,
    kind_fields,
    lst,
    qmap,
    ref,
    s,
    smap,
    t,
)
from .model import TypeFields

POD_SPEC: TypeFields = {
    "volumes": by_name(CORE + "Volume", "Volumes that containers of the pod can mount.",
                       strategy="merge,retainKeys"),
    "initContainers": by_name(CORE + "Container", "Containers run in order before the app containers start; "
                              "each must succeed before the next. Init containers with restartPolicy Always "
                              "are sidecars that keep running."),
    "containers": by_name(CORE + "Container", "The containers of the pod; at least one. Cannot be added or "
                          "removed after creation.", req=True),
    "ephemeralContainers": by_name(CORE + "EphemeralContainer", "Ephemeral containers added to run debugging "
                                   "tools in the pod (via the ephemeralcontainers subresource)."),
    "restartPolicy": s("Restart policy of all containers: Always (default), OnFailure or Never.",
                       enum=("Always", "Never", "OnFailure")),
    "terminationGracePeriodSeconds": i64("Seconds the pod has to stop gracefully after SIGTERM before it is "
                                         "killed. Defaults to 30."),
    "activeDeadlineSeconds": i64("Seconds, counted from the pod's start, after which the system actively "
                                 "tries to stop the pod."),
    "dnsPolicy": s("How DNS is set up for the pod. Defaults to ClusterFirst.",
                   enum=("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")),
    "nodeSelector": smap("Labels a node must have for the pod to fit on it.", atomic=True),
    "serviceAccountName": s("Name of the ServiceAccount the pod runs as."),
    "serviceAccount": s("Deprecated alias of serviceAccountName."),
    "automountServiceAccountToken": b("Whether a service account token is mounted automatically."),
    "nodeName": s("The node the pod is bound to. Set by the scheduler; setting it on create bypasses "
                  "scheduling."),
    "hostNetwork": b("Use the host's network namespace; the pod's ports are the host's. Default false."),
    "hostPID": b("Use the host's PID namespace. Default false."),
    "hostIPC": b("Use the host's IPC namespace. Default false."),
    "shareProcessNamespace": b("Share one process namespace between all containers of the pod."),
    "securityContext": ref(CORE + "PodSecurityContext", "Pod-level security attributes and common container "
                           "settings."),
    "imagePullSecrets": by_name(CORE + "LocalObjectReference", "Secrets in the pod's namespace used to pull "
                                "its images."),
    "hostname": s("Host name of the pod; defaults to the pod's name."),
    "subdomain": s("With hostname, gives the pod the FQDN <hostname>.<subdomain>.<namespace>.svc.<domain>."),
    "affinity": ref(CORE + "Affinity", "Scheduling constraints on nodes and other pods."),
    "schedulerName": s("Scheduler that places the pod; defaults to the default scheduler."),
    "tolerations": lst(CORE + "Toleration", "Taints the pod tolerates."),
    "hostAliases": lst(CORE + "HostAlias", "Entries added to the pod's /etc/hosts file.", strategy="merge",
                       key="ip", keys=("ip",)),
    "priorityClassName": s("Name of the PriorityClass that gives the pod its priority."),
    "priority": i32("Priority of the pod, filled in from priorityClassName by admission."),
    "dnsConfig": ref(CORE + "PodDNSConfig", "DNS parameters of the pod, merged with those of dnsPolicy."),
    "readinessGates": lst(CORE + "PodReadinessGate", "Extra conditions that must be True for the pod to be "
                          "ready."),
    "runtimeClassName": s("Name of the RuntimeClass used to run the pod."),
    "enableServiceLinks": b("Whether information about services is injected as environment variables. "
                            "Defaults to true."),
    "preemptionPolicy": s("Whether the pod may preempt lower-priority pods. Defaults to PreemptLowerPriority.",
                          enum=("Never", "PreemptLowerPriority")),
    "overhead": qmap("Resource overhead of running the pod with its RuntimeClass."),
    "topologySpreadConstraints": lst(CORE + "TopologySpreadConstraint", "How pods are spread across topology "
                                     "domains.", strategy="merge", key="topologyKey",
                                     keys=("topologyKey", "whenUnsatisfiable")),
    "setHostnameAsFQDN": b("Set the pod's hostname to its fully qualified domain name."),
    "os": ref(CORE + "PodOS", "The operating system of the pod's containers."),
    "hostUsers": b("Use the host's user namespace (default true); false gives the pod its own."),
    "schedulingGates": by_name(CORE + "PodSchedulingGate", "While any gate is present the pod is not "
                               "scheduled. Gates can only be removed after creation."),
    "resourceClaims": by_name(CORE + "PodResourceClaim", "Resource claims the pod's containers may use.",
                              strategy="merge,retainKeys"),
    "resources": ref(CORE + "ResourceRequirements", "Pod-level resources, shared by all containers."),
}

TYPES: dict[str, TypeFields] = {
    CORE + "Pod": kind_fields(CORE + "PodSpec", CORE + "PodStatus", "The desired behaviour of the pod.",
                              "The most recently observed status of the pod, written by the node agent."),
    CORE + "PodSpec": POD_SPEC,
    CORE + "PodTemplateSpec": {
        "metadata": ref(OBJECT_META.type, "Metadata of the pods created from this template: labels (which must "
                        "match the selector), annotations, ..."),
        "spec": ref(CORE + "PodSpec", "The behaviour of the pods created from this template."),
    },
    CORE + "PodStatus": {
        "phase": s("Simple, high-level summary of where the pod is in its lifecycle.",
                   enum=("Failed", "Pending", "Running", "Succeeded", "Unknown")),
        "conditions": conditions(CORE + "PodCondition", "Current service state of the pod: PodScheduled, "
                                 "Initialized, ContainersReady, Ready."),
        "message": s("A human-readable message on why the pod is in this state."),
        "reason": s("A brief CamelCase reason why the pod is in this state, e.g. Evicted."),
        "nominatedNodeName": s("Node the pod may be scheduled on once preemption of other pods completes."),
        "hostIP": s("IP address of the node the pod is on."),
        "hostIPs": lst(CORE + "HostIP", "IP addresses of the node the pod is on.", strategy="merge", key="ip"),
        "podIP": s("IP address allocated to the pod; routable at least within the cluster."),
        "podIPs": lst(CORE + "PodIP", "IP addresses of the pod, one per address family.", strategy="merge",
                      key="ip", keys=("ip",)),
        "startTime": t("When the node agent acknowledged the pod, before its images were pulled."),
        "initContainerStatuses": lst(CORE + "ContainerStatus", "Status of each init container."),
        "containerStatuses": lst(CORE + "ContainerStatus", "Status of each container."),
        "qosClass": s("Quality of service class assigned from the resource requirements.",
                      enum=("BestEffort", "Burstable", "Guaranteed")),
        "ephemeralContainerStatuses": lst(CORE + "ContainerStatus", "Status of each ephemeral container."),
        "resize": s("Status of an in-place resize of the pod's resources."),
        "resourceClaimStatuses": by_name(CORE + "PodResourceClaimStatus", "Status of the pod's resource claims.",
                                         strategy="merge,retainKeys"),
    },
    CORE + "PodCondition": condition_fields("pod", probe_time=True),
    CORE + "PodIP": {"ip": s("An IP address of the pod.", req=True)},
    CORE + "HostIP": {"ip": s("An IP address of the host.", req=True)},
    CORE + "ContainerStatus": {
        "name": s("Name of the container, as in the pod spec.", req=True),
        "state": ref(CORE + "ContainerState", "Details of the container's current condition."),
        "lastState": ref(CORE + "ContainerState", "Details of the container's last termination."),
        "ready": b("Whether the container passes its readiness probe.", req=True),
        "restartCount": i32("Number of times the container has been restarted.", req=True),
        "image": s("Name of the image the container runs.", req=True),
        "imageID": s("ID of the image the container runs.", req=True),
        "containerID": s("ID of the container in the runtime, as <type>://<id>."),
        "started": b("Whether the container has passed its startup probe (or has none) and is running."),
        "allocatedResources": qmap("Compute resources allocated to the container by the node."),
        "resources": ref(CORE + "ResourceRequirements", "Compute resources actually configured."),
        "volumeMounts": lst(CORE + "VolumeMountStatus", "Status of the container's volume mounts.",
                            strategy="merge", key="mountPath", keys=("mountPath",)),
        "user": ref(CORE + "ContainerUser", "Identity of the container's first process."),
        "allocatedResourcesStatus": by_name(CORE + "ResourceStatus", "Health of the resources allocated to "
                                            "the container."),
    },
    CORE + "ContainerState": {
        "waiting": ref(CORE + "ContainerStateWaiting", "Details about a waiting container."),
        "running": ref(CORE + "ContainerStateRunning", "Details about a running container."),
        "terminated": ref(CORE + "ContainerStateTerminated", "Details about a terminated container."),
    },
    CORE + "ContainerStateWaiting": {
        "reason": s("Brief reason the container is not yet running, e.g. ContainerCreating, ImagePullBackOff."),
        "message": s("Details about why the container is not yet running."),
    },
    CORE + "ContainerStateRunning": {
        "startedAt": t("When the container was last (re)started."),
    },
    CORE + "ContainerStateTerminated": {
        "exitCode": i32("Exit status of the container's last termination.", req=True),
        "signal": i32("Signal of the container's last termination."),
        "reason": s("Brief reason of the last termination, e.g. Completed, Error, OOMKilled."),
        "message": s("Details about the last termination."),
        "startedAt": t("When the container last started."),
        "finishedAt": t("When the container last terminated."),
        "containerID": s("ID of the container, as <type>://<id>."),
    },
    CORE + "VolumeMountStatus": {
        "name": s("Name of the volume mount.", req=True),
        "mountPath": s("Path of the mount.", req=True),
        "readOnly": b("Whether the mount is read-only."),
        "recursiveReadOnly": s("Whether the read-only mount is recursive.", enum=("Disabled", "Enabled")),
    },
    CORE + "ContainerUser": {
        "linux": ref(CORE + "LinuxContainerUser", "Identity on Linux."),
    },
    CORE + "LinuxContainerUser": {
        "uid": i64("Primary UID of the container's first process.", req=True),
        "gid": i64("Primary GID of the container's first process.", req=True),
        "supplementalGroups": lst("integer", "Supplementary groups of the container's first process.",
                                  fmt="int64"),
    },
    CORE + "ResourceStatus": {
        "name": s("Name of the resource.", req=True),
        "resources": lst(CORE + "ResourceHealth", "Health of each allocated resource.", keys=("resourceID",)),
    },
    CORE + "ResourceHealth": {
        "resourceID": s("Unique identifier of the resource.", req=True),
        "health": s("Health of the resource.", enum=("Healthy", "Unhealthy", "Unknown")),
    },
    CORE + "PodResourceClaimStatus": {
        "name": s("Name of the entry in spec.resourceClaims.", req=True),
        "resourceClaimName": s("Name of the ResourceClaim generated for the pod."),
    },
    CORE + "Binding": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "target": ref(CORE + "ObjectReference", "The object to bind to (a Node).", req=True),
    },
    CORE + "ObjectReference": {
        "kind": s("Kind of the referent."),
        "namespace": s("Namespace of the referent."),
        "name": s("Name of the referent."),
        "uid": s("UID of the referent."),
        "apiVersion": s("API version of the referent."),
        "resourceVersion": s("Specific resourceVersion the reference is to, if any."),
        "fieldPath": s("A part of the object instead of the whole, e.g. spec.containers{name}."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Pod": "A collection of containers that run together on a host. Created by clients and scheduled "
                  "onto nodes.",
    CORE + "PodSpec": "A description of a pod.",
    CORE + "PodTemplateSpec": "The template from which pods are created.",
    CORE + "PodStatus": "Information about the status of a pod. It may lag the actual state of the system.",
    CORE + "PodCondition": "Details about the current condition of the pod.",
    CORE + "PodIP": "An IP address allocated to the pod.",
    CORE + "HostIP": "An IP address allocated to the host.",
    CORE + "ContainerStatus": "Details about the current status of one container.",
    CORE + "ContainerState": "The possible states of a container; exactly one field is set, none means "
                             "waiting.",
    CORE + "ContainerStateWaiting": "A waiting container.",
    CORE + "ContainerStateRunning": "A running container.",
    CORE + "ContainerStateTerminated": "A terminated container.",
    CORE + "VolumeMountStatus": "Status of a volume mount.",
    CORE + "ContainerUser": "Identity of the container's first process.",
    CORE + "LinuxContainerUser": "Identity of the container's first process on Linux.",
    CORE + "ResourceStatus": "Health of a kind of allocated resource.",
    CORE + "ResourceHealth": "Health of one allocated resource.",
    CORE + "PodResourceClaimStatus": "Status of a pod resource claim.",
    CORE + "Binding": "Ties one object to another, e.g. a pod to the node the scheduler chose.",
    CORE + "ObjectReference": "A reference to another object, with enough to find it.",
}
