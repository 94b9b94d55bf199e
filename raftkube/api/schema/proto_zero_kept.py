"""The scalar fields whose zero value (`""`, `0`, `false`) belongs in the JSON form of a protobuf body.

Go facts the OpenAPI spec and generated.proto do not carry: pointers (set, even to zero, when on
the wire) and fields without `omitempty`. Any other scalar that arrives with its zero value is
left out, as Go's JSON encoding would. `ZERO_KEPT[type]` is read by `proto_numbers`.
"""

from __future__ import annotations

META = "io.k8s.apimachinery.pkg.apis.meta.v1."
CORE = "io.k8s.api.core.v1."
APPS = "io.k8s.api.apps.v1."
BATCH = "io.k8s.api.batch.v1."
COORD = "io.k8s.api.coordination.v1."
AUTOSCALING = "io.k8s.api.autoscaling.v1."
RBAC = "io.k8s.api.rbac.v1."
AUTHZ = "io.k8s.api.authorization.v1."
AUTHN = "io.k8s.api.authentication.v1."

_KEPT: dict[str, str] = {
    META + "FieldSelectorRequirement": "key operator",
    APPS + "DaemonSetCondition": "status type",
    APPS + "DaemonSetSpec": "revisionHistoryLimit",
    APPS + "DaemonSetStatus": "collisionCount currentNumberScheduled desiredNumberScheduled numberMisscheduled "
        "numberReady",
    APPS + "DeploymentCondition": "status type",
    APPS + "DeploymentSpec": "progressDeadlineSeconds replicas revisionHistoryLimit",
    APPS + "DeploymentStatus": "collisionCount",
    APPS + "ReplicaSetCondition": "status type",
    APPS + "ReplicaSetSpec": "replicas",
    APPS + "ReplicaSetStatus": "replicas",
    AUTHN + "TokenRequestSpec": "expirationSeconds",
    AUTHN + "TokenRequestStatus": "token",
    AUTHZ + "SubjectAccessReviewStatus": "allowed",
    AUTHZ + "SubjectRulesReviewStatus": "incomplete",
    AUTOSCALING + "ScaleStatus": "replicas",
    BATCH + "JobCondition": "status type",
    BATCH + "JobSpec": "activeDeadlineSeconds backoffLimit backoffLimitPerIndex completionMode completions "
        "managedBy manualSelector maxFailedIndexes parallelism podReplacementPolicy suspend "
        "ttlSecondsAfterFinished",
    BATCH + "JobStatus": "failedIndexes ready terminating",
    BATCH + "PodFailurePolicyOnExitCodesRequirement": "containerName operator",
    BATCH + "PodFailurePolicyOnPodConditionsPattern": "status type",
    BATCH + "PodFailurePolicyRule": "action",
    BATCH + "SuccessPolicyRule": "succeededCount succeededIndexes",
    COORD + "LeaseSpec": "holderIdentity leaseDurationSeconds leaseTransitions preferredHolder strategy",
    CORE + "AWSElasticBlockStoreVolumeSource": "volumeID",
    CORE + "AppArmorProfile": "localhostProfile type",
    CORE + "AttachedVolume": "devicePath name",
    CORE + "AzureDiskVolumeSource": "cachingMode diskName diskURI fsType kind readOnly",
    CORE + "AzureFileVolumeSource": "secretName shareName",
    CORE + "CSIVolumeSource": "driver fsType readOnly",
    CORE + "CinderVolumeSource": "volumeID",
    CORE + "ClientIPConfig": "timeoutSeconds",
    CORE + "ClusterTrustBundleProjection": "name optional path signerName",
    CORE + "ConfigMap": "immutable",
    CORE + "ConfigMapEnvSource": "optional",
    CORE + "ConfigMapKeySelector": "key optional",
    CORE + "ConfigMapNodeConfigSource": "kubeletConfigKey name namespace",
    CORE + "ConfigMapProjection": "optional",
    CORE + "ConfigMapVolumeSource": "defaultMode optional",
    CORE + "Container": "name restartPolicy",
    CORE + "ContainerPort": "containerPort",
    CORE + "ContainerResizePolicy": "resourceName restartPolicy",
    CORE + "ContainerStateTerminated": "exitCode",
    CORE + "ContainerStatus": "image imageID name ready restartCount started",
    CORE + "DaemonEndpoint": "Port",
    CORE + "DownwardAPIVolumeFile": "mode path",
    CORE + "DownwardAPIVolumeSource": "defaultMode",
    CORE + "EndpointAddress": "ip nodeName",
    CORE + "EndpointPort": "appProtocol port",
    CORE + "EnvVar": "name",
    CORE + "EphemeralContainer": "name restartPolicy",
    CORE + "Event": "reportingComponent reportingInstance",
    CORE + "FCVolumeSource": "lun",
    CORE + "FlexVolumeSource": "driver",
    CORE + "GCEPersistentDiskVolumeSource": "pdName",
    CORE + "GRPCAction": "port service",
    CORE + "GitRepoVolumeSource": "repository",
    CORE + "GlusterfsVolumeSource": "endpoints path",
    CORE + "HTTPHeader": "name value",
    CORE + "HostAlias": "ip",
    CORE + "HostIP": "ip",
    CORE + "HostPathVolumeSource": "path type",
    CORE + "ISCSIVolumeSource": "initiatorName iqn lun targetPortal",
    CORE + "KeyToPath": "key mode path",
    CORE + "LinuxContainerUser": "gid uid",
    CORE + "LoadBalancerIngress": "ipMode",
    CORE + "NFSVolumeSource": "path server",
    CORE + "NamespaceCondition": "status type",
    CORE + "NodeAddress": "address type",
    CORE + "NodeCondition": "status type",
    CORE + "NodeFeatures": "supplementalGroupsPolicy",
    CORE + "NodeRuntimeHandler": "name",
    CORE + "NodeRuntimeHandlerFeatures": "recursiveReadOnlyMounts userNamespaces",
    CORE + "NodeSelectorRequirement": "key operator",
    CORE + "NodeSystemInfo": "architecture bootID containerRuntimeVersion kernelVersion kubeProxyVersion "
        "kubeletVersion machineID operatingSystem osImage systemUUID",
    CORE + "ObjectFieldSelector": "fieldPath",
    CORE + "PersistentVolumeClaimSpec": "storageClassName volumeAttributesClassName volumeMode",
    CORE + "PersistentVolumeClaimVolumeSource": "claimName",
    CORE + "PhotonPersistentDiskVolumeSource": "pdID",
    CORE + "PodAffinityTerm": "topologyKey",
    CORE + "PodCondition": "status type",
    CORE + "PodDNSConfigOption": "value",
    CORE + "PodIP": "ip",
    CORE + "PodOS": "name",
    CORE + "PodReadinessGate": "conditionType",
    CORE + "PodResourceClaim": "name resourceClaimName resourceClaimTemplateName",
    CORE + "PodResourceClaimStatus": "name resourceClaimName",
    CORE + "PodSchedulingGate": "name",
    CORE + "PodSecurityContext": "fsGroup fsGroupChangePolicy runAsGroup runAsNonRoot runAsUser "
        "seLinuxChangePolicy supplementalGroupsPolicy",
    CORE + "PodSpec": "activeDeadlineSeconds automountServiceAccountToken enableServiceLinks hostUsers "
        "preemptionPolicy priority runtimeClassName setHostnameAsFQDN shareProcessNamespace "
        "terminationGracePeriodSeconds",
    CORE + "PortStatus": "error port protocol",
    CORE + "PortworxVolumeSource": "volumeID",
    CORE + "PreferredSchedulingTerm": "weight",
    CORE + "Probe": "terminationGracePeriodSeconds",
    CORE + "ProjectedVolumeSource": "defaultMode",
    CORE + "QuobyteVolumeSource": "registry volume",
    CORE + "RBDVolumeSource": "image",
    CORE + "ReplicationControllerCondition": "status type",
    CORE + "ReplicationControllerSpec": "replicas",
    CORE + "ReplicationControllerStatus": "replicas",
    CORE + "ResourceClaim": "name",
    CORE + "ResourceFieldSelector": "resource",
    CORE + "ResourceHealth": "resourceID",
    CORE + "ResourceStatus": "name",
    CORE + "ScaleIOVolumeSource": "gateway system",
    CORE + "SeccompProfile": "localhostProfile type",
    CORE + "Secret": "immutable",
    CORE + "SecretEnvSource": "optional",
    CORE + "SecretKeySelector": "key optional",
    CORE + "SecretProjection": "optional",
    CORE + "SecretVolumeSource": "defaultMode optional",
    CORE + "SecurityContext": "allowPrivilegeEscalation privileged procMount readOnlyRootFilesystem runAsGroup "
        "runAsNonRoot runAsUser",
    CORE + "ServiceAccount": "automountServiceAccountToken",
    CORE + "ServiceAccountTokenProjection": "expirationSeconds path",
    CORE + "ServicePort": "appProtocol port",
    CORE + "ServiceSpec": "allocateLoadBalancerNodePorts internalTrafficPolicy ipFamilyPolicy loadBalancerClass "
        "trafficDistribution",
    CORE + "SleepAction": "seconds",
    CORE + "Sysctl": "name value",
    CORE + "Taint": "effect key",
    CORE + "Toleration": "tolerationSeconds",
    CORE + "TopologySpreadConstraint": "maxSkew minDomains nodeAffinityPolicy nodeTaintsPolicy topologyKey "
        "whenUnsatisfiable",
    CORE + "TypedLocalObjectReference": "apiGroup kind name",
    CORE + "TypedObjectReference": "apiGroup kind name namespace",
    CORE + "Volume": "name",
    CORE + "VolumeDevice": "devicePath name",
    CORE + "VolumeMount": "mountPath mountPropagation name recursiveReadOnly",
    CORE + "VolumeMountStatus": "mountPath name recursiveReadOnly",
    CORE + "VsphereVirtualDiskVolumeSource": "volumePath",
    CORE + "WeightedPodAffinityTerm": "weight",
    CORE + "WindowsSecurityContextOptions": "gmsaCredentialSpec gmsaCredentialSpecName hostProcess runAsUserName",
    RBAC + "RoleRef": "apiGroup kind name",
    RBAC + "Subject": "kind name",
    META + "Condition": "message reason status type",
    META + "DeleteOptions": "gracePeriodSeconds ignoreStoreReadErrorWithClusterBreakingPotential "
        "orphanDependents propagationPolicy",
    META + "LabelSelectorRequirement": "key operator",
    META + "ListMeta": "remainingItemCount",
    META + "ObjectMeta": "deletionGracePeriodSeconds",
    META + "OwnerReference": "blockOwnerDeletion controller name uid",
    META + "Preconditions": "resourceVersion uid",
}

ZERO_KEPT: dict[str, frozenset[str]] = {name: frozenset(fields.split()) for name, fields in _KEPT.items()}
