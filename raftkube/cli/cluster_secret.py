"""`--cluster-secret-file`: the secret that authenticates Raft peers, for `raftkube server` and `store`.

The secret only ever comes from a file (or its path from RAFTKUBE_CLUSTER_SECRET_FILE), never
from a command line where `ps` shows it; the file must not be readable by group or others.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from ..secure_files import read_secret

FLAG = "--cluster-secret-file"
ENV = "RAFTKUBE_CLUSTER_SECRET_FILE"


def cluster_secret_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(FLAG, "cluster_secret_file", envvar=ENV, default=None,
                        type=click.Path(dir_okay=False),
                        help=f"File (mode 0600) holding the secret shared by the cluster's replicas; "
                             f"required (or {ENV}).")(fn)


def read_cluster_secret(path: str | None) -> str:
    """The secret in `path`; a usage error naming the flag if there is none or the file is unsafe."""
    if not path:
        raise click.UsageError(f"{FLAG} is required (or {ENV}): the Raft port accepts only authenticated peers")
    try:
        secret = read_secret(path)
    except FileNotFoundError:
        raise click.BadParameter(f"{path} does not exist", param_hint=FLAG) from None
    except (PermissionError, IsADirectoryError) as err:
        raise click.BadParameter(str(err), param_hint=FLAG) from None
    if not secret:
        raise click.BadParameter(f"{path} is empty", param_hint=FLAG)
    return secret
