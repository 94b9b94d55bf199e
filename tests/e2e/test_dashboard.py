"""The web dashboard in a real browser: headless Chromium (Debian's chromium + chromium-driver) via selenium
against a 3-replica control plane with controllers and two hollow node agents.

Logs in with the admin token; the nodes page lists the nodes; a Deployment created through the API appears
without a reload (a marker set in the page survives), the UI's Scale changes its spec.replicas and its
Rollout undo puts the previous revision's template back; pods show their events and logs; the
control-plane page shows three Raft members, one leader, the Lease holders and the chaos summary; a token
bound to `view` cannot delete (the UI shows the 403). The cluster's certificate is self-signed by its own CA:
the browser runs with acceptInsecureCerts (test only). Screenshots of each page go to a pytest tmp dir; their
paths are printed (shown by `pytest -rA`).
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from raftkube.local.nodes import LocalNodes

from .cluster import E2ECluster, consecutive_free_ports, wait_until

pytestmark = pytest.mark.cluster
CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver; "
                ".ci/run installs them)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
from selenium.webdriver.common.by import By  # noqa: E402

VIEWER_TOKEN = "dashboard-viewer-token-0123456789"
NS = "dash"
WAIT = 30.0
SUMMARY = {"scenario": "leader-kill", "duration": 20.0, "ok": True, "min_gap": 0.5, "longest_gap": 0.8,
           "faults": [{"kind": "kill", "target": "s1", "start": 5.0, "end": 9.0, "detail": "leader"}],
           "failovers": [{"what": "store leader", "fault_time": 5.0, "recovered_time": 5.6, "seconds": 0.6}],
           "write_gaps": [{"start": 5.0, "seconds": 0.8}], "operations": {"ok": 900, "fail": 3, "info": 1},
           "checks": [{"name": "linearizable", "ok": True, "summary": "linearizable (904 ops)"}], "notes": []}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[E2ECluster]:
    base = tmp_path_factory.mktemp("dashboard")
    reports = base / "chaos" / "run-1"
    reports.mkdir(parents=True)
    (reports / "summary.json").write_text(json.dumps(SUMMARY))
    e2e = E2ECluster(base, controllers=True)
    e2e.plane.extra_args = ["--chaos-report-dir", str(base / "chaos")]
    nodes = LocalNodes(str(base / "nodes"), str(base / "admin.kubeconfig"), count=2, runtime="fake",
                       agent_base_port=consecutive_free_ports(2))
    nodes.provision(e2e.plane)
    e2e.plane.add_token(VIEWER_TOKEN, "viewer", "viewer-uid")
    try:
        e2e.start()
        e2e.write_kubeconfig(base / "admin.kubeconfig", 0)
        nodes.start_agents()
        admin = client(e2e)
        admin.post("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", json={
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "viewer-view"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]},
        ).raise_for_status()
        e2e.create_namespace(NS)
        yield e2e
    finally:
        for process in nodes.processes:
            process.send_signal(signal.SIGTERM)
        for process in nodes.processes:
            try:
                process.wait(10)
            except Exception:
                process.kill()
        e2e.close()


def client(e2e: E2ECluster, token: str | None = None) -> httpx.Client:
    return httpx.Client(base_url=e2e.api_url(0), verify=e2e.ssl_context(), timeout=10,
                        headers={"authorization": f"Bearer {token or e2e.token}"})


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.accept_insecure_certs = True  # the cluster's own CA signed the API's certificate (test only)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard-screenshots")


def screenshot(driver: Any, directory: Path, name: str) -> None:
    path = directory / f"{name}.png"
    driver.save_screenshot(str(path))
    print(f"screenshot {name}: {path}")


def ui_wait(driver: Any, check: Any, what: str) -> Any:
    """wait_until, failing with what the page shows in its error banner and the browser's console."""
    try:
        return wait_until(check, WAIT, what)
    except TimeoutError as exc:
        console = [entry.get("message") for entry in driver.get_log("browser")]
        raise AssertionError(f"{exc}; the page's error: {text(driver, '#error')!r}; console: {console}") from None


def text(driver: Any, selector: str) -> str:
    return str(driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", selector))


def rows(driver: Any, table: str) -> dict[str, str]:
    """data-key -> row text of the rows of a table container."""
    found = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' tbody tr[data-key]')]"
        ".map(r => [r.dataset.key, r.textContent]);", table)
    return dict(found)


def click_in_row(driver: Any, table: str, key: str, selector: str) -> None:
    """Click a button of a row, found afresh each time (a watch event may have redrawn the row)."""
    def clicked() -> bool:
        return bool(driver.execute_script(
            "const row = [...document.querySelectorAll(arguments[0] + ' tbody tr[data-key]')]"
            ".find(r => r.dataset.key === arguments[1]); const b = row && row.querySelector(arguments[2]);"
            "if (b) b.click(); return !!b;", table, key, selector))
    wait_until(clicked, WAIT, f"{selector} in row {key}")


def log_in(driver: Any, e2e: E2ECluster, token: str, user: str) -> None:
    driver.get(e2e.api_url(0) + "/dashboard/")
    wait_until(lambda: driver.find_element(By.ID, "token").is_displayed(), WAIT, "login form")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "login-button").click()
    wait_until(lambda: text(driver, "#whoami") == user, WAIT, f"logged in as {user}")
    assert token not in driver.current_url


def test_page_is_served_without_a_token_with_a_strict_policy_and_the_status_needs_one(cluster: E2ECluster) -> None:
    with httpx.Client(base_url=cluster.api_url(0), verify=cluster.ssl_context(), timeout=10) as anonymous:
        page = anonymous.get("/dashboard/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert "<script>" not in page.text  # scripts come from files only
        assert anonymous.get("/dashboard/main.js").headers["content-type"].startswith("text/javascript")
        assert anonymous.get("/dashboard/nothing.js").status_code == 404
        assert anonymous.get("/raftkube/v1/status").status_code == 401
    with client(cluster, VIEWER_TOKEN) as viewer:
        refused = viewer.get("/raftkube/v1/status")
        assert refused.status_code == 403 and 'cannot get path "/raftkube/v1/status"' in refused.json()["message"]
    with client(cluster) as admin:
        status = admin.get("/raftkube/v1/status").json()
        assert len(status["members"]) == 3 and status["leader"] and status["term"] >= 1
        assert admin.get("/raftkube/v1/chaos/last").json()["scenario"] == "leader-kill"


@pytest.mark.timeout(90)
def test_admin_sees_nodes_a_live_deployment_scales_it_and_the_control_plane(
        cluster: E2ECluster, browser: Any, screenshots: Path) -> None:
    log_in(browser, cluster, cluster.token, "admin")
    wait_until(lambda: all("Ready" in rows(browser, "#nodes-table").get(f"/node-{i}", "") for i in (1, 2)),
               WAIT, "both nodes listed Ready")
    screenshot(browser, screenshots, "nodes")

    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page=workloads]").click()
    browser.execute_script("window.notReloaded = true;")
    labels = {"app": "web"}
    with client(cluster) as admin:
        admin.post(f"/apis/apps/v1/namespaces/{NS}/deployments", json={
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": "busybox:1"}]}}}},
        ).raise_for_status()
        wait_until(lambda: f"{NS}/web" in rows(browser, "#deployments-table"), WAIT, "deployment appears live")
        assert browser.execute_script("return window.notReloaded === true;"), "the page was reloaded"

        def set_replicas() -> bool:
            return bool(browser.execute_script(
                "const row = [...document.querySelectorAll('#deployments-table tbody tr[data-key]')]"
                ".find(r => r.dataset.key === arguments[0]); const input = row && row.querySelector('input.replicas');"
                "if (!input) return false; input.value = '3'; input.dispatchEvent(new Event('input')); return true;",
                f"{NS}/web"))
        wait_until(set_replicas, WAIT, "replicas input")
        click_in_row(browser, "#deployments-table", f"{NS}/web", "button.scale")
        ui_wait(browser, lambda: admin.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web").json()["spec"]["replicas"]
                == 3, "spec.replicas 3 in the API")
        wait_until(lambda: "3/3" in rows(browser, "#deployments-table").get(f"{NS}/web", ""), WAIT,
                   "3/3 ready shown live")

        # rollout undo: a second revision through the API, then the UI puts the first one's template back
        second = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "busybox:2"}]}}}}
        admin.patch(f"/apis/apps/v1/namespaces/{NS}/deployments/web", content=json.dumps(second),
                    headers={"content-type": "application/strategic-merge-patch+json"}).raise_for_status()
        ui_wait(browser, lambda: sum(1 for key in rows(browser, "#replicasets-table") if key.startswith(f"{NS}/web-"))
                == 2, "the second ReplicaSet shown")
        click_in_row(browser, "#deployments-table", f"{NS}/web", "button.undo")

        def image() -> str:
            spec = admin.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web").json()["spec"]
            return str(spec["template"]["spec"]["containers"][0]["image"])
        ui_wait(browser, lambda: image() == "busybox:1", "template rolled back to revision 1")
        ui_wait(browser, lambda: "deployment web rolled back" in text(browser, "#notice"), "rolled back notice")
    screenshot(browser, screenshots, "workloads")

    api = client(cluster)

    def rolled_out() -> bool:  # the rollback's rolling update is over: no pod of it will still go away
        deployment = api.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web").json()
        status = deployment.get("status", {})
        return (status.get("observedGeneration") == deployment["metadata"]["generation"]
                and status.get("updatedReplicas") == status.get("replicas") == status.get("availableReplicas") == 3)
    wait_until(rolled_out, WAIT, "the rollback rolled out")

    def lasting_pod() -> str | None:  # a Running pod of the current template, not being deleted
        pods = api.get(f"/api/v1/namespaces/{NS}/pods").json()["items"]
        live = sorted(p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("web-")
                      and not p["metadata"].get("deletionTimestamp") and p.get("status", {}).get("phase") == "Running"
                      and p["spec"]["containers"][0]["image"] == "busybox:1")
        return live[0] if len(live) == 3 else None
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page=pods]").click()
    pod = f"{NS}/{wait_until(lasting_pod, WAIT, 'three Running pods of the rolled-back template')}"
    wait_until(lambda: "Running" in rows(browser, "#pods-table").get(pod, ""), WAIT, "the pod shown Running")
    api.close()
    click_in_row(browser, "#pods-table", pod, "button.events")
    wait_until(lambda: "Scheduled" in text(browser, "#events-table"), WAIT, "the pod's events")
    click_in_row(browser, "#pods-table", pod, "button.logs")
    pod_name = pod.split("/", 1)[1]
    ui_wait(browser, lambda: "hollow container app" in text(browser, "#logs-output")
            and f"of pod {NS}/{pod_name}" in text(browser, "#logs-output"), "the pod's log line, streamed")
    assert text(browser, "#logs-state") == "following"  # (follow=true: the stream stays open)
    screenshot(browser, screenshots, "pods")

    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page=control]").click()

    def raft_members() -> dict[str, str] | None:
        roles = dict(browser.execute_script("return [...document.querySelectorAll('#raft-members tbody tr[data-key]')]"
                                            ".map(r => [r.dataset.key, r.querySelector('td.role').textContent]);"))
        return roles if len(roles) == 3 and sorted(roles.values()) == ["follower", "follower", "leader"] else None
    members = ui_wait(browser, raft_members, "three Raft members, one leader")
    with client(cluster) as admin:
        assert set(members) == {m["address"] for m in admin.get("/raftkube/v1/status").json()["members"]}
    wait_until(lambda: len(rows(browser, "#leases-table")) == 2, WAIT, "both leader-election Leases")
    assert "(none)" not in text(browser, "#leases-table")
    wait_until(lambda: "leader-kill" in text(browser, "#chaos"), WAIT, "the last chaos run")
    assert "store leader" in text(browser, "#chaos") and "0.80 s" in text(browser, "#chaos")
    screenshot(browser, screenshots, "control-plane")
    assert browser.execute_script("return window.notReloaded === true;"), "the page was reloaded"


@pytest.mark.timeout(90)
def test_viewer_cannot_delete_and_sees_the_403(cluster: E2ECluster, browser: Any, screenshots: Path) -> None:
    browser.get(cluster.api_url(0) + "/dashboard/")
    if text(browser, "#whoami"):
        browser.find_element(By.ID, "logout").click()
    log_in(browser, cluster, VIEWER_TOKEN, "viewer")
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page=workloads]").click()
    wait_until(lambda: f"{NS}/web" in rows(browser, "#deployments-table"), WAIT, "viewer sees the deployment")
    click_in_row(browser, "#deployments-table", f"{NS}/web", "button.delete")  # arms it
    click_in_row(browser, "#deployments-table", f"{NS}/web", "button.delete")  # deletes
    wait_until(lambda: browser.find_element(By.ID, "error").is_displayed(), WAIT, "an error shown")
    message = text(browser, "#error")
    assert message.startswith("403 Forbidden") and 'User "viewer" cannot delete resource "deployments"' in message
    screenshot(browser, screenshots, "viewer-forbidden")
    with client(cluster) as admin:
        assert admin.get(f"/apis/apps/v1/namespaces/{NS}/deployments/web").status_code == 200
    browser.find_element(By.CSS_SELECTOR, "#nav a[data-page=control]").click()
    wait_until(lambda: "403 Forbidden" in text(browser, "#raft-summary"), WAIT, "status refused to the viewer")
