"""core/v1 Namespace, Service, Endpoints, ConfigMap, Secret and Event."""

from __future__ import annotations

from .build import (
    API_VERSION,
    CORE,
    KIND,
    META,
    OBJECT_META,
    b,
    condition_fields,
    conditions,
    i32,
    ios,
    kind_fields,
    lst,
    ref,
    s,
    smap,
    strs,
    t,
)
from .model import TypeFields
from .types_container import PROTOCOL

TYPES: dict[str, TypeFields] = {
    CORE + "Namespace": kind_fields(CORE + "NamespaceSpec", CORE + "NamespaceStatus"),
    CORE + "NamespaceSpec": {
        "finalizers": strs("Values that must be removed before the namespace is removed from storage."),
    },
    CORE + "NamespaceStatus": {
        "phase": s("Current lifecycle phase of the namespace.", enum=("Active", "Terminating")),
        "conditions": conditions(CORE + "NamespaceCondition", "Latest observations of the namespace's state."),
    },
    CORE + "NamespaceCondition": condition_fields("namespace"),
    CORE + "Service": kind_fields(CORE + "ServiceSpec", CORE + "ServiceStatus"),
    CORE + "ServiceSpec": {
        "ports": lst(CORE + "ServicePort", "The ports the service exposes.", strategy="merge", key="port",
                     keys=("port", "protocol")),
        "selector": smap("Routes traffic to pods whose labels match these. Without it the endpoints are "
                         "managed externally. Ignored for type ExternalName.", atomic=True),
        "clusterIP": s("The virtual IP of the service, usually assigned by the system; None makes a headless "
                       "service. Cannot be changed except to or from None."),
        "clusterIPs": strs("Cluster IPs of the service, one per IP family; the first equals clusterIP."),
        "type": s("How the service is exposed: ClusterIP (default), NodePort (also on a port of every node), "
                  "LoadBalancer or ExternalName.", enum=("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")),
        "externalIPs": strs("Extra IP addresses, not managed by the cluster, at which nodes accept traffic for "
                            "the service."),
        "sessionAffinity": s("ClientIP keeps each client on the same endpoint; None (default) does not.",
                             enum=("ClientIP", "None")),
        "loadBalancerIP": s("Deprecated: requested load balancer IP."),
        "loadBalancerSourceRanges": strs("Client CIDRs allowed through the cloud load balancer."),
        "externalName": s("DNS name returned as a CNAME for type ExternalName."),
        "externalTrafficPolicy": s("How external traffic is routed: Cluster (default) or Local (keeps client "
                                   "IPs, node-local endpoints only).", enum=("Cluster", "Local")),
        "healthCheckNodePort": i32("Health check node port, for type LoadBalancer with Local traffic policy."),
        "publishNotReadyAddresses": b("Publish endpoints of pods that are not ready."),
        "sessionAffinityConfig": ref(CORE + "SessionAffinityConfig", "Settings of session affinity."),
        "ipFamilies": strs("IP families (IPv4, IPv6) assigned to the service."),
        "ipFamilyPolicy": s("Dual-stack policy of the service.",
                            enum=("PreferDualStack", "RequireDualStack", "SingleStack")),
        "allocateLoadBalancerNodePorts": b("Whether node ports are allocated for type LoadBalancer."),
        "loadBalancerClass": s("Class of the load balancer implementation."),
        "internalTrafficPolicy": s("How traffic from inside the cluster is routed: Cluster or Local.",
                                   enum=("Cluster", "Local")),
        "trafficDistribution": s("Preference for how traffic is distributed to endpoints, e.g. PreferClose."),
    },
    CORE + "ServicePort": {
        "name": s("Name of the port, a DNS label unique within the service; required when there are several "
                  "ports."),
        "protocol": s("Protocol of the port: TCP (default), UDP or SCTP.", enum=PROTOCOL),
        "appProtocol": s("Application protocol of the port, e.g. http, kubernetes.io/h2c."),
        "port": i32("The port the service exposes.", req=True),
        "targetPort": ios("Number or name of the port on the pods; defaults to port."),
        "nodePort": i32("Port on every node for type NodePort or LoadBalancer; allocated from the node port "
                        "range when not given."),
    },
    CORE + "SessionAffinityConfig": {
        "clientIP": ref(CORE + "ClientIPConfig", "Settings of ClientIP session affinity."),
    },
    CORE + "ClientIPConfig": {
        "timeoutSeconds": i32("Seconds a ClientIP session sticks; 1-86400, default 10800."),
    },
    CORE + "ServiceStatus": {
        "loadBalancer": ref(CORE + "LoadBalancerStatus", "Status of the load balancer, if any."),
        "conditions": conditions(META + "Condition", "Current state of the service."),
    },
    CORE + "LoadBalancerStatus": {
        "ingress": lst(CORE + "LoadBalancerIngress", "Ingress points of the load balancer."),
    },
    CORE + "LoadBalancerIngress": {
        "ip": s("IP address of an IP-based ingress point."),
        "hostname": s("Host name of a DNS-based ingress point."),
        "ipMode": s("How the load balancer IP behaves.", enum=("Proxy", "VIP")),
        "ports": lst(CORE + "PortStatus", "Records of service ports."),
    },
    CORE + "PortStatus": {
        "port": i32("Port number of the service port.", req=True),
        "protocol": s("Protocol of the service port.", req=True, enum=PROTOCOL),
        "error": s("Problem with the service port, in CamelCase."),
    },
    CORE + "Endpoints": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "subsets": lst(CORE + "EndpointSubset", "Sets of addresses and ports that make up the service."),
    },
    CORE + "EndpointSubset": {
        "addresses": lst(CORE + "EndpointAddress", "Addresses of ready endpoints."),
        "notReadyAddresses": lst(CORE + "EndpointAddress", "Addresses of endpoints that are not ready."),
        "ports": lst(CORE + "EndpointPort", "Ports available on the addresses."),
    },
    CORE + "EndpointAddress": {
        "ip": s("IP address of the endpoint.", req=True),
        "hostname": s("Host name of the endpoint."),
        "nodeName": s("Node hosting the endpoint."),
        "targetRef": ref(CORE + "ObjectReference", "The object (usually a pod) providing the endpoint."),
    },
    CORE + "EndpointPort": {
        "name": s("Name of the port, matching the service port's name."),
        "port": i32("Port number of the endpoint.", req=True),
        "protocol": s("Protocol of the port: TCP (default), UDP or SCTP.", enum=PROTOCOL),
        "appProtocol": s("Application protocol of the port."),
    },
    CORE + "ConfigMap": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "immutable": b("If true, data cannot be changed, only the object deleted and recreated."),
        "data": smap("Configuration data as UTF-8 strings; keys are alphanumerics, '-', '_' or '.' and must "
                     "not also appear in binaryData."),
        "binaryData": smap("Binary configuration data, base64-encoded.", fmt="byte"),
    },
    CORE + "Secret": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "immutable": b("If true, data cannot be changed, only the object deleted and recreated."),
        "data": smap("Secret data; values are base64-encoded. Keys are alphanumerics, '-', '_' or '.'.",
                     fmt="byte"),
        "stringData": smap("Write-only convenience: plain string values merged into data on write, winning "
                           "over data. Never returned on read."),
        "type": s("Used to handle the secret data programmatically, e.g. Opaque (default), "
                  "kubernetes.io/tls, kubernetes.io/dockerconfigjson."),
    },
    CORE + "Event": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": ref(META + "ObjectMeta", OBJECT_META.description, req=True),
        "involvedObject": ref(CORE + "ObjectReference", "The object the event is about.", req=True),
        "reason": s("Short, machine-understandable reason for the object's transition, e.g. Scheduled."),
        "message": s("Human-readable description of what happened."),
        "source": ref(CORE + "EventSource", "The component reporting the event."),
        "firstTimestamp": t("When the event was first recorded."),
        "lastTimestamp": t("When the most recent occurrence was recorded."),
        "count": i32("Number of times the event has occurred."),
        "type": s("Type of the event: Normal or Warning.", enum=("Normal", "Warning")),
        "eventTime": t("When the event was first observed (microsecond precision)."),
        "series": ref(CORE + "EventSeries", "Data about the series this event belongs to, if any."),
        "action": s("What action was taken or failed with regard to the object."),
        "related": ref(CORE + "ObjectReference", "A secondary object involved, if any."),
        "reportingComponent": s("Controller that emitted the event, e.g. kubernetes.io/kubelet."),
        "reportingInstance": s("ID of the controller instance, e.g. the node name."),
    },
    CORE + "EventSource": {
        "component": s("Component the event comes from."),
        "host": s("Node name the event comes from."),
    },
    CORE + "EventSeries": {
        "count": i32("Number of occurrences in the series up to the last heartbeat."),
        "lastObservedTime": t("Time of the last occurrence observed."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Namespace": "A scope for names: most objects live in one namespace.",
    CORE + "NamespaceSpec": "The attributes of a namespace.",
    CORE + "NamespaceStatus": "The current status of a namespace.",
    CORE + "NamespaceCondition": "The state of a namespace at a point in time.",
    CORE + "Service": "A named abstraction of a software service: a stable virtual IP and ports, which the "
                      "proxy routes to the pods its selector matches.",
    CORE + "ServiceSpec": "The attributes a user creates on a service.",
    CORE + "ServicePort": "A port of a service.",
    CORE + "SessionAffinityConfig": "The settings of session affinity.",
    CORE + "ClientIPConfig": "The settings of ClientIP session affinity.",
    CORE + "ServiceStatus": "The current status of a service.",
    CORE + "LoadBalancerStatus": "The status of a load balancer.",
    CORE + "LoadBalancerIngress": "An ingress point of a load balancer.",
    CORE + "PortStatus": "The status of a service port.",
    CORE + "Endpoints": "The addresses and ports that implement a service.",
    CORE + "EndpointSubset": "A group of addresses with a common set of ports.",
    CORE + "EndpointAddress": "A single IP address of an endpoint.",
    CORE + "EndpointPort": "A port of an endpoint.",
    CORE + "ConfigMap": "Configuration data for pods to consume.",
    CORE + "Secret": "Secret data of a certain type, such as credentials or keys. Values are base64-encoded "
                     "in data.",
    CORE + "Event": "A report of an event somewhere in the cluster.",
    CORE + "EventSource": "The source of an event.",
    CORE + "EventSeries": "A series of recurring events.",
}
