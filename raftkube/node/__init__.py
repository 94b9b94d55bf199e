"""Layer 5: the node agent (pods on Podman or the hollow runtime), its log server and the service proxy."""
