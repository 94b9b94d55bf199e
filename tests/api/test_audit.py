"""The audit log: audit.k8s.io/v1 Events for allowed and refused requests, the policy's levels, Secrets at
Metadata whatever the policy says, no tokens, a 0600 file rotated by size, a bad policy refused by field."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raftkube.api.audit import AuditLog
from raftkube.api.audit_policy import PolicyError, parse_policy
from raftkube.api.auth import User
from raftkube.api.authz import request_attributes

from .inproc import TOKEN, InProcessAPI, running_api

POLICY = """
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: Request
  resources: [{group: "", resources: ["configmaps", "secrets"]}]
- level: Metadata
"""
BOOTSTRAP = User("system:bootstrap:abcdef", "b", ("system:bootstrappers",))


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[InProcessAPI, AuditLog]]:
    log = AuditLog(str(tmp_path_factory.mktemp("audit") / "audit.log"), parse_policy(POLICY))
    with running_api(app_options={"audit": log}, tokens={"bootstrap-token": BOOTSTRAP}) as api:
        yield api, log
    log.close()


def events(log: AuditLog) -> list[dict[str, Any]]:
    log.flush()
    return [json.loads(line) for line in Path(log.path).read_text().splitlines()]


def test_an_allowed_request_is_logged_with_its_fields(audited: tuple[InProcessAPI, AuditLog]) -> None:
    api, log = audited
    with api.client() as client:
        response = client.post("/api/v1/namespaces/default/configmaps?fieldManager=t", json={
            "metadata": {"name": "audited"}, "data": {"k": "v"}}, headers={"user-agent": "audit-test/1.0"})
        assert response.status_code == 201
        client.get("/healthz")
    event = next(e for e in events(log) if e["auditID"] == response.headers["audit-id"])
    assert event["kind"] == "Event" and event["apiVersion"] == "audit.k8s.io/v1"
    assert (event["stage"], event["level"], event["verb"]) == ("ResponseComplete", "Request", "create")
    assert event["requestURI"] == "/api/v1/namespaces/default/configmaps?fieldManager=t"
    assert event["user"]["username"] == "admin" and "system:masters" in event["user"]["groups"]
    assert event["sourceIPs"] == ["127.0.0.1"] and event["userAgent"] == "audit-test/1.0"
    assert event["objectRef"] == {"resource": "configmaps", "namespace": "default", "apiVersion": "v1"}
    assert event["responseStatus"]["code"] == 201
    assert event["requestObject"]["data"] == {"k": "v"}
    assert event["requestReceivedTimestamp"] <= event["stageTimestamp"]
    assert not any(e["requestURI"].startswith("/healthz") for e in events(log))  # level None
    assert TOKEN not in Path(log.path).read_text()
    assert os.stat(log.path).st_mode & 0o777 == 0o600


def test_refused_requests_are_logged(audited: tuple[InProcessAPI, AuditLog]) -> None:
    api, log = audited
    with api.client("no-such-token") as stranger, api.client("bootstrap-token") as bootstrap:
        unauthorized = stranger.get("/api/v1/namespaces/default/pods/p")
        forbidden = bootstrap.get("/api/v1/namespaces")
    assert (unauthorized.status_code, forbidden.status_code) == (401, 403)
    by_id = {e["auditID"]: e for e in events(log)}
    first = by_id[unauthorized.headers["audit-id"]]
    assert first["user"] == {"username": "system:anonymous", "groups": ["system:unauthenticated"]}
    assert first["responseStatus"]["code"] == 401 and first["objectRef"]["name"] == "p"
    second = by_id[forbidden.headers["audit-id"]]
    assert second["user"]["username"] == BOOTSTRAP.name and second["verb"] == "list"
    assert second["responseStatus"]["code"] == 403 and second["level"] == "Metadata"
    assert "no-such-token" not in Path(log.path).read_text()


def test_secrets_are_logged_at_metadata_whatever_the_policy(audited: tuple[InProcessAPI, AuditLog]) -> None:
    api, log = audited
    with api.client() as client:
        response = client.post("/api/v1/namespaces/default/secrets", json={
            "metadata": {"name": "s3cret"}, "stringData": {"password": "hunter2-do-not-log"}})
        assert response.status_code == 201
    event = next(e for e in events(log) if e["auditID"] == response.headers["audit-id"])
    assert event["level"] == "Metadata" and "requestObject" not in event
    assert event["objectRef"]["resource"] == "secrets"
    assert "hunter2-do-not-log" not in Path(log.path).read_text()


def test_the_log_rotates_by_size_and_keeps_its_backups(tmp_path: Path) -> None:
    log = AuditLog(str(tmp_path / "audit.log"), max_size_mb=1, max_backups=2)
    log.max_bytes = 4096
    attrs = request_attributes(User("u", "1"), "GET", "/api/v1/namespaces/default/pods/p")
    for _ in range(100):
        record = log.begin(attrs, {"path": "/api/v1/namespaces/default/pods/p", "headers": []})
        assert record is not None
        log.record(record, "ResponseComplete", 200)
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "audit.log" in names and len(names) == 3  # the live file and two backups
    assert all(os.stat(tmp_path / n).st_mode & 0o777 == 0o600 for n in names)
    assert all(os.path.getsize(tmp_path / n) <= 4096 for n in names)


@pytest.mark.parametrize("text, field", [
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: Loud}]", "rules[0].level"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, colour: red}]", "rules[0].colour"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: [{level: None, omitStages: [Later]}]",
     "rules[0].omitStages"),
    ("apiVersion: v1\nkind: ConfigMap", "kind/apiVersion"),
    ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules: []", "rules"),
])
def test_a_bad_policy_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(PolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_policy(text)


def test_policy_rules_match_users_groups_verbs_namespaces_and_subresources() -> None:
    policy = parse_policy("""
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- {level: None, users: ["system:kube-proxy"]}
- {level: None, userGroups: ["system:nodes"], verbs: [get]}
- {level: Request, resources: [{group: "", resources: ["pods/log"]}], namespaces: [prod]}
- {level: Metadata, omitStages: [ResponseStarted]}
""")
    def decide(user: User, method: str, path: str) -> str:
        return policy.decide(request_attributes(user, method, path))[0]
    assert decide(User("system:kube-proxy", ""), "GET", "/api/v1/pods") == "None"
    assert decide(User("n", "", ("system:nodes",)), "GET", "/api/v1/nodes/n") == "None"
    assert decide(User("n", "", ("system:nodes",)), "PUT", "/api/v1/nodes/n") == "Metadata"
    assert decide(User("a", ""), "GET", "/api/v1/namespaces/prod/pods/p/log") == "Request"
    assert decide(User("a", ""), "GET", "/api/v1/namespaces/dev/pods/p/log") == "Metadata"
    assert policy.decide(request_attributes(User("a", ""), "GET", "/version"))[1] == (
        "RequestReceived", "ResponseStarted")
