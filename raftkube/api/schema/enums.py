"""Enum values of Kubernetes fields (`+enum` Go types), which the pinned v2 definitions do not carry.

Kubernetes' OpenAPI v3 documents list them (`enum`, and kubectl explain prints `ENUM:`); the v2
`definitions` raftkube pins give them only in prose. The generator adds these to the fields it
writes. To add one: a line here, then re-run `python -m raftkube.api.schema.generate`.
"""

from __future__ import annotations

CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CONDITION_STATUS = ("True", "False", "Unknown")

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    (APPS + "DaemonSetCondition", "status"): CONDITION_STATUS,
    (APPS + "DaemonSetUpdateStrategy", "type"): ("OnDelete", "RollingUpdate"),
    (APPS + "DeploymentCondition", "status"): CONDITION_STATUS,
    (APPS + "DeploymentStrategy", "type"): ("Recreate", "RollingUpdate"),
    (APPS + "ReplicaSetCondition", "status"): CONDITION_STATUS,
    (BATCH + "JobCondition", "status"): CONDITION_STATUS,
    (BATCH + "JobSpec", "completionMode"): ("Indexed", "NonIndexed"),
    (BATCH + "JobSpec", "podReplacementPolicy"): ("Failed", "TerminatingOrFailed"),
    (BATCH + "PodFailurePolicyOnExitCodesRequirement", "operator"): ("In", "NotIn"),
    (BATCH + "PodFailurePolicyOnPodConditionsPattern", "status"): CONDITION_STATUS,
    (BATCH + "PodFailurePolicyRule", "action"): ("Count", "FailIndex", "FailJob", "Ignore"),
    (CORE + "AppArmorProfile", "type"): ("Localhost", "RuntimeDefault", "Unconfined"),
    (CORE + "Container", "imagePullPolicy"): ("Always", "IfNotPresent", "Never"),
    (CORE + "Container", "restartPolicy"): ("Always",),
    (CORE + "Container", "terminationMessagePolicy"): ("FallbackToLogsOnError", "File"),
    (CORE + "ContainerPort", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "ContainerResizePolicy", "restartPolicy"): ("NotRequired", "RestartContainer"),
    (CORE + "EmptyDirVolumeSource", "medium"): ("", "Memory"),
    (CORE + "EndpointPort", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "EphemeralContainer", "imagePullPolicy"): ("Always", "IfNotPresent", "Never"),
    (CORE + "EphemeralContainer", "restartPolicy"): ("Always",),
    (CORE + "EphemeralContainer", "terminationMessagePolicy"): ("FallbackToLogsOnError", "File"),
    (CORE + "Event", "type"): ("Normal", "Warning"),
    (CORE + "HTTPGetAction", "scheme"): ("HTTP", "HTTPS"),
    (CORE + "HostPathVolumeSource", "type"): (
        "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate",
        "File", "FileOrCreate", "Socket"),
    (CORE + "ImageVolumeSource", "pullPolicy"): ("Always", "IfNotPresent", "Never"),
    (CORE + "LoadBalancerIngress", "ipMode"): ("Proxy", "VIP"),
    (CORE + "NamespaceCondition", "status"): CONDITION_STATUS,
    (CORE + "NamespaceStatus", "phase"): ("Active", "Terminating"),
    (CORE + "NodeAddress", "type"): ("ExternalDNS", "ExternalIP", "Hostname", "InternalDNS", "InternalIP"),
    (CORE + "NodeCondition", "status"): CONDITION_STATUS,
    (CORE + "NodeSelectorRequirement", "operator"): ("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"),
    (CORE + "NodeStatus", "phase"): ("Pending", "Running", "Terminated"),
    (CORE + "PodCondition", "status"): CONDITION_STATUS,
    (CORE + "PodOS", "name"): ("linux", "windows"),
    (CORE + "PodSecurityContext", "fsGroupChangePolicy"): ("Always", "OnRootMismatch"),
    (CORE + "PodSecurityContext", "seLinuxChangePolicy"): ("MountOption", "Recursive"),
    (CORE + "PodSecurityContext", "supplementalGroupsPolicy"): ("Merge", "Strict"),
    (CORE + "PodSpec", "dnsPolicy"): ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"),
    (CORE + "PodSpec", "preemptionPolicy"): ("Never", "PreemptLowerPriority"),
    (CORE + "PodSpec", "restartPolicy"): ("Always", "Never", "OnFailure"),
    (CORE + "PodStatus", "phase"): ("Failed", "Pending", "Running", "Succeeded", "Unknown"),
    (CORE + "PodStatus", "qosClass"): ("BestEffort", "Burstable", "Guaranteed"),
    (CORE + "PortStatus", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "ReplicationControllerCondition", "status"): CONDITION_STATUS,
    (CORE + "ResourceHealth", "health"): ("Healthy", "Unhealthy", "Unknown"),
    (CORE + "SeccompProfile", "type"): ("Localhost", "RuntimeDefault", "Unconfined"),
    (CORE + "SecurityContext", "procMount"): ("Default", "Unmasked"),
    (CORE + "ServicePort", "protocol"): ("SCTP", "TCP", "UDP"),
    (CORE + "ServiceSpec", "externalTrafficPolicy"): ("Cluster", "Local"),
    (CORE + "ServiceSpec", "internalTrafficPolicy"): ("Cluster", "Local"),
    (CORE + "ServiceSpec", "ipFamilyPolicy"): ("PreferDualStack", "RequireDualStack", "SingleStack"),
    (CORE + "ServiceSpec", "sessionAffinity"): ("ClientIP", "None"),
    (CORE + "ServiceSpec", "type"): ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"),
    (CORE + "Taint", "effect"): ("NoExecute", "NoSchedule", "PreferNoSchedule"),
    (CORE + "Toleration", "effect"): ("NoExecute", "NoSchedule", "PreferNoSchedule"),
    (CORE + "Toleration", "operator"): ("Equal", "Exists"),
    (CORE + "TopologySpreadConstraint", "nodeAffinityPolicy"): ("Honor", "Ignore"),
    (CORE + "TopologySpreadConstraint", "nodeTaintsPolicy"): ("Honor", "Ignore"),
    (CORE + "TopologySpreadConstraint", "whenUnsatisfiable"): ("DoNotSchedule", "ScheduleAnyway"),
    (CORE + "VolumeMount", "mountPropagation"): ("Bidirectional", "HostToContainer", "None"),
    (CORE + "VolumeMount", "recursiveReadOnly"): ("Disabled", "Enabled", "IfPossible"),
    (CORE + "VolumeMountStatus", "recursiveReadOnly"): ("Disabled", "Enabled"),
    (META + "Condition", "status"): CONDITION_STATUS,
    (META + "DeleteOptions", "propagationPolicy"): ("Background", "Foreground", "Orphan"),
    (META + "LabelSelectorRequirement", "operator"): ("DoesNotExist", "Exists", "In", "NotIn"),
    (META + "ManagedFieldsEntry", "operation"): ("Apply", "Update"),
}
