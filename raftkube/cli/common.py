"""What the client-side commands (apply/get/describe/delete) share: options, the client, errors.

Tests inject a client: `CliRunner().invoke(get, [...], obj={"client_factory": f})` where
`f(kubeconfig_path, context)` returns an `ApiClient` (e.g. one on an httpx.MockTransport).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, TypeVar

import click

from ..api.resources import RESOURCES, Resource
from ..client import ApiClient, ApiError, ApiUnavailable, OutcomeUnknown, cli_lookup
from ..client.kubeconfig import KubeconfigError

T = TypeVar("T")
ClientFactory = Callable[[str | None, str | None], ApiClient]


class CliError(Exception):
    """A client-side error: printed as `error: ...`, exit code 1."""


def default_factory(kubeconfig: str | None, context: str | None) -> ApiClient:
    return ApiClient.from_kubeconfig(kubeconfig, context)


def client_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--context", default=None, help="The kubeconfig context to use.")(fn)
    fn = click.option("--kubeconfig", default=None, metavar="PATH",
                      help="Path to the kubeconfig (default: $KUBECONFIG, then ~/.kube/config).")(fn)
    return fn


def namespace_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-n", "--namespace", default=None, help="The namespace (default: the context's).")(fn)


@dataclass
class Session:
    """One command's view of the cluster: its client and the namespace to use by default."""

    api: ApiClient
    namespace: str


def _factory() -> ClientFactory:
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    if isinstance(obj, dict) and callable(obj.get("client_factory")):
        factory: ClientFactory = obj["client_factory"]
        return factory
    return default_factory


def run(kubeconfig: str | None, context: str | None, namespace: str | None,
        action: Callable[[Session], Awaitable[int | None]]) -> None:
    """Run `action` with a client; map errors to kubectl's messages; exit with its code."""
    factory = _factory()

    async def go() -> int | None:
        api = factory(kubeconfig, context)
        try:
            return await action(Session(api, namespace or api.namespace or "default"))
        finally:
            await api.close()

    try:
        code = asyncio.run(go())
    except ApiUnavailable as err:
        click.echo(f"Unable to connect to the server: {err.message}", err=True)
        sys.exit(1)
    except OutcomeUnknown as err:
        click.echo(f"error: {err.message}", err=True)
        sys.exit(1)
    except ApiError as err:
        click.echo(err.kubectl_message(), err=True)
        sys.exit(1)
    except (KubeconfigError, CliError, ValueError) as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code or 0)


def lookup(type_name: str) -> Resource:
    res = cli_lookup(type_name)
    if res is None:
        raise CliError(f'the server doesn\'t have a resource type "{type_name}"')
    return res


def expand_category(type_name: str) -> list[Resource]:
    """`all` (and any category) stands for every resource in it, as in kubectl; else one resource."""
    in_category = [r for r in RESOURCES if type_name.lower() in r.categories]
    return in_category or [lookup(type_name)]


def parse_targets(args: tuple[str, ...]) -> list[tuple[Resource, list[str]]]:
    """kubectl's argument forms: `TYPE[,TYPE] [NAME...]` or `TYPE/NAME [TYPE/NAME...]`."""
    if not args:
        raise CliError("you must specify the type of resource to get")
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise CliError("there is no need to specify a resource type as a separate argument when passing "
                           "arguments in resource/name form")
        out: list[tuple[Resource, list[str]]] = []
        for arg in args:
            type_name, _, name = arg.partition("/")
            res = lookup(type_name)
            if out and out[-1][0] == res:
                out[-1][1].append(name)
            else:
                out.append((res, [name]))
        return out
    types = [res for t in args[0].split(",") if t for res in expand_category(t)]
    if len(types) > 1 and len(args) > 1:
        raise CliError("names cannot be given with several resource types; use TYPE/NAME")
    return [(res, list(args[1:])) for res in types]


def namespace_for(res: Resource, session: Session, obj_namespace: str | None = None) -> str | None:
    if not res.namespaced:
        return None
    return obj_namespace or session.namespace


def parse_duration(text: str, flag: str = "--timeout") -> float:
    """Seconds from `90`, `90s`, `1.5m`, `2h` (kubectl's flags take Go durations); a bad one names `flag`."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    scale = units.get(text[-1:], 1.0)
    try:
        value = float(text[:-1] if text[-1:] in units else text) * scale
    except ValueError:
        raise click.BadParameter(f"invalid duration {text!r}", param_hint=flag) from None
    if value < 0:
        raise click.BadParameter("must not be negative", param_hint=flag)
    return value
