"""core/v1 Node: spec (taints, CIDRs), status (conditions, addresses, capacity, node info)."""

from __future__ import annotations

from .build import CORE, b, condition_fields, conditions, i32, i64, kind_fields, lst, obj, qmap, ref, s, strs, t
from .model import TypeFields

TYPES: dict[str, TypeFields] = {
    CORE + "Node": kind_fields(CORE + "NodeSpec", CORE + "NodeStatus", "The behaviour of the node.",
                               "The most recently observed status of the node, reported by its agent."),
    CORE + "NodeSpec": {
        "podCIDR": s("The range of pod IPs assigned to the node."),
        "podCIDRs": strs("Ranges of pod IPs assigned to the node, at most one per IP family.", lt="set",
                         strategy="merge"),
        "providerID": s("ID of the node assigned by the cloud provider, as <ProviderName>://<ProviderSpecificID>."),
        "unschedulable": b("Keeps new pods off the node (cordon)."),
        "taints": lst(CORE + "Taint", "Taints that repel pods which do not tolerate them."),
        "configSource": obj("Deprecated: dynamic kubelet configuration source."),
        "externalID": s("Deprecated. Not all kubelets set this field."),
    },
    CORE + "Taint": {
        "key": s("Taint key applied to the node.", req=True),
        "value": s("Taint value corresponding to the key."),
        "effect": s("Effect on pods that do not tolerate the taint.", req=True,
                    enum=("NoExecute", "NoSchedule", "PreferNoSchedule")),
        "timeAdded": t("When the taint was added; only for NoExecute taints."),
    },
    CORE + "NodeStatus": {
        "capacity": qmap("Total resources of the node (cpu, memory, pods, ...)."),
        "allocatable": qmap("Resources of the node available for scheduling; defaults to capacity."),
        "phase": s("Deprecated: lifecycle phase of the node.", enum=("Pending", "Running", "Terminated")),
        "conditions": conditions(CORE + "NodeCondition", "Current observed conditions: Ready, MemoryPressure, "
                                 "DiskPressure, PIDPressure, NetworkUnavailable."),
        "addresses": lst(CORE + "NodeAddress", "Addresses reachable to the node.", strategy="merge", key="type",
                         keys=("type",)),
        "daemonEndpoints": ref(CORE + "NodeDaemonEndpoints", "Endpoints of daemons running on the node."),
        "nodeInfo": ref(CORE + "NodeSystemInfo", "Ids and versions reported by the node."),
        "images": lst(CORE + "ContainerImage", "Container images on the node."),
        "volumesInUse": strs("Volumes attached and mounted on the node."),
        "volumesAttached": lst(CORE + "AttachedVolume", "Volumes attached to the node."),
        "config": obj("Status of the node's dynamic configuration (deprecated)."),
        "runtimeHandlers": lst(CORE + "NodeRuntimeHandler", "The runtime handlers available."),
        "features": ref(CORE + "NodeFeatures", "Features the node implements."),
    },
    CORE + "NodeCondition": {
        **condition_fields("node"),
        "lastHeartbeatTime": t("Last time the condition was reported."),
    },
    CORE + "NodeAddress": {
        "type": s("Type of the address.", req=True,
                  enum=("ExternalDNS", "ExternalIP", "Hostname", "InternalDNS", "InternalIP")),
        "address": s("The address.", req=True),
    },
    CORE + "NodeDaemonEndpoints": {
        "kubeletEndpoint": ref(CORE + "DaemonEndpoint", "Endpoint of the node agent."),
    },
    CORE + "DaemonEndpoint": {
        "Port": i32("Port number of the endpoint.", req=True),
    },
    CORE + "NodeSystemInfo": {
        "machineID": s("Machine ID reported by the node.", req=True),
        "systemUUID": s("System UUID reported by the node.", req=True),
        "bootID": s("Boot ID reported by the node.", req=True),
        "kernelVersion": s("Kernel version (uname -r).", req=True),
        "osImage": s("OS image, from /etc/os-release.", req=True),
        "containerRuntimeVersion": s("Container runtime version, as <runtime>://<version>.", req=True),
        "kubeletVersion": s("Version of the node agent.", req=True),
        "kubeProxyVersion": s("Deprecated: version of the service proxy.", req=True),
        "operatingSystem": s("Operating system, e.g. linux.", req=True),
        "architecture": s("Architecture, e.g. amd64.", req=True),
    },
    CORE + "ContainerImage": {
        "names": strs("Names of the image, e.g. docker.io/library/nginx:1.27."),
        "sizeBytes": i64("Size of the image in bytes."),
    },
    CORE + "AttachedVolume": {
        "name": s("Name of the attached volume.", req=True),
        "devicePath": s("Where the volume should be available.", req=True),
    },
    CORE + "NodeRuntimeHandler": {
        "name": s("Name of the runtime handler; empty for the default."),
        "features": ref(CORE + "NodeRuntimeHandlerFeatures", "Features of the handler."),
    },
    CORE + "NodeRuntimeHandlerFeatures": {
        "recursiveReadOnlyMounts": b("Whether recursive read-only mounts are supported."),
        "userNamespaces": b("Whether user namespaces are supported."),
    },
    CORE + "NodeFeatures": {
        "supplementalGroupsPolicy": b("Whether the supplementalGroupsPolicy field is honoured."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Node": "A worker machine that runs pods.",
    CORE + "NodeSpec": "The attributes a node is created with.",
    CORE + "Taint": "Repels pods that do not tolerate it from the node it is attached to.",
    CORE + "NodeStatus": "The current status of a node.",
    CORE + "NodeCondition": "A condition of a node.",
    CORE + "NodeAddress": "An address of a node.",
    CORE + "NodeDaemonEndpoints": "Ports opened by daemons on the node.",
    CORE + "DaemonEndpoint": "The port of a daemon.",
    CORE + "NodeSystemInfo": "Identifiers and versions describing the node.",
    CORE + "ContainerImage": "A container image on a node.",
    CORE + "AttachedVolume": "A volume attached to a node.",
    CORE + "NodeRuntimeHandler": "A runtime handler of the node.",
    CORE + "NodeRuntimeHandlerFeatures": "Features of a runtime handler.",
    CORE + "NodeFeatures": "Features implemented by the node.",
}
