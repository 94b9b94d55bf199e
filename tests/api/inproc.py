"""The whole API without a cluster: one in-memory store replica plus uvicorn on 127.0.0.1.

`running_api()` serves it from a thread of this process, on its own event loop: tests talk to it
over real HTTP with real socket timeouts (a request that never answers fails the test instead of
hanging it), watch streams are not buffered, one server can serve a whole module through a sync
fixture, and store calls (revision, compaction) run on the server's loop through `call`.
`child_process_api()` serves the same from a child process, for requests that may wedge, crash or
recurse deeply: nothing they do reaches the test's interpreter, and the child is killed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from raftkube.api.app import build_app, default_admission, default_authorizer
from raftkube.api.auth import TokenAuthenticator, User
from raftkube.api.authz.node_graph import NodeGraph
from raftkube.api.authz.rbac import RBACAuthorizer
from raftkube.api.authz.rbac_index import RBACIndex
from raftkube.api.bootstrap import ensure_system_namespaces
from raftkube.api.cluster_tokens import ChainAuthenticator
from raftkube.api.control_status import ControlPlaneStatus
from raftkube.api.encryption import EncryptionConfig
from raftkube.api.kubernetes_service import KubernetesServiceReconciler
from raftkube.api.pod_logs import KubeletClientTLS
from raftkube.api.rbac_bootstrap import ensure_default_rbac
from raftkube.api.service_accounts import ServiceAccounts
from raftkube.api.storage import ObjectStorage
from raftkube.api.ws_protocol import TLSWebSocketProtocol
from raftkube.local.store_cluster import free_port
from raftkube.pki import ensure_service_account_key
from raftkube.store import LocalClient, ReplicaConfig, StoreReplica

T = TypeVar("T")
TOKEN = "test-admin-token"
REQUEST_TIMEOUT = 20.0  # seconds: a bounded wait for any one request (never a timing assertion)
START_TIMEOUT = 60.0


@dataclass
class InProcessAPI:
    """A running API server; `url` is http://127.0.0.1:<port>."""

    url: str = ""
    kubelet: KubeletClientTLS | None = None  # the API server's TLS client side to the agents (pods/log)
    agent_tls: dict[str, str] = field(default_factory=dict)  # AgentConfig's log-server TLS options that match it
    loop: asyncio.AbstractEventLoop | None = None
    replica: StoreReplica | None = None
    store: LocalClient | None = None
    _server: uvicorn.Server | None = None
    _controllers: asyncio.Task[None] | None = None
    _reconciler: KubernetesServiceReconciler | None = None
    _thread: threading.Thread | None = None
    _started: Future[None] = field(default_factory=Future)
    storage: ObjectStorage | None = None
    rbac_index: RBACIndex | None = None
    node_graph: NodeGraph | None = None
    encryption: EncryptionConfig | None = None  # Secrets at rest (api/encryption.py); None: plaintext
    chaos_report_dir: str | None = None  # served at /raftkube/v1/chaos/last (api/control_status.py)
    tokens: dict[str, User] = field(default_factory=lambda: {TOKEN: User("admin", "admin-uid", ("system:masters",))})

    def add_token(self, user: str, groups: tuple[str, ...] = ()) -> str:
        """A new bearer token for `user` in `groups` (the server knows it at once)."""
        token = secrets.token_urlsafe(24)
        self.tokens[token] = User(user, f"{user}-uid", groups)
        return token

    def node_token(self, node: str) -> str:
        """A token for node `node` (user system:node:<node> in system:nodes), as a joined agent holds."""
        return self.add_token(f"system:node:{node}", ("system:nodes",))
    # ServiceAccounts (api/service_accounts.py): a signing key made in `sa_dir`, TokenRequest, the token
    # authenticator, the admission plugin and the `kubernetes` Service reconciler; with `controllers`
    # the ServiceAccount controller too (its kube-root-ca.crt publishes `controller_ca`)
    service_accounts: bool = False
    sa_dir: str = ""
    controllers: bool = False
    controller_ca: str | None = None
    accounts: Any = None

    app_options: dict[str, Any] = field(default_factory=dict)  # more build_app keywords (fairness, audit, ...)
    replica_options: dict[str, Any] = field(default_factory=dict)  # more ReplicaConfig fields (quota_backend_bytes)

    def client(self, token: str | None = TOKEN, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = REQUEST_TIMEOUT) -> T:
        """Run a coroutine on the server's loop (e.g. a store call) and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def revision(self) -> int:
        """The store's current revision: it moves on every committed write, and only then."""
        store = self.store
        assert store is not None

        async def read() -> int:
            return (await store.range(b"/", count_only=True)).revision
        return self.call(read())

    def compact(self, revision: int) -> int:
        assert self.store is not None
        return self.call(self.store.compact(revision))

    # -------------------------------------------------------------- lifecycle
    def start(self) -> None:
        # proto IPPROTO_TCP, so that asyncio sets TCP_NODELAY on accepted connections (else Nagle adds 40 ms)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(sock),), name="inproc-api",
                                        daemon=True)
        self._thread.start()
        self._started.result(START_TIMEOUT)

    async def _serve(self, sock: socket.socket) -> None:
        try:
            self.loop = asyncio.get_running_loop()
            raft_addr = f"127.0.0.1:{free_port()}"
            self.replica = StoreReplica(ReplicaConfig(raft_addr, [], password=secrets.token_urlsafe(16),
                                                      **self.replica_options))
            await self.replica.start()
            await self.replica.wait_ready(30)
            self.store = LocalClient(self.replica)
            storage = self.storage = ObjectStorage(self.store, self.encryption)
            await ensure_system_namespaces(storage)
            await ensure_default_rbac(storage)
            self.rbac_index = RBACIndex(storage)
            self.rbac_index.start()
            await asyncio.wait_for(self.rbac_index.synced.wait(), START_TIMEOUT)
            auth = TokenAuthenticator(self.tokens)  # the same dict: add_token reaches it
            self.node_graph = NodeGraph(storage)  # pods -> nodes, for the Node authorizer
            self.node_graph.start()
            rbac = RBACAuthorizer(self.rbac_index)
            chain, admission, tokens = ChainAuthenticator(auth), None, None
            if self.service_accounts:
                self.accounts = await self._start_service_accounts(storage)
                chain = ChainAuthenticator(auth, self.accounts.authenticator)
                admission, tokens = default_admission(storage), self.accounts.tokens
                admission.plugins.insert(0, self.accounts.admission)
            app = build_app(storage, chain, lambda: True, kubelet=self.kubelet,
                            authorizer=default_authorizer(self.node_graph, rbac), rbac=rbac, admission=admission,
                            control=ControlPlaneStatus(self.replica.status, self.chaos_report_dir),
                            tokens=tokens, **self.app_options)
            config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2,
                                    ws=TLSWebSocketProtocol)
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve(sockets=[sock]))
            for _ in range(int(START_TIMEOUT / 0.01)):  # uvicorn has no "started" event to wait on
                if self._server.started or serving.done():
                    break
                await asyncio.sleep(0.01)
            if serving.done():
                serving.result()
            assert self._server.started, "uvicorn did not start"
            if self.service_accounts:
                port = int(self.url.rsplit(":", 1)[1])
                self._reconciler = KubernetesServiceReconciler(storage, "inproc", "127.0.0.1", port)
                self._reconciler.start()
            if self.controllers:
                self._controllers = asyncio.create_task(self._run_controllers())
        except BaseException as exc:
            self._started.set_exception(exc)
            if self.replica is not None:
                await self.replica.stop()
            raise
        self._started.set_result(None)
        try:
            await serving
        finally:
            if self._controllers is not None:
                self._controllers.cancel()
                await asyncio.gather(self._controllers, return_exceptions=True)
            if self._reconciler is not None:
                await self._reconciler.stop()
            if self.accounts is not None:
                await self.accounts.stop()
            sock.close()
            if self.rbac_index is not None:
                await self.rbac_index.stop()
            if self.node_graph is not None:
                await self.node_graph.stop()
            await self.replica.stop()

    async def _start_service_accounts(self, storage: ObjectStorage) -> ServiceAccounts:
        self.sa_dir = self.sa_dir or tempfile.mkdtemp(prefix="inproc-sa-")
        key, _ = ensure_service_account_key(self.sa_dir)
        accounts = ServiceAccounts.load(storage, key, default_wait=3.0)
        accounts.start()
        await accounts.authenticator.wait_synced()
        return accounts

    async def _run_controllers(self) -> None:
        from raftkube.client import ApiClient
        from raftkube.control.manager import ControllerManager
        from raftkube.control.serviceaccounts import ServiceAccountsController

        client = ApiClient(self.url, TOKEN, ca_data=self.controller_ca, timeout=REQUEST_TIMEOUT)
        try:
            await ControllerManager(client, identity="inproc", factories=[ServiceAccountsController]).run()
        finally:
            await client.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)


@contextlib.contextmanager
def running_api(kubelet: KubeletClientTLS | None = None, tokens: dict[str, User] | None = None,
                **options: Any) -> Iterator[InProcessAPI]:
    """Start a server for a `with` block (or a module-scoped fixture) and stop it afterwards.
    `tokens`: more bearer tokens than the admin's, token -> user (RBAC decides what they may);
    `options`: more InProcessAPI fields (app_options, replica_options, chaos_report_dir, service_accounts,
    controllers, controller_ca)."""
    api = InProcessAPI(kubelet=kubelet, **options)
    api.tokens.update(tokens or {})
    try:
        api.start()
        yield api
    finally:
        api.stop()


class ChildProcessAPI:
    """The same server in a child process (`python -m tests.api.inproc`), seen only through HTTP.

    For requests that may wedge or crash a server: the child is killed at the end, and nothing it
    does (deep recursion, tracebacks, CPU spent on a request) happens in the test's own interpreter.
    The store's revision is read as a list's resourceVersion."""

    def __init__(self) -> None:
        root = Path(__file__).resolve().parents[2]
        self._child = subprocess.Popen([sys.executable, "-m", "tests.api.inproc"], cwd=root, stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, text=True)
        assert self._child.stdout is not None
        self.url = self._child.stdout.readline().strip()
        if not self.url.startswith("http://127.0.0.1:"):
            self.stop()
            raise RuntimeError(f"the child server did not start: {self.url!r}")
        self._probe = self.client()

    def client(self, token: str | None = TOKEN, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def revision(self) -> int:
        """The store's revision, as the resourceVersion of a (one-item) list read now."""
        response = self._probe.get("/api/v1/namespaces", params={"limit": "1"})
        assert response.status_code == 200, response.text[:500]
        return int(response.json()["metadata"]["resourceVersion"])

    def stop(self) -> None:
        if hasattr(self, "_probe"):
            self._probe.close()
        self._child.kill()
        self._child.wait(START_TIMEOUT)


@contextlib.contextmanager
def child_process_api() -> Iterator[ChildProcessAPI]:
    api = ChildProcessAPI()
    try:
        yield api
    finally:
        api.stop()



# ------------------------------------------------------------------ assertions
REASONS: dict[int, tuple[str, ...]] = {  # the code -> reason pairs kubectl knows (KUBECTL.md, Errors)
    400: ("BadRequest",), 401: ("Unauthorized",), 403: ("Forbidden",), 404: ("NotFound",),
    405: ("MethodNotAllowed",), 409: ("AlreadyExists", "Conflict"), 410: ("Expired", "Gone"),
    413: ("RequestEntityTooLarge",), 415: ("UnsupportedMediaType",), 422: ("Invalid",), 429: ("TooManyRequests",),
    500: ("InternalError",), 503: ("ServiceUnavailable",), 504: ("Timeout",),
}


def expect_status(response: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    """The response is an error `Status` with this code and reason (and a message); returns it."""
    assert response.status_code == code, (response.status_code, response.text[:2000])
    assert response.headers.get("content-type", "").startswith("application/json"), response.headers
    status = response.json()
    assert status.get("kind") == "Status" and status.get("apiVersion") == "v1", status
    assert status.get("status") == "Failure", status
    assert status.get("code") == code, status
    assert status.get("reason") == reason, status
    assert reason in REASONS.get(code, (reason,)), f"{code} goes with {REASONS[code]}, not {reason}"
    assert isinstance(status.get("message"), str) and status["message"], status
    return status


def cause_fields(status: dict[str, Any]) -> list[str]:
    """`details.causes[].field` of an Invalid Status (each cause must also carry a message)."""
    causes = status.get("details", {}).get("causes", [])
    assert causes, f"an Invalid Status must list its causes: {status}"
    assert all(isinstance(c.get("message"), str) and c["message"] for c in causes), causes
    return [c.get("field", "") for c in causes]


@contextlib.contextmanager
def nothing_written(api: InProcessAPI | ChildProcessAPI) -> Iterator[None]:
    """The block commits no write to the store (its revision does not move)."""
    before = api.revision()
    yield
    assert api.revision() == before, "a refused request changed the store"


# ------------------------------------------------------------------ manifests
def pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}], **spec}}


def deployment(name: str, replicas: int = 1) -> dict[str, Any]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}}}}


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data or {"k": "v"}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def main() -> None:
    """`python -m tests.api.inproc`: serve until stdin closes (see ChildProcessAPI)."""
    with running_api() as api:
        print(api.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
