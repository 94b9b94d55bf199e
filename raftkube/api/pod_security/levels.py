"""Pod Security levels, versions and the policy a namespace's labels ask for.

A namespace names a level (privileged < baseline < restricted) and a version (`latest` or
`v1.<minor>`) for each of three modes: `pod-security.kubernetes.io/enforce` (pods that violate
it are refused), `warn` (the response carries a warning) and `audit` (recorded; raftkube has
no audit annotations yet, so the label is only validated). Labels not set take the server's
default; an invalid enforce level is read as restricted (fail closed), an invalid warn or audit
level as privileged, an invalid version as latest, and a namespace cannot be written with one
(422), as Kubernetes' `PolicyToEvaluate`. A valid `enforce` label also sets warn and audit where
their labels are not set. Kubernetes only raises warn to a stricter enforce, which is the same
thing under its default (privileged everywhere); under raftkube's stricter default (baseline) it
means a namespace labelled `enforce=privileged` is not warned about on every pod it asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ..errors import Cause

PRIVILEGED, BASELINE, RESTRICTED = "privileged", "baseline", "restricted"
LEVELS = (PRIVILEGED, BASELINE, RESTRICTED)  # least to most strict
LATEST_MINOR = 32  # the Kubernetes version this server is (raftkube/api/discovery.py): what "latest" means
LABEL_PREFIX = "pod-security.kubernetes.io/"
MODES = ("enforce", "audit", "warn")
_VERSION = re.compile(r"^v1\.(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class LevelVersion:
    level: str
    version: str = "latest"  # "latest" or "v1.<minor>"

    @property
    def minor(self) -> int:
        """The minor version whose checks apply (later than this server's: this server's)."""
        if self.version == "latest":
            return LATEST_MINOR
        return min(int(self.version.removeprefix("v1.")), LATEST_MINOR)

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


@dataclass(frozen=True)
class Policy:
    enforce: LevelVersion
    audit: LevelVersion
    warn: LevelVersion

    @classmethod
    def uniform(cls, level: str) -> Policy:
        lv = LevelVersion(level)
        return cls(lv, lv, lv)


def strictness(level: str) -> int:
    return LEVELS.index(level)


def _level(value: str, on_error: str, label: str, errors: list[Cause]) -> str:
    if value in LEVELS:
        return value
    errors.append(Cause(f"metadata.labels[{label}]",
                        f'Invalid value: "{value}": must be one of {", ".join(LEVELS)}'))
    return on_error


def _version(value: str, label: str, errors: list[Cause]) -> str:
    if value == "latest" or _VERSION.match(value):
        return value
    errors.append(Cause(f"metadata.labels[{label}]", f'Invalid value: "{value}": must be "latest" or "v1.x"'))
    return "latest"


def policy_from_labels(labels: dict[str, str] | None, default: Policy) -> tuple[Policy, list[Cause]]:
    """The policy to evaluate for a namespace with these labels, and what is wrong with them."""
    labels = labels or {}
    errors: list[Cause] = []
    modes = {"enforce": default.enforce, "audit": default.audit, "warn": default.warn}
    on_error = {"enforce": RESTRICTED, "audit": PRIVILEGED, "warn": PRIVILEGED}  # fail closed, fail open
    for mode in MODES:
        level_label, version_label = LABEL_PREFIX + mode, LABEL_PREFIX + mode + "-version"
        if level_label in labels:
            modes[mode] = replace(modes[mode], level=_level(labels[level_label], on_error[mode], level_label, errors))
        if version_label in labels:
            modes[mode] = replace(modes[mode], version=_version(labels[version_label], version_label, errors))
    if labels.get(LABEL_PREFIX + "enforce") in LEVELS:  # an explicit, valid enforce level: unset modes follow it
        for mode in ("warn", "audit"):
            if LABEL_PREFIX + mode not in labels:
                pinned = LABEL_PREFIX + mode + "-version" in labels
                version = modes[mode].version if pinned else modes["enforce"].version
                modes[mode] = LevelVersion(modes["enforce"].level, version)
    return Policy(modes["enforce"], modes["audit"], modes["warn"]), errors
