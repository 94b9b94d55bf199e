"""`raftkube store`: run a store replica, or talk to one (get/put/del/watch/status/compact/lease/member)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, Awaitable, Callable, TypeVar

import click

from ..secure_files import read_secret
from ..store import HttpClient, StoreError, prefix_end
from ..store.config import ReplicaConfig
from ..store.quota import DEFAULT_QUOTA_BYTES
from .cluster_secret import cluster_secret_option, read_cluster_secret
from .raft_timing import apply_raft_timing, raft_timing_options

T = TypeVar("T")
DEFAULT_ENDPOINTS = "http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003"


def _secret(value: str | None, path: str | None) -> str | None:
    if path:
        with open(path) as f:
            return f.read().strip()
    return value


@click.group(invoke_without_command=True, context_settings={"auto_envvar_prefix": "RAFTKUBE_STORE"})
@click.option("--id", "replica_id", default="s1", show_default=True, help="Replica name (default data dir).")
@click.option("--raft-addr", default="127.0.0.1:7001", show_default=True, help="host:port for Raft peers.")
@click.option("--peers", default="", help="Other replicas' raft addresses, comma-separated.")
@click.option("--http-addr", default="127.0.0.1:8001", show_default=True, help="host:port of the client API.")
@click.option("--data-dir", default=None, help="Journal and snapshots (default ./data/<id>).")
@cluster_secret_option
@click.option("--token-file", default=None, type=click.Path(exists=True, dir_okay=False),
              help="File (0600) with the bearer token that clients must send to the HTTP port (required to run).")
@click.option("--history", default=100_000, show_default=True, help="Revisions of watch history to keep.")
@click.option("--compaction-entries", default=50_000, show_default=True, help="Raft log entries between snapshots.")
@click.option("--quota-backend-bytes", default=DEFAULT_QUOTA_BYTES, show_default=True,
              type=click.IntRange(min=1024 * 1024),
              help="The store's byte quota (logical size, raftkube/store/quota.py); writes past it are refused.")
@raft_timing_options
@click.pass_context
def store(ctx: click.Context, replica_id: str, raft_addr: str, peers: str, http_addr: str, data_dir: str | None,
          cluster_secret_file: str | None, token_file: str | None, history: int,
          compaction_entries: int, quota_backend_bytes: int, heartbeat_interval_ms: int | None,
          election_timeout_ms: int | None) -> None:
    """Run one store replica (no subcommand), or use a subcommand against running replicas."""
    if ctx.invoked_subcommand is not None:
        return
    from ..store.server import run

    secret = read_cluster_secret(cluster_secret_file)
    if not token_file:
        raise click.UsageError("--token-file is required: the store's HTTP port serves only clients with its token "
                               "(env RAFTKUBE_STORE_TOKEN_FILE)")
    config = ReplicaConfig(raft_addr=raft_addr, peers=[p for p in peers.split(",") if p],
                           data_dir=data_dir or os.path.join("data", replica_id),
                           password=secret, history_keep_revisions=history, quota_backend_bytes=quota_backend_bytes)
    config.tuning.compaction_min_entries = compaction_entries
    apply_raft_timing(config.tuning, heartbeat_interval_ms, election_timeout_ms)
    run(config, http_addr, _token(None, None, token_file))


def _token(ctx: click.Context | None, param: click.Parameter | None, path: str | None) -> str | None:
    """The token in a --token-file (a secret file: 0600), read at parse time."""
    if not path:
        return None
    try:
        return read_secret(path)
    except OSError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--endpoints", envvar="RAFTKUBE_STORE_ENDPOINTS", default=DEFAULT_ENDPOINTS,
                      show_default=True, help="Replica HTTP URLs, comma-separated.")(fn)
    fn = click.option("--token-file", "token", envvar="RAFTKUBE_STORE_TOKEN_FILE", default=None,
                      type=click.Path(exists=True, dir_okay=False), callback=_token,
                      help="File with the store's bearer token.")(fn)
    return fn


def _run(endpoints: str, token: str | None, action: Callable[[HttpClient], Awaitable[T]]) -> T:
    async def go() -> T:
        client = HttpClient(endpoints, token=token)
        try:
            return await action(client)
        finally:
            await client.close()
    try:
        return asyncio.run(go())
    except StoreError as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)


def _kv_json(kv: Any) -> dict[str, Any]:
    return {"key": kv.key.decode(errors="replace"), "value": kv.value.decode(errors="replace"),
            "create_revision": kv.create_revision, "mod_revision": kv.mod_revision, "version": kv.version,
            "lease": kv.lease}


@store.command()
@click.argument("key")
@click.option("--prefix", is_flag=True, help="Every key starting with KEY.")
@click.option("--limit", default=0, help="At most this many keys.")
@click.option("--serializable", is_flag=True, help="Read this replica's state without a read barrier.")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@_client_options
def get(key: str, prefix: bool, limit: int, serializable: bool, output: str, endpoints: str,
        token: str | None) -> None:
    """Read KEY (or a prefix)."""
    k = key.encode()
    end = prefix_end(k) if prefix else b""
    result = _run(endpoints, token, lambda c: c.range(k, end, limit, serializable=serializable))
    if output == "json":
        click.echo(json.dumps({"revision": result.revision, "count": result.count, "more": result.more,
                               "kvs": [_kv_json(kv) for kv in result.kvs]}, indent=2))
        return
    for kv in result.kvs:
        click.echo(f"{kv.key.decode(errors='replace')}\n{kv.value.decode(errors='replace')}")
    if not result.kvs:
        sys.exit(1)


@store.command()
@click.argument("key")
@click.argument("value")
@click.option("--lease", default=0, help="Attach the key to this lease id.")
@_client_options
def put(key: str, value: str, lease: int, endpoints: str, token: str | None) -> None:
    """Write VALUE at KEY."""
    revision, _ = _run(endpoints, token, lambda c: c.put(key.encode(), value.encode(), lease=lease))
    click.echo(f"OK revision {revision}")


@store.command(name="del")
@click.argument("key")
@click.option("--prefix", is_flag=True)
@_client_options
def delete(key: str, prefix: bool, endpoints: str, token: str | None) -> None:
    """Delete KEY (or a prefix); prints how many keys went."""
    k = key.encode()
    _, result = _run(endpoints, token, lambda c: c.delete(k, prefix_end(k) if prefix else b""))
    click.echo(str(result.deleted))


@store.command()
@click.argument("key")
@click.option("--prefix", is_flag=True)
@click.option("--rev", default=0, help="Start from this revision (default: now).")
@click.option("--prev-kv", is_flag=True)
@click.option("--count", default=0, help="Stop after this many events (0: never).")
@_client_options
def watch(key: str, prefix: bool, rev: int, prev_kv: bool, count: int, endpoints: str, token: str | None) -> None:
    """Print events on KEY (or a prefix) as JSON lines, following replica failover."""
    k = key.encode()

    async def follow(client: HttpClient) -> None:
        seen = 0
        async for response in client.watch(k, prefix_end(k) if prefix else b"", rev, prev_kv):
            for event in response.events:
                line = {"type": event.type, "revision": event.revision, **_kv_json(event.kv)}
                if event.prev_kv is not None:
                    line["prev_value"] = event.prev_kv.value.decode(errors="replace")
                click.echo(json.dumps(line), nl=True)
                seen += 1
                if count and seen >= count:
                    return
    _run(endpoints, token, follow)


@store.command()
@_client_options
@click.option("--all", "all_replicas", is_flag=True, help="Ask every endpoint, not just one.")
def status(endpoints: str, token: str | None, all_replicas: bool) -> None:
    """Leader, term, commit/applied index and members (JSON)."""
    async def ask(client: HttpClient) -> Any:
        if not all_replicas:
            return await client.status()
        out = []
        for endpoint in client.endpoints:
            try:
                out.append({"endpoint": endpoint, **await client.status_of(endpoint)})
            except Exception as exc:  # a down replica is part of the answer
                out.append({"endpoint": endpoint, "error": str(exc)})
        return out
    click.echo(json.dumps(_run(endpoints, token, ask), indent=2))


@store.command()
@click.argument("revision", type=int)
@_client_options
def compact(revision: int, endpoints: str, token: str | None) -> None:
    """Drop watch history older than REVISION."""
    done = _run(endpoints, token, lambda c: c.compact(revision))
    click.echo(f"compacted at revision {done}")


@store.group()
def lease() -> None:
    """Grant, keep alive, revoke and list leases."""


@lease.command("grant")
@click.argument("ttl", type=int)
@_client_options
def lease_grant(ttl: int, endpoints: str, token: str | None) -> None:
    info = _run(endpoints, token, lambda c: c.lease_grant(ttl))
    click.echo(f"lease {info.id} granted with TTL {info.ttl}s")


@lease.command("keepalive")
@click.argument("lease_id", type=int)
@_client_options
def lease_keepalive(lease_id: int, endpoints: str, token: str | None) -> None:
    info = _run(endpoints, token, lambda c: c.lease_keepalive(lease_id))
    click.echo(f"lease {info.id} kept alive, TTL {info.ttl}s")


@lease.command("revoke")
@click.argument("lease_id", type=int)
@_client_options
def lease_revoke(lease_id: int, endpoints: str, token: str | None) -> None:
    _run(endpoints, token, lambda c: c.lease_revoke(lease_id))
    click.echo(f"lease {lease_id} revoked")


@lease.command("list")
@_client_options
def lease_list(endpoints: str, token: str | None) -> None:
    for info in _run(endpoints, token, lambda c: c.leases()):
        click.echo(f"{info.id}\tttl={info.ttl}\tkeys={len(info.keys)}")


@store.group()
def member() -> None:
    """Add or remove a replica (by its raft address) at run time."""


@member.command("add")
@click.argument("raft_addr")
@_client_options
def member_add(raft_addr: str, endpoints: str, token: str | None) -> None:
    _run(endpoints, token, lambda c: c.add_member(raft_addr))
    click.echo(f"member {raft_addr} added; start it with --peers listing the current members")


@member.command("remove")
@click.argument("raft_addr")
@_client_options
def member_remove(raft_addr: str, endpoints: str, token: str | None) -> None:
    _run(endpoints, token, lambda c: c.remove_member(raft_addr))
    click.echo(f"member {raft_addr} removed")
