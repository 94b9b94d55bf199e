"""`raftkube server`'s limit and audit flags: checked up front, each bad one named."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from raftkube.api.connection_guard import GuardedHttpToolsProtocol
from raftkube.cli.api_limits import ApiLimits


def test_the_defaults_build_every_limit() -> None:
    limits = ApiLimits.from_flags({})
    assert limits.fairness.max_requests_inflight == 100 and limits.fairness.max_mutating_requests_inflight == 50
    assert issubclass(limits.protocol, GuardedHttpToolsProtocol) and limits.protocol.head_timeout == 10.0
    assert limits.quota_backend_bytes == 1024 ** 3 and limits.open_audit_log() is None


def test_flags_reach_the_limits(tmp_path: Path) -> None:
    limits = ApiLimits.from_flags({"max_requests_inflight": 7, "max_watches_per_user": 3, "request_header_timeout": 2.5,
                                   "max_connections": 9, "audit_log_path": str(tmp_path / "a" / "audit.log")})
    assert (limits.fairness.max_requests_inflight, limits.fairness.max_watches_per_user) == (7, 3)
    assert (limits.protocol.head_timeout, limits.protocol.max_connections) == (2.5, 9)
    log = limits.open_audit_log()
    try:
        assert os.stat(log.path).st_mode & 0o777 == 0o600
    finally:
        log.close()


def test_a_policy_without_a_log_path_is_a_usage_error(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Metadata}]\n")
    with pytest.raises(click.UsageError, match="--audit-log-path"):
        ApiLimits.from_flags({"audit_policy_file": str(policy)})


def test_a_bad_policy_names_the_flag_and_the_field(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Everything}]\n")
    with pytest.raises(click.BadParameter, match=r"rules\[0\]\.level") as refused:
        ApiLimits.from_flags({"audit_policy_file": str(policy), "audit_log_path": str(tmp_path / "audit.log")})
    assert refused.value.param_hint == "--audit-policy-file"
