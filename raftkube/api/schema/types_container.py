"""core/v1 container types: Container, ports, environment, resources, volume mounts."""

from __future__ import annotations

from .build import CORE, b, by_name, i32, lst, q, qmap, ref, s, strs
from .model import TypeFields

PROTOCOL = ("SCTP", "TCP", "UDP")

CONTAINER_FIELDS: TypeFields = {
    "name": s("Name of the container, a DNS label unique within the pod. Cannot be updated.", req=True),
    "image": s("Container image name, e.g. nginx:1.27 or registry.example/app@sha256:...; workload controllers "
               "may leave it empty and fill it in from a template."),
    "command": strs("Entrypoint array, run without a shell. Replaces the image's ENTRYPOINT; $(VAR) references "
                    "to container environment variables are expanded. Cannot be updated."),
    "args": strs("Arguments to the entrypoint. Replaces the image's CMD; $(VAR) references are expanded. "
                 "Cannot be updated."),
    "workingDir": s("The container's working directory; defaults to the image's. Cannot be updated."),
    "ports": lst(CORE + "ContainerPort", "Network ports the container exposes. Informational: any port the "
                 "process listens on is reachable. Cannot be updated.", strategy="merge", key="containerPort",
                 keys=("containerPort", "protocol")),
    "envFrom": lst(CORE + "EnvFromSource", "Sources (ConfigMaps, Secrets) whose keys become environment "
                   "variables. Keys defined in `env` win over these. Cannot be updated."),
    "env": by_name(CORE + "EnvVar", "Environment variables to set in the container. Cannot be updated."),
    "resources": ref(CORE + "ResourceRequirements", "Compute resources (cpu, memory) the container requests "
                     "and is limited to."),
    "resizePolicy": lst(CORE + "ContainerResizePolicy", "How each resource of the container is resized in place."),
    "restartPolicy": s("Only for init containers: Always makes it a sidecar that keeps running next to the "
                       "regular containers.", enum=("Always",)),
    "volumeMounts": lst(CORE + "VolumeMount", "Pod volumes to mount into the container's filesystem. Cannot be "
                        "updated.", strategy="merge", key="mountPath", keys=("mountPath",)),
    "volumeDevices": lst(CORE + "VolumeDevice", "Block devices the container uses.", strategy="merge",
                         key="devicePath", keys=("devicePath",)),
    "livenessProbe": ref(CORE + "Probe", "Periodic probe of container liveness; the container is restarted "
                         "when it fails. Cannot be updated."),
    "readinessProbe": ref(CORE + "Probe", "Periodic probe of container readiness; the pod is removed from "
                          "service endpoints while it fails. Cannot be updated."),
    "startupProbe": ref(CORE + "Probe", "Probe that must succeed once before the other probes start; the "
                        "container is restarted if it keeps failing. Cannot be updated."),
    "lifecycle": ref(CORE + "Lifecycle", "Actions the system takes in response to container lifecycle events. "
                     "Cannot be updated."),
    "terminationMessagePath": s("File in the container whose content is written into the container status "
                                "message when it terminates. Defaults to /dev/termination-log."),
    "terminationMessagePolicy": s("How the termination message is filled in: File, or FallbackToLogsOnError "
                                  "to use the end of the log when the file is empty.",
                                  enum=("FallbackToLogsOnError", "File")),
    "imagePullPolicy": s("When to pull the image: Always, Never or IfNotPresent. Defaults to Always for the "
                         ":latest tag, IfNotPresent otherwise. Cannot be updated.",
                         enum=("Always", "IfNotPresent", "Never")),
    "securityContext": ref(CORE + "SecurityContext", "Security options the container runs with; they "
                           "override the pod's securityContext."),
    "stdin": b("Allocate a buffer for stdin in the container runtime. Default false."),
    "stdinOnce": b("Close stdin after the first attach session ends. Default false."),
    "tty": b("Allocate a TTY for the container (needs stdin). Default false."),
}

TYPES: dict[str, TypeFields] = {
    CORE + "Container": CONTAINER_FIELDS,
    CORE + "EphemeralContainer": {
        **CONTAINER_FIELDS,
        "targetContainerName": s("Name of the container whose namespaces (process, IPC, ...) the ephemeral "
                                 "container shares. Cannot be updated."),
    },
    CORE + "ContainerPort": {
        "name": s("An IANA_SVC_NAME unique within the pod that services can refer to."),
        "hostPort": i32("Port to expose on the host (1-65535); rarely needed."),
        "containerPort": i32("Port number exposed on the pod's IP address (1-65535).", req=True),
        "protocol": s("Protocol of the port: TCP (default), UDP or SCTP.", enum=PROTOCOL),
        "hostIP": s("Host IP to bind the host port to."),
    },
    CORE + "EnvVar": {
        "name": s("Name of the environment variable.", req=True),
        "value": s("Value of the variable; $(VAR) references to earlier variables are expanded, $$ escapes. "
                   "Defaults to \"\"."),
        "valueFrom": ref(CORE + "EnvVarSource", "Source of the value; cannot be used together with value."),
    },
    CORE + "EnvVarSource": {
        "fieldRef": ref(CORE + "ObjectFieldSelector", "A field of the pod: metadata.name, metadata.namespace, "
                        "metadata.labels['<key>'], spec.nodeName, status.podIP, ..."),
        "resourceFieldRef": ref(CORE + "ResourceFieldSelector", "A resource limit or request of the container: "
                                "limits.cpu, requests.memory, ..."),
        "configMapKeyRef": ref(CORE + "ConfigMapKeySelector", "A key of a ConfigMap in the pod's namespace."),
        "secretKeyRef": ref(CORE + "SecretKeySelector", "A key of a Secret in the pod's namespace."),
    },
    CORE + "ObjectFieldSelector": {
        "apiVersion": s("Version of the schema the field path is written in; defaults to v1."),
        "fieldPath": s("Path of the field to select, in that version.", req=True),
    },
    CORE + "ResourceFieldSelector": {
        "containerName": s("Container name; required for volumes, optional for environment variables."),
        "resource": s("Resource to select, e.g. limits.cpu.", req=True),
        "divisor": q("Output format of the exposed resources; defaults to 1."),
    },
    CORE + "ConfigMapKeySelector": {
        "name": s("Name of the ConfigMap."),
        "key": s("The key to select.", req=True),
        "optional": b("Whether the ConfigMap or its key may be missing."),
    },
    CORE + "SecretKeySelector": {
        "name": s("Name of the Secret."),
        "key": s("The key of the secret to select; must be a valid secret key.", req=True),
        "optional": b("Whether the Secret or its key may be missing."),
    },
    CORE + "EnvFromSource": {
        "prefix": s("An identifier prepended to each key of the source, e.g. APP_."),
        "configMapRef": ref(CORE + "ConfigMapEnvSource", "The ConfigMap to take variables from."),
        "secretRef": ref(CORE + "SecretEnvSource", "The Secret to take variables from."),
    },
    CORE + "ConfigMapEnvSource": {
        "name": s("Name of the ConfigMap."),
        "optional": b("Whether the ConfigMap may be missing."),
    },
    CORE + "SecretEnvSource": {
        "name": s("Name of the Secret."),
        "optional": b("Whether the Secret may be missing."),
    },
    CORE + "ResourceRequirements": {
        "limits": qmap("The most of each compute resource the container may use (e.g. cpu: 500m, memory: "
                       "256Mi)."),
        "requests": qmap("The least of each compute resource the container needs; the scheduler places pods "
                         "by requests. Defaults to the limits when only those are given."),
        "claims": lst(CORE + "ResourceClaim", "Names of resource claims from spec.resourceClaims that the "
                      "container uses.", keys=("name",)),
    },
    CORE + "ResourceClaim": {
        "name": s("Name of an entry in pod.spec.resourceClaims.", req=True),
        "request": s("Name of a request in the claim; empty makes the whole claim available."),
    },
    CORE + "ContainerResizePolicy": {
        "resourceName": s("Name of the resource the policy applies to: cpu or memory.", req=True),
        "restartPolicy": s("What happens when the resource is resized in place.", req=True,
                           enum=("NotRequired", "RestartContainer")),
    },
    CORE + "VolumeMount": {
        "name": s("Name of the pod volume to mount.", req=True),
        "readOnly": b("Mount read-only if true, read-write otherwise (the default)."),
        "recursiveReadOnly": s("Whether read-only mounts are read-only recursively.",
                               enum=("Disabled", "Enabled", "IfPossible")),
        "mountPath": s("Path in the container at which to mount the volume; must not contain ':'.", req=True),
        "subPath": s("Path within the volume to mount instead of its root."),
        "mountPropagation": s("How mounts propagate between host and container; defaults to None.",
                              enum=("Bidirectional", "HostToContainer", "None")),
        "subPathExpr": s("Like subPath, with $(VAR) references to the container's environment expanded."),
    },
    CORE + "VolumeDevice": {
        "name": s("Name of a persistentVolumeClaim volume of the pod.", req=True),
        "devicePath": s("Path in the container the device is mapped to.", req=True),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Container": "A single application container to run within a pod.",
    CORE + "EphemeralContainer": "A temporary container added to a running pod for debugging. It has no "
                                 "resource guarantees and is never restarted.",
    CORE + "ContainerPort": "A network port of a single container.",
    CORE + "EnvVar": "An environment variable present in a container.",
    CORE + "EnvVarSource": "Where the value of an environment variable comes from.",
    CORE + "ObjectFieldSelector": "Selects a field of the pod by its path.",
    CORE + "ResourceFieldSelector": "Selects a container resource (limits or requests).",
    CORE + "ConfigMapKeySelector": "Selects a key of a ConfigMap.",
    CORE + "SecretKeySelector": "Selects a key of a Secret.",
    CORE + "EnvFromSource": "A source for a set of environment variables (ConfigMap or Secret).",
    CORE + "ConfigMapEnvSource": "A ConfigMap whose key/value pairs become environment variables.",
    CORE + "SecretEnvSource": "A Secret whose key/value pairs become environment variables.",
    CORE + "ResourceRequirements": "Compute resource requirements: requests and limits.",
    CORE + "ResourceClaim": "A reference to one entry of pod.spec.resourceClaims.",
    CORE + "ContainerResizePolicy": "The resize policy of one container resource.",
    CORE + "VolumeMount": "Mounting of a volume within a container.",
    CORE + "VolumeDevice": "Mapping of a raw block device within a container.",
}
