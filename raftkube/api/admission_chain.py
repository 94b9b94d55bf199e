"""Admission plugins: code that sees (and may change or refuse) every write after it is decoded.

Kubernetes' admission chain in small: each plugin gets the operation (CREATE, UPDATE, DELETE),
the resource and subresource, the new object (changed in place by mutating plugins), the
stored object, and the user who asked. Mutating plugins (`admit`) all run before validating
ones (`validate`); a plugin refuses by raising an APIError (403 Forbidden for policy, 422
Invalid for a field), and then nothing is written. The chain runs after the schema, defaults
and the kind's own validation (raftkube/api/admission.py), on the object that would be stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from .auth import User
from .errors import APIError
from .resources import Resource

Obj = dict[str, Any]


@dataclass
class AdmissionRequest:
    operation: str  # "CREATE", "UPDATE", "DELETE"
    resource: Resource
    subresource: str
    namespace: str | None
    name: str
    obj: Obj | None  # the object to store (None on DELETE); mutating plugins change it in place
    old: Obj | None  # the stored object (None on CREATE)
    user: User | None  # None: the server itself (bootstrap objects, controllers in-process)
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)  # plugins add; the response carries them (Warning headers)

    def forbidden(self, reason: str) -> APIError:
        """Kubernetes' admission refusal: `pods "x" is forbidden: <reason>` (403)."""
        resource = self.resource
        qualified = f"{resource.plural}.{resource.group}" if resource.group else resource.plural
        subject = f'{qualified} "{self.name}"' if self.name else qualified
        return APIError(403, "Forbidden", f"{subject} is forbidden: {reason}", name=self.name or None,
                        kind=resource.plural, group=resource.group or None)


class AdmissionPlugin(Protocol):
    name: str

    async def admit(self, request: AdmissionRequest) -> None:
        """Mutate `request.obj` in place, or raise an APIError to refuse."""

    async def validate(self, request: AdmissionRequest) -> None:
        """Raise an APIError to refuse; never change the object."""


class AdmissionChain:
    def __init__(self, plugins: Sequence[AdmissionPlugin] = ()) -> None:
        self.plugins = list(plugins)

    async def run(self, request: AdmissionRequest) -> None:
        for plugin in self.plugins:
            await plugin.admit(request)
        for plugin in self.plugins:
            await plugin.validate(request)
