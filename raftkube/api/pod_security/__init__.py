"""Pod Security Admission: Kubernetes' Pod Security Standards, chosen per namespace by label.

`levels` parses the labels into a policy (enforce / warn / audit, each a level and version),
`checks_baseline` and `checks_restricted` hold the standards' checks with Kubernetes' wording,
`evaluate` runs those of a level and version in Kubernetes' order, and `plugin` is the
admission plugin (`PodSecurity`) that refuses, or warns about, pods and pod templates.
"""

from .evaluate import evaluate, forbidden_detail
from .levels import BASELINE, LEVELS, PRIVILEGED, RESTRICTED, LevelVersion, Policy, policy_from_labels
from .plugin import PRIVILEGED_NAMESPACES, PodSecurity

__all__ = ["BASELINE", "LEVELS", "PRIVILEGED", "PRIVILEGED_NAMESPACES", "RESTRICTED", "LevelVersion", "Policy",
           "PodSecurity", "evaluate", "forbidden_detail", "policy_from_labels"]
