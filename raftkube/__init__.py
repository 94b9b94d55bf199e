"""raftkube: a Kubernetes-style control plane whose state lives in a Raft-replicated store."""

__version__ = "0.1.0"
