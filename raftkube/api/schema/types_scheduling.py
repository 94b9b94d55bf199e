"""core/v1 scheduling types: affinity, tolerations, topology spread, DNS, host aliases, gates."""

from __future__ import annotations

from .build import CORE, META, i32, i64, lst, ref, s, strs
from .model import TypeFields

REQUIRED = ("Rules that must hold for the pod to be scheduled on a node. If they stop holding later, the pod "
            "stays where it is.")
PREFERRED = ("The scheduler prefers nodes that satisfy these, weighted: the node with the greatest sum of "
             "weights of matching terms wins. It may still choose a node that violates them.")

TYPES: dict[str, TypeFields] = {
    CORE + "Affinity": {
        "nodeAffinity": ref(CORE + "NodeAffinity", "Node affinity scheduling rules for the pod."),
        "podAffinity": ref(CORE + "PodAffinity", "Rules to place the pod in the same topology domain (node, "
                           "zone, ...) as other pods."),
        "podAntiAffinity": ref(CORE + "PodAntiAffinity", "Rules to keep the pod out of the topology domain "
                               "of other pods."),
    },
    CORE + "NodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": ref(CORE + "NodeSelector", REQUIRED),
        "preferredDuringSchedulingIgnoredDuringExecution": lst(CORE + "PreferredSchedulingTerm", PREFERRED),
    },
    CORE + "NodeSelector": {
        "nodeSelectorTerms": lst(CORE + "NodeSelectorTerm", "Terms that are ORed: a node matches if any term "
                                 "matches.", req=True),
    },
    CORE + "NodeSelectorTerm": {
        "matchExpressions": lst(CORE + "NodeSelectorRequirement", "Requirements on node labels; all must hold."),
        "matchFields": lst(CORE + "NodeSelectorRequirement", "Requirements on node fields; all must hold."),
    },
    CORE + "NodeSelectorRequirement": {
        "key": s("The label key (or field name) the requirement applies to.", req=True),
        "operator": s("How the key relates to the values.", req=True,
                      enum=("DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn")),
        "values": strs("Values for In and NotIn (non-empty), a single integer for Gt and Lt, empty for Exists "
                       "and DoesNotExist."),
    },
    CORE + "PreferredSchedulingTerm": {
        "weight": i32("Weight of this term, 1-100.", req=True),
        "preference": ref(CORE + "NodeSelectorTerm", "A node selector term.", req=True),
    },
    CORE + "PodAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": lst(CORE + "PodAffinityTerm", REQUIRED),
        "preferredDuringSchedulingIgnoredDuringExecution": lst(CORE + "WeightedPodAffinityTerm", PREFERRED),
    },
    CORE + "PodAntiAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": lst(CORE + "PodAffinityTerm", REQUIRED),
        "preferredDuringSchedulingIgnoredDuringExecution": lst(CORE + "WeightedPodAffinityTerm", PREFERRED),
    },
    CORE + "PodAffinityTerm": {
        "labelSelector": ref(META + "LabelSelector", "Query over the pods this term is about."),
        "namespaces": strs("Namespaces the label selector applies to; empty means the pod's own namespace."),
        "topologyKey": s("Node label whose value defines the topology domain, e.g. kubernetes.io/hostname.",
                         req=True),
        "namespaceSelector": ref(META + "LabelSelector", "Query over namespaces the label selector applies "
                                 "to, in addition to `namespaces`; {} matches all namespaces."),
        "matchLabelKeys": strs("Label keys whose values are taken from the incoming pod and ANDed into "
                               "labelSelector."),
        "mismatchLabelKeys": strs("Label keys whose values are taken from the incoming pod and added to "
                                  "labelSelector as NotIn."),
    },
    CORE + "WeightedPodAffinityTerm": {
        "weight": i32("Weight of this term, 1-100.", req=True),
        "podAffinityTerm": ref(CORE + "PodAffinityTerm", "A pod affinity term.", req=True),
    },
    CORE + "Toleration": {
        "key": s("Taint key the toleration applies to; empty with operator Exists matches every taint."),
        "operator": s("How the key relates to the value: Equal (default) or Exists (any value).",
                      enum=("Equal", "Exists")),
        "value": s("Taint value the toleration matches; empty for operator Exists."),
        "effect": s("Taint effect to match; empty matches every effect.",
                    enum=("NoExecute", "NoSchedule", "PreferNoSchedule")),
        "tolerationSeconds": i64("For NoExecute: how long the pod stays bound after the taint appears; unset "
                                 "means forever."),
    },
    CORE + "TopologySpreadConstraint": {
        "maxSkew": i32("The most the number of matching pods may differ between topology domains.", req=True),
        "topologyKey": s("Node label key whose values define the topology domains.", req=True),
        "whenUnsatisfiable": s("What to do with a pod that cannot satisfy the constraint.", req=True,
                               enum=("DoNotSchedule", "ScheduleAnyway")),
        "labelSelector": ref(META + "LabelSelector", "Finds the pods counted in each domain."),
        "minDomains": i32("Minimum number of eligible domains."),
        "nodeAffinityPolicy": s("Whether the pod's node affinity is honoured when computing skew.",
                                enum=("Honor", "Ignore")),
        "nodeTaintsPolicy": s("Whether node taints are honoured when computing skew.", enum=("Honor", "Ignore")),
        "matchLabelKeys": strs("Pod label keys whose values are added to the label selector."),
    },
    CORE + "HostAlias": {
        "ip": s("IP address of the host file entry.", req=True),
        "hostnames": strs("Host names for that IP address."),
    },
    CORE + "PodDNSConfig": {
        "nameservers": strs("DNS name server IP addresses, added to those of the DNS policy."),
        "searches": strs("DNS search domains, added to those of the DNS policy."),
        "options": lst(CORE + "PodDNSConfigOption", "DNS resolver options, merged with those of the DNS policy."),
    },
    CORE + "PodDNSConfigOption": {
        "name": s("Name of the resolver option."),
        "value": s("Value of the resolver option."),
    },
    CORE + "PodReadinessGate": {
        "conditionType": s("A condition type in the pod's conditions that must be True for the pod to be "
                           "ready.", req=True),
    },
    CORE + "PodOS": {
        "name": s("Operating system the pod runs on: linux or windows.", req=True, enum=("linux", "windows")),
    },
    CORE + "PodSchedulingGate": {
        "name": s("Name of the scheduling gate; unique among the pod's gates.", req=True),
    },
    CORE + "PodResourceClaim": {
        "name": s("Name of this claim within the pod.", req=True),
        "resourceClaimName": s("Name of a ResourceClaim in the pod's namespace."),
        "resourceClaimTemplateName": s("Name of a ResourceClaimTemplate a claim is created from for the pod."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Affinity": "A group of affinity scheduling rules.",
    CORE + "NodeAffinity": "Node affinity scheduling rules.",
    CORE + "NodeSelector": "A union of node selector terms.",
    CORE + "NodeSelectorTerm": "Requirements on nodes, ANDed. A null or empty term matches no node.",
    CORE + "NodeSelectorRequirement": "A selector requirement: a key, an operator and values.",
    CORE + "PreferredSchedulingTerm": "A weighted node selector term.",
    CORE + "PodAffinity": "Inter-pod affinity scheduling rules.",
    CORE + "PodAntiAffinity": "Inter-pod anti-affinity scheduling rules.",
    CORE + "PodAffinityTerm": "A set of pods, in some namespaces, and a topology key: the pod is placed (or "
                              "not) in the same domain as those pods.",
    CORE + "WeightedPodAffinityTerm": "A pod affinity term with a weight.",
    CORE + "Toleration": "Lets the pod tolerate a taint matched by key, operator, value and effect.",
    CORE + "TopologySpreadConstraint": "How to spread matching pods among the given topology.",
    CORE + "HostAlias": "An entry of the pod's /etc/hosts file.",
    CORE + "PodDNSConfig": "DNS parameters of a pod, in addition to those of its DNS policy.",
    CORE + "PodDNSConfigOption": "A DNS resolver option.",
    CORE + "PodReadinessGate": "A pod condition that must be true for the pod to be ready.",
    CORE + "PodOS": "The operating system of a pod.",
    CORE + "PodSchedulingGate": "A gate that keeps the pod from being scheduled while present.",
    CORE + "PodResourceClaim": "A resource claim the pod uses (dynamic resource allocation).",
}
