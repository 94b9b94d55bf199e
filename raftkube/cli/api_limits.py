"""The API server's limit and audit flags (kube-apiserver's names), shared by `raftkube server`.

`limit_options` adds the flags; `ApiLimits.from_flags` checks them (a bad value is a usage error
naming the flag) and turns them into the FairnessConfig, the connection-guard protocol, the
store's quota and the AuditLog the server runs with. Defaults and why: raftkube/api/fairness.py,
raftkube/api/connection_guard.py, raftkube/store/quota.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from ..api import connection_guard as guard
from ..api.fairness import FairnessConfig
from ..store.quota import DEFAULT_QUOTA_BYTES

_DEFAULTS = FairnessConfig()

_OPTIONS: list[tuple[str, dict[str, Any]]] = [
    ("--max-requests-inflight", {"default": _DEFAULTS.max_requests_inflight, "type": click.IntRange(min=0),
                                 "help": "Read-only requests served at once (watches not counted); 0: no limit."}),
    ("--max-mutating-requests-inflight", {"default": _DEFAULTS.max_mutating_requests_inflight,
                                          "type": click.IntRange(min=0),
                                          "help": "Writes served at once; 0: no limit."}),
    ("--max-watches", {"default": _DEFAULTS.max_watches, "type": click.IntRange(min=0),
                       "help": "Watches open on this API server; 0: no limit."}),
    ("--max-watches-per-user", {"default": _DEFAULTS.max_watches_per_user, "type": click.IntRange(min=0),
                                "help": "Watches one user may hold open (system:masters exempt); 0: no limit."}),
    ("--request-header-timeout", {"default": guard.HEAD_TIMEOUT, "type": click.FloatRange(min=0.1),
                                  "help": "Seconds a connection may take to send a complete request head."}),
    ("--request-body-timeout", {"default": guard.BODY_TIMEOUT, "type": click.FloatRange(min=0.1),
                                "help": "Seconds a request body may take after its head."}),
    ("--max-connections", {"default": guard.MAX_CONNECTIONS, "type": click.IntRange(min=1),
                           "help": "Open connections to the API port; more are closed at once."}),
    ("--quota-backend-bytes", {"default": DEFAULT_QUOTA_BYTES, "type": click.IntRange(min=1024 * 1024),
                               "help": "The store's byte quota (logical size); writes past it are refused."}),
    ("--audit-log-path", {"default": None, "type": click.Path(dir_okay=False),
                          "help": "Write audit events (JSON lines, audit.k8s.io/v1) to this file (0600)."}),
    ("--audit-policy-file", {"default": None, "type": click.Path(exists=True, dir_okay=False),
                             "help": "Audit Policy (audit.k8s.io/v1); without it every request at Metadata."}),
    ("--audit-log-maxsize", {"default": 100, "type": click.IntRange(min=0),
                             "help": "Megabytes before the audit log is rotated; 0: never."}),
    ("--audit-log-maxbackup", {"default": 10, "type": click.IntRange(min=0),
                               "help": "Rotated audit logs to keep."}),
]


def limit_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for name, kwargs in reversed(_OPTIONS):
        fn = click.option(name, show_default=True, **kwargs)(fn)
    return fn


DEFAULT_FLAGS = {name.removeprefix("--").replace("-", "_"): kwargs["default"] for name, kwargs in _OPTIONS}


@dataclass
class ApiLimits:
    fairness: FairnessConfig
    protocol: type
    quota_backend_bytes: int
    audit_log_path: str | None
    audit_policy_file: str | None
    audit_log_maxsize: int
    audit_log_maxbackup: int

    @classmethod
    def from_flags(cls, given: dict[str, Any]) -> ApiLimits:
        flags = {**DEFAULT_FLAGS, **given}
        if flags["audit_policy_file"] and not flags["audit_log_path"]:
            raise click.UsageError("--audit-policy-file needs --audit-log-path (where the events go)")
        if flags["audit_policy_file"]:
            from ..api.audit_policy import PolicyError, load_policy
            try:
                load_policy(flags["audit_policy_file"])
            except (PolicyError, OSError) as err:
                raise click.BadParameter(str(err), param_hint="--audit-policy-file") from None
        fairness = FairnessConfig(flags["max_requests_inflight"], flags["max_mutating_requests_inflight"],
                                  max_watches=flags["max_watches"], max_watches_per_user=flags["max_watches_per_user"])
        protocol = guard.guarded_protocol(flags["request_header_timeout"], flags["request_body_timeout"],
                                          max_connections=flags["max_connections"])
        return cls(fairness, protocol, flags["quota_backend_bytes"], flags["audit_log_path"],
                   flags["audit_policy_file"], flags["audit_log_maxsize"], flags["audit_log_maxbackup"])

    def open_audit_log(self) -> Any:
        """The AuditLog, or None without --audit-log-path."""
        if not self.audit_log_path:
            return None
        from ..api.audit import AuditLog
        from ..api.audit_policy import load_policy

        policy = load_policy(self.audit_policy_file) if self.audit_policy_file else None
        return AuditLog(self.audit_log_path, policy, self.audit_log_maxsize, self.audit_log_maxbackup)
