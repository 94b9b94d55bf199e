"""What the local-path provisioner (control/local_path.py) and the node agents (node/local_volumes.py)
agree on: the Node annotation naming a node's volume directory, the provisioner names, and how a
volume's directory is named (`<pv>_<namespace>_<claim>`, directly under that directory, as k3s's
local-path-provisioner names them)."""

from __future__ import annotations

import re

LOCAL_PATH_DIR = "raftkube.io/local-path-dir"
PROVISIONER = "rancher.io/local-path"
PROVISIONERS = (PROVISIONER, "raftkube.io/local-path")
SELECTED_NODE = "local.path.provisioner/selected-node"
DEFAULT_CLASS = "local-path"
_DIR_NAME = re.compile(r"pvc-[0-9a-f-]{1,64}_[a-z0-9-]{1,63}_[a-z0-9.-]{1,253}")


def volume_dir_name(volume: str, namespace: str, claim: str) -> str:
    return f"{volume}_{namespace}_{claim}"


def is_volume_dir_name(name: str) -> bool:
    """A name the provisioner makes (so the agent never removes anything else)."""
    return bool(_DIR_NAME.fullmatch(name))
