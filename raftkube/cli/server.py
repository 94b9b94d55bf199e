"""`raftkube server`: one control-plane replica: a store replica, the API server over it and,
given a kubeconfig, the replica's controller-manager and scheduler.

Both share one asyncio loop (uvloop when installed); the API server reads and writes its
local replica in process, and any replica serves reads, writes and watches (writes go
through Raft wherever they arrive). The store's own HTTP port is optional.

Every port fails closed: the API is TLS-only (`--tls-cert/--tls-key`) and needs a
`--token-file` (no anonymous admin); the store's HTTP port (`--store-addr`) needs
`--store-token-file`. The API server reaches the agents' log servers with its client
certificate (`--kubelet-client-cert/--kubelet-client-key`), checking their serving
certificates against `--kubelet-certificate-authority`. The API's limits (in-flight,
watches, connection timeouts), the store's byte quota and the audit log take
kube-apiserver's and etcd's flags (`api_limits.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
import uvicorn

from ..store import LocalClient, ReplicaConfig, StoreReplica
from ..store.gc_policy import settle_server_process
from ..store.http_protocol import CoalescingHttpToolsProtocol
from ..store.http_server import build_app as build_store_app
from ..store.server import run_loop, split_host_port
from .api_limits import ApiLimits, limit_options
from .cluster_secret import cluster_secret_option, read_cluster_secret
from .election_timing import election_timing, election_timing_options
from .machine import MachineConfig
from .raft_timing import apply_raft_timing, raft_timing_options
from .server_accounts import DEFAULT_ISSUER, ServiceAccountOptions, endpoint_address

if TYPE_CHECKING:
    from ..api.auth import TokenAuthenticator
    from ..api.encryption import EncryptionConfig
    from ..api.pod_logs import KubeletClientTLS
    from ..control.leader_election import ElectionTiming

log = logging.getLogger("raftkube.server")


def _uvicorn(app: object, addr: str, cert: str | None = None, key: str | None = None,
             http: type | str = "auto", client_ca: str | None = None) -> uvicorn.Server:
    """`client_ca`: ask TLS clients for a certificate that CA signed (optional: token clients send none)."""
    from ..api.ws_protocol import TLSWebSocketProtocol  # (websocket scopes keep the client certificate)

    host, port = split_host_port(addr)
    client_certs = {"ssl_cert_reqs": ssl.CERT_OPTIONAL, "ssl_ca_certs": client_ca} if client_ca else {}
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                           access_log=False, ssl_certfile=cert, ssl_keyfile=key, **client_certs,
                                           timeout_keep_alive=30, http=http, proxy_headers=False,
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN, ws=TLSWebSocketProtocol))
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]  # we own the signals
    return server


CONTROL_REQUEST_TIMEOUT = 5.0
# on SIGTERM, open requests get this long; then watches still streaming are cut (their clients resume on another
# replica) — without a bound uvicorn waited for every watch to end, and a server with agents attached never stopped
GRACEFUL_SHUTDOWN = 3.0


async def run_control(kubeconfig: str, identity: str, defer_while: Callable[[], bool] | None = None,
                      cronjob_clock_speed: float = 1.0, election: ElectionTiming | None = None) -> None:
    """The controller-manager and the scheduler of this replica (each acts only while it leads).
    `defer_while` (this replica leads the store's Raft group): let the other replicas' candidates
    take a free Lease first, so the control plane's work does not add to the Raft leader's.
    `cronjob_clock_speed`: the CronJob controller's clock runs this many times faster (tests).
    `election`: the two leader elections' timings (raftkube's defaults when None)."""
    from ..client import ApiClient
    from ..control.leader_election import ElectionTiming
    from ..control.manager import LEASE_NAME as MANAGER_LEASE
    from ..control.manager import ControllerManager, with_cronjob_clock
    from ..control.scheduler.runner import LEASE_NAME as SCHEDULER_LEASE
    from ..control.scheduler.runner import SchedulerRunner

    timing = election or ElectionTiming()

    # one client (connection pool) each: the scheduler's binds never queue behind the controllers' writes
    # (its pool: the bind window, 32, plus renewals and informers)
    # (short timeouts: a request stuck on a partitioned replica's API fails over instead of waiting 30 s)
    client = ApiClient.from_kubeconfig(kubeconfig, timeout=CONTROL_REQUEST_TIMEOUT)
    scheduler_client = ApiClient.from_kubeconfig(kubeconfig, max_connections=48, timeout=CONTROL_REQUEST_TIMEOUT)
    try:
        factories = with_cronjob_clock(cronjob_clock_speed)
        await asyncio.gather(
            ControllerManager(client, identity=identity, factories=factories,
                              election=timing.config(MANAGER_LEASE, identity, defer_while)).run(),
            SchedulerRunner(scheduler_client, identity=identity,
                            election=timing.config(SCHEDULER_LEASE, identity, defer_while)).run())
    finally:
        await client.close()
        await scheduler_client.close()


async def serve(config: ReplicaConfig, api_addr: str, store_addr: str | None, auth: TokenAuthenticator,
                cert: str, key: str, kubeconfig: str | None = None, identity: str = "s1",
                machine: MachineConfig | None = None, encryption: EncryptionConfig | None = None,
                store_token: str | None = None, kubelet: KubeletClientTLS | None = None,
                pod_security_default: str = "baseline", limits: ApiLimits | None = None,
                chaos_report_dir: str | None = None, accounts: ServiceAccountOptions | None = None,
                client_ca: str | None = None, cronjob_clock_speed: float = 1.0, watch_cache: bool = True,
                election: ElectionTiming | None = None) -> None:
    from ..api.app import build_app, default_admission, default_authorizer
    from ..api.authz.node_graph import NodeGraph
    from ..api.authz.rbac import RBACAuthorizer
    from ..api.authz.rbac_index import RBACIndex
    from ..api.bootstrap import ensure_system_namespaces
    from ..api.cluster_tokens import ChainAuthenticator, ClusterTokenAuthenticator
    from ..api.control_status import ControlPlaneStatus
    from ..api.kubernetes_service import KubernetesServiceReconciler
    from ..api.rbac_bootstrap import ensure_default_rbac
    from ..api.storage import ObjectStorage

    replica = StoreReplica(config)
    await replica.start()
    storage = ObjectStorage(LocalClient(replica), encryption)
    cluster_tokens = ClusterTokenAuthenticator(storage)  # bootstrap and node tokens, from kube-system Secrets
    cluster_tokens.start()
    rbac_index = RBACIndex(storage)  # roles and bindings, listed once and kept current by watches
    rbac_index.start()
    sa = accounts.load(storage) if accounts is not None else None  # ServiceAccount tokens and admission
    chain = ChainAuthenticator(*([auth] if auth is not None else []), cluster_tokens,
                               *([sa.authenticator] if sa is not None else []))
    node_graph = NodeGraph(storage)  # pods -> nodes, for the Node authorizer
    node_graph.start()
    join = machine.join_service(storage, replica) if machine is not None else None

    def ready() -> bool:  # serving before RBAC is known would refuse what is allowed
        return bool(replica.status().get("ready", False)) and rbac_index.synced.is_set()
    rbac = RBACAuthorizer(rbac_index)
    limits = limits or ApiLimits.from_flags({})
    audit = limits.open_audit_log()
    admission = default_admission(storage, pod_security_default)
    if sa is not None:  # first: its defaults and token volume are what the others see
        admission.plugins.insert(0, sa.admission)
    servers = [_uvicorn(build_app(storage, chain, ready, join, kubelet=kubelet,
                                  authorizer=default_authorizer(node_graph, rbac), admission=admission, rbac=rbac,
                                  fairness=limits.fairness, audit=audit,
                                  control=ControlPlaneStatus(replica.status, chaos_report_dir),
                                  tokens=sa.tokens if sa is not None else None, watch_cache=watch_cache),
                        api_addr, cert, key, http=limits.protocol, client_ca=client_ca)]
    endpoint = endpoint_address(api_addr, machine.advertise_url if machine is not None else None)
    reconciler = KubernetesServiceReconciler(storage, identity, *endpoint) if endpoint else None
    if store_addr:
        # the store port answers each request with one socket write (headers and body together)
        servers.append(_uvicorn(build_store_app(replica, store_token), store_addr, http=CoalescingHttpToolsProtocol))
    settle_server_process()  # start-up frozen, full collections rare (they stopped the Raft thread), pauses logged
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    tasks = [asyncio.create_task(s.serve()) for s in servers]

    async def bootstrap() -> None:
        await replica.wait_ready(120)
        for attempt in range(60):
            try:
                await ensure_system_namespaces(storage)
                await ensure_default_rbac(storage)
                if machine is not None:
                    await machine.bootstrap(storage, identity)
                if sa is not None:
                    sa.start()
                if reconciler is not None:
                    reconciler.start()
                return
            except Exception as exc:  # the store may still be electing a leader
                log.info("bootstrap attempt %d: %s", attempt, exc)
                await asyncio.sleep(0.5)
    boot = asyncio.create_task(bootstrap())
    control = None
    if kubeconfig:
        async def start_control() -> None:
            await boot
            await run_control(kubeconfig, identity, defer_while=replica.is_leader,
                              cronjob_clock_speed=cronjob_clock_speed, election=election)
        control = asyncio.create_task(start_control())
    await stopping.wait()
    if control is not None:
        control.cancel()  # releases the leases it holds, so the next replica takes over at once
        await asyncio.gather(control, return_exceptions=True)
    boot.cancel()
    await cluster_tokens.stop()
    await rbac_index.stop()
    await node_graph.stop()
    if sa is not None:
        await sa.stop()
    if reconciler is not None:
        await reconciler.stop()
    for s in servers:
        s.should_exit = True
    await asyncio.gather(*tasks, return_exceptions=True)
    if audit is not None:
        audit.close()
    await replica.stop()


@click.command()
@click.option("--id", "replica_id", default="s1", show_default=True)
@click.option("--raft-addr", default="127.0.0.1:7001", show_default=True, help="host:port for Raft peers.")
@click.option("--peers", default="", help="Other replicas' raft addresses, comma-separated.")
@click.option("--api-addr", default="127.0.0.1:6443", show_default=True, help="host:port of the Kubernetes API.")
@click.option("--store-addr", default=None, help="host:port of the store's own HTTP port (off by default).")
@click.option("--store-token-file", default=None, type=click.Path(exists=True, dir_okay=False),
              envvar="RAFTKUBE_STORE_TOKEN_FILE",
              help="File (0600) with the bearer token the store's HTTP port requires (required with --store-addr).")
@click.option("--data-dir", default=None, help="Journal and snapshots (default ./data/<id>).")
@cluster_secret_option
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Static tokens (token,user,uid[,groups]) (required: no anonymous access).")
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="The API's serving certificate (required: the API is TLS-only).")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--client-ca-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Authenticate API clients by certificates this CA signed (CN: user, O: groups), as "
                   "kube-apiserver's flag; bearer tokens keep working.")
@click.option("--kubelet-client-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Client certificate (CN system:apiserver) for the agents' log servers.")
@click.option("--kubelet-client-key", default=None, type=click.Path(exists=True, dir_okay=False))
@click.option("--kubelet-certificate-authority", default=None, type=click.Path(exists=True, dir_okay=False),
              help="CA that signed the agents' serving certificates.")
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False))
@click.option("--kubeconfig", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Run this replica's controller-manager and scheduler, talking to the API with this kubeconfig.")
@click.option("--config-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="The directory `raftkube init/join` wrote: lets machines join (signs node certificates, seals "
                   "the control-plane bundle) and uploads its first bootstrap token.")
@click.option("--advertise-url", default=None, help="This API server's URL for the others (listed in "
              "kube-system/raftkube-control-plane, given to joining machines).")
@click.option("--encryption-provider-config", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Kubernetes EncryptionConfiguration (aesgcm, identity) for data at rest; without it plaintext.")
@click.option("--pod-security-default", default="baseline", show_default=True,
              type=click.Choice(["privileged", "baseline", "restricted"]),
              help="Pod Security level (enforce, warn, audit) of namespaces without pod-security.kubernetes.io labels "
                   "(kube-system, kube-public and kube-node-lease are privileged).")
@limit_options
@click.option("--chaos-report-dir", default=None, type=click.Path(exists=True, file_okay=False),
              help="Where chaos runs write (`python -m chaos run --out`): the dashboard shows the newest run's "
                   "write gaps and failovers (GET /raftkube/v1/chaos/last).")
@click.option("--service-account-signing-key-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="EC private key (pki/sa.key, the same on every replica) that signs ServiceAccount tokens; "
                   "enables TokenRequest, the token authenticator and the ServiceAccount admission plugin.")
@click.option("--service-account-issuer", default=DEFAULT_ISSUER, show_default=True,
              help="The `iss` of ServiceAccount tokens.")
@click.option("--cronjob-clock-speed", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="The CronJob controller's clock runs this many times faster than the real one (for tests).")
@click.option("--api-audiences", default="", help="Audiences the API accepts in ServiceAccount tokens, "
              "comma-separated (default: the issuer).")
@click.option("--watch-cache", type=click.BOOL, default=True, show_default=True,
              help="Serve lists and watches from the API server's memory (kube-apiserver's --watch-cache); "
              "false: every list and watch reads the store.")
@raft_timing_options
@election_timing_options
def server(replica_id: str, raft_addr: str, peers: str, api_addr: str, store_addr: str | None,
           store_token_file: str | None, data_dir: str | None, cluster_secret_file: str | None, token_file: str | None,
           tls_cert: str | None, tls_key: str | None, kubelet_client_cert: str | None, kubelet_client_key: str | None,
           kubelet_certificate_authority: str | None, log_level: str, kubeconfig: str | None,
           config_dir: str | None, advertise_url: str | None, encryption_provider_config: str | None,
           pod_security_default: str, chaos_report_dir: str | None, service_account_signing_key_file: str | None,
           service_account_issuer: str, api_audiences: str, client_ca_file: str | None, cronjob_clock_speed: float,
           watch_cache: bool, heartbeat_interval_ms: int | None, election_timeout_ms: int | None,
           **limit_flags: Any) -> None:
    """Run one control-plane replica (store replica + API server)."""
    from ..api.auth import TokenAuthenticator
    from ..api.encryption import EncryptionConfig, EncryptionConfigError
    from ..api.pod_logs import KubeletClientTLS

    try:
        encryption = EncryptionConfig.load(encryption_provider_config) if encryption_provider_config else None
    except EncryptionConfigError as err:
        raise click.BadParameter(str(err), param_hint="--encryption-provider-config") from None

    cluster_secret = read_cluster_secret(cluster_secret_file)
    if not (tls_cert and tls_key):
        raise click.UsageError("--tls-cert and --tls-key are required: the API is served over TLS only")
    if not token_file:
        raise click.UsageError("--token-file is required: the API serves no anonymous requests")
    store_token = _store_token(store_addr, store_token_file)
    kubelet_files = (kubelet_client_cert, kubelet_client_key, kubelet_certificate_authority)
    if any(kubelet_files) and not all(kubelet_files):
        raise click.UsageError("--kubelet-client-cert, --kubelet-client-key and --kubelet-certificate-authority "
                               "go together")
    kubelet = KubeletClientTLS(*kubelet_files) if all(kubelet_files) else None  # type: ignore[arg-type]

    election = election_timing({k: limit_flags.pop(k) for k in list(limit_flags) if k.startswith("leader_elect_")})
    limits = ApiLimits.from_flags(limit_flags)
    config = ReplicaConfig(raft_addr=raft_addr, peers=[p for p in peers.split(",") if p],
                           data_dir=data_dir or os.path.join("data", replica_id), password=cluster_secret,
                           quota_backend_bytes=limits.quota_backend_bytes)
    apply_raft_timing(config.tuning, heartbeat_interval_ms, election_timeout_ms)
    auth = TokenAuthenticator.from_file(token_file)
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    machine = MachineConfig.load(config_dir, advertise_url) if config_dir or advertise_url else None
    accounts = None
    if service_account_signing_key_file:
        accounts = ServiceAccountOptions(service_account_signing_key_file, service_account_issuer,
                                         [a for a in api_audiences.split(",") if a])
        try:
            accounts.check()
        except (OSError, ValueError) as err:
            raise click.BadParameter(str(err), param_hint="--service-account-signing-key-file") from None
    run_loop(serve(config, api_addr, store_addr, auth, tls_cert, tls_key, kubeconfig, replica_id, machine,
                   encryption, store_token, kubelet, pod_security_default, limits, chaos_report_dir, accounts,
                   client_ca_file, cronjob_clock_speed, watch_cache, election))


def _store_token(store_addr: str | None, store_token_file: str | None) -> str | None:
    """The store port's token: required with --store-addr, from a file only its owner may read."""
    from ..secure_files import read_secret

    if not store_addr:
        return None
    if not store_token_file:
        raise click.UsageError("--store-token-file is required with --store-addr: the store's HTTP port serves "
                               "only clients with its token")
    try:
        token = read_secret(store_token_file)
    except OSError as exc:
        raise click.BadParameter(str(exc), param_hint="--store-token-file") from None
    if not token:
        raise click.BadParameter(f"{store_token_file} is empty", param_hint="--store-token-file")
    return token
