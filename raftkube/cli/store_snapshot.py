"""`raftkube store snapshot save/status/restore`: back up the store to a file and start a new cluster from it.

The shape of `etcdctl snapshot`: `save FILE` against running replicas, `status FILE` verifies
a file (exit 1 if it is damaged), `restore FILE --data-dir DIR --name NAME --initial-cluster
NAME=HOST:PORT,...` creates one member's data dir of a new cluster (run it once per member,
from the same file with the same --initial-cluster, then start every member on its dir).
"""

from __future__ import annotations

import json
import sys

import click

from ..store.restore import RestoreRefused, parse_initial_cluster, restore
from ..store.snapshot_file import BadSnapshotFile, SnapshotInfo, verify
from .store import _client_options, _run


@click.group()
def snapshot() -> None:
    """Save the store to a file, check a file, restore a new cluster from one."""


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _print_info(info: SnapshotInfo, output: str) -> None:
    if output == "json":
        click.echo(json.dumps({"hash": info.sha256, "revision": info.revision, "compact_revision":
                               info.compact_revision, "total_keys": info.keys, "leases": info.leases,
                               "total_size": info.total_bytes, "created": info.created}, indent=2))
        return
    click.echo(f"hash (sha256): {info.sha256}\nrevision:      {info.revision}\ntotal keys:    {info.keys}\n"
               f"leases:        {info.leases}\ntotal size:    {_human(info.total_bytes)} ({info.total_bytes} bytes)\n"
               f"created:       {info.created}")


@snapshot.command("save")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@_client_options
def save(file: str, output: str, endpoints: str, token: str | None) -> None:
    """Write every key (with its revisions and lease) and every lease at one revision to FILE (0600)."""
    try:
        info = _run(endpoints, token, lambda c: c.save_snapshot(file))
    except OSError as exc:
        click.echo(f"error: cannot write {file}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    if output == "text":
        click.echo(f"Snapshot saved at {file}")
    _print_info(info, output)


@snapshot.command("status")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
def status(file: str, output: str) -> None:
    """Verify FILE's checksum and records; print its hash, revision, key count and size."""
    try:
        info = verify(file)
    except (BadSnapshotFile, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _print_info(info, output)


@snapshot.command("restore")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--data-dir", required=True, help="The member's new data dir (must not exist, or be empty).")
@click.option("--name", required=True, help="This member's name in --initial-cluster.")
@click.option("--initial-cluster", required=True, help="Every member of the new cluster: NAME=HOST:PORT,... "
              "(HOST:PORT is the member's --raft-addr); the same on every member.")
def restore_command(file: str, data_dir: str, name: str, initial_cluster: str) -> None:
    """Create member NAME's data dir of a new cluster whose state is FILE's snapshot."""
    try:
        info, me = restore(file, data_dir, name, initial_cluster)
    except (BadSnapshotFile, RestoreRefused, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    peers = ",".join(m.raft_addr for m in parse_initial_cluster(initial_cluster) if m != me)
    click.echo(f"restored {info.keys} keys at revision {info.revision} into {data_dir} for member {me.name}\n"
               f"start it with: --data-dir {data_dir} --raft-addr {me.raft_addr} --peers {peers}")

