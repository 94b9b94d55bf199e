"""Objects every cluster starts with: the default, kube-system, kube-public, kube-node-lease namespaces."""

from __future__ import annotations

from .errors import APIError
from .resources import find
from .router import Target
from .storage import ObjectStorage
from .writes import WriteOptions, Writer

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


async def ensure_system_namespaces(storage: ObjectStorage) -> None:
    """Create the system namespaces that are missing (safe to run on every replica at once)."""
    namespaces = find("", "v1", "namespaces")
    assert namespaces is not None
    writer = Writer(storage)
    for name in SYSTEM_NAMESPACES:
        if await storage.get_or_none(namespaces, None, name) is not None:
            continue
        body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        try:
            await writer.create(Target(namespaces, None, None), body, WriteOptions(manager="raftkube-bootstrap"))
        except APIError as err:
            if err.reason != "AlreadyExists":
                raise
