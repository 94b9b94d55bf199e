"""The dashboard's page and assets (anonymous, with a strict CSP) and the control-plane status endpoints
(/raftkube/v1/status, /raftkube/v1/chaos/last: authenticated, authorized as non-resource URLs)."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from raftkube.api.auth import User
from raftkube.api.control_status import newest_summary, with_lag
from raftkube.api.dashboard import STATIC

from .inproc import InProcessAPI, running_api

PLAIN = "plain-user-token"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessAPI]:
    reports = tmp_path_factory.mktemp("chaos-reports")
    with running_api(tokens={PLAIN: User("jane", "jane-uid")}, chaos_report_dir=str(reports)) as server:
        server.reports = reports  # type: ignore[attr-defined]
        yield server


def test_page_and_assets_are_anonymous_with_a_strict_policy(api: InProcessAPI) -> None:
    with api.client(token=None) as anonymous:
        redirect = anonymous.get("/dashboard")
        assert redirect.status_code == 308 and redirect.headers["location"] == "/dashboard/"
        page = anonymous.get("/dashboard/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
        for name in ("main.js", "api.js", "style.css"):
            asset = anonymous.get(f"/dashboard/{name}")
            assert asset.status_code == 200 and asset.headers["content-security-policy"] == policy
        assert anonymous.get("/dashboard/missing.js").status_code == 404
        assert anonymous.get("/dashboard/..%2Fcontrol_status.py").status_code == 404


def test_static_files_have_no_inline_script_and_never_render_html() -> None:
    html = (STATIC / "index.html").read_text()
    assert "<script>" not in html and not re.search(r"\son[a-z]+\s*=", html) and "style=" not in html
    scripts = {path.name: path.read_text() for path in STATIC.glob("*.js")}
    for name, source in scripts.items():
        assert "innerHTML" not in source and "outerHTML" not in source and "insertAdjacentHTML" not in source, name
        assert "eval(" not in source and "document.write" not in source, name
        assert "localStorage" not in source, name  # the token lives in sessionStorage only


def test_status_needs_a_token_and_a_role_that_names_the_path(api: InProcessAPI) -> None:
    with api.client(token=None) as anonymous:
        assert anonymous.get("/raftkube/v1/status").status_code == 401
    with api.client(token=PLAIN) as jane:
        refused = jane.get("/raftkube/v1/status")
        assert refused.status_code == 403
        assert refused.json()["message"] == 'forbidden: User "jane" cannot get path "/raftkube/v1/status"'
        assert jane.get("/raftkube/v1/chaos/last").status_code == 403
    with api.client() as admin:
        status = admin.get("/raftkube/v1/status").json()
    assert status["state"] == "leader" and status["leader"] == status["self"] and status["term"] >= 1
    [member] = status["members"]
    assert member["self"] and member["leader"] and member["lag"] == 0


def test_chaos_last_serves_the_newest_summary_or_says_why_not(api: InProcessAPI) -> None:
    reports: Path = api.reports  # type: ignore[attr-defined]
    with api.client() as admin:
        missing = admin.get("/raftkube/v1/chaos/last")
        assert missing.status_code == 404 and "python -m chaos run" in missing.json()["message"]
        for name, scenario, age in (("old", "partition", 100), ("new", "leader-kill", 0)):
            (reports / name).mkdir()
            path = reports / name / "summary.json"
            path.write_text(json.dumps({"scenario": scenario, "write_gaps": []}))
            os.utime(path, (time.time() - age, time.time() - age))
        last = admin.get("/raftkube/v1/chaos/last").json()
        assert last["scenario"] == "leader-kill" and last["path"].endswith("new/summary.json")
        (reports / "new" / "summary.json").write_text("[not json")
        broken = admin.get("/raftkube/v1/chaos/last")
        assert broken.status_code == 500 and "cannot read the chaos summary" in broken.json()["message"]


def test_without_a_report_directory_the_answer_names_the_flag() -> None:
    with running_api() as server, server.client() as admin:
        answer = admin.get("/raftkube/v1/chaos/last")
    assert answer.status_code == 404 and "--chaos-report-dir" in answer.json()["message"]


def test_lag_is_known_on_the_leader_and_for_the_replica_itself() -> None:
    leader = with_lag({"state": "leader", "leader": "a", "commit_index": 50, "applied_index": 49, "members": [
        {"address": "a", "self": True}, {"address": "b", "self": False, "match_index": 47},
        {"address": "c", "self": False, "match_index": None}]})
    assert [(m["address"], m["leader"], m["lag"]) for m in leader["members"]] == [
        ("a", True, 1), ("b", False, 3), ("c", False, None)]
    follower = with_lag({"state": "follower", "leader": "a", "commit_index": 50, "applied_index": 50, "members": [
        {"address": "b", "self": True}, {"address": "a", "self": False, "match_index": 10}]})
    assert [(m["address"], m["leader"], m["lag"]) for m in follower["members"]] == [("b", False, 0), ("a", True, None)]


def test_newest_summary_is_none_for_a_missing_directory(tmp_path: Path) -> None:
    assert newest_summary(str(tmp_path / "absent")) is None
    assert newest_summary(str(tmp_path)) is None
    (tmp_path / "summary.json").write_text("{}")
    assert newest_summary(str(tmp_path)) == str(tmp_path / "summary.json")
