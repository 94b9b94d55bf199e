"""The ingress controller's routing table: a pure function of (IngressClasses, Ingresses, Services,
Endpoints) -> where a request for (host, path) goes, and which Secret serves a TLS host.

    table = build_table(classes, ingresses, services, endpoints, controller="raftkube.io/ingress")
    route = table.match("shop.example.com", "/cart/items")   # -> Route(...) or None
    route.backends                                             # ready (ip, port) pairs of its Service

Which Ingresses are ours (as Kubernetes' ingress controllers decide): `spec.ingressClassName` names an
IngressClass whose `spec.controller` is ours; or the deprecated `kubernetes.io/ingress.class` annotation
names such a class; or neither is set and one of our classes is the default
(`ingressclass.kubernetes.io/is-default-class: "true"`).

Matching, as the Ingress API specifies: the rule for the exact host wins over a wildcard rule
(`*.example.com` matches exactly one more leading label), which wins over rules without a host. Within
the host's paths the longest match wins, Exact over Prefix at equal length; Prefix matches by path
elements (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`; a trailing `/` in the rule is
ignored); ImplementationSpecific is matched as Prefix. A request matching no rule goes to the
defaultBackend of the oldest Ingress that has one (else 404). Backends are the ready endpoints of the
Service port the backend names (by number or name), found through the port's name in Endpoints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
_EXACT, _PREFIX = 1, 0  # tie-break: Exact wins over Prefix at equal length


@dataclass(frozen=True)
class Route:
    namespace: str
    ingress: str
    service: str
    port: str  # the Service port as the backend names it ("80" or "http")
    path: str = ""
    path_type: str = "Prefix"
    backends: tuple[tuple[str, int], ...] = ()


@dataclass
class _Rules:
    routes: list[Route] = field(default_factory=list)


@dataclass
class IngressTable:
    hosts: dict[str, _Rules] = field(default_factory=dict)  # exact host -> its routes
    wildcards: dict[str, _Rules] = field(default_factory=dict)  # ".example.com" -> routes of *.example.com
    any_host: _Rules = field(default_factory=_Rules)
    default: Route | None = None
    tls: dict[str, tuple[str, str]] = field(default_factory=dict)  # host or "*.domain" -> (namespace, secret)
    ingresses: list[Obj] = field(default_factory=list)  # the Ingresses this controller serves

    def _host_rules(self, host: str) -> list[_Rules]:
        found = []
        if host in self.hosts:
            found.append(self.hosts[host])
        head, dot, rest = host.partition(".")
        if dot and "." + rest in self.wildcards:
            found.append(self.wildcards["." + rest])
        found.append(self.any_host)
        return found

    def match(self, host: str, path: str) -> Route | None:
        host = host.lower().rstrip(".").split(":", 1)[0] if not host.startswith("[") else host.lower()
        for rules in self._host_rules(host):
            best: tuple[int, int, Route] | None = None
            for route in rules.routes:
                score = match_score(route, path)
                if score is not None and (best is None or score > best[:2]):
                    best = (*score, route)
            if best is not None:
                return best[2]
        return self.default

    def secret_for(self, server_name: str) -> tuple[str, str] | None:
        name = server_name.lower().rstrip(".")
        if name in self.tls:
            return self.tls[name]
        head, dot, rest = name.partition(".")
        return self.tls.get("*." + rest) if dot else None


def match_score(route: Route, path: str) -> tuple[int, int] | None:
    """(length, exactness) of the match of `path` against the route's path, None for no match."""
    wanted = route.path or "/"
    if route.path_type == "Exact":
        return (len(wanted), _EXACT) if path == wanted else None
    prefix = wanted.rstrip("/")
    if prefix == "":
        return (0, _PREFIX)
    if path == prefix or path.startswith(prefix + "/"):
        return (len(prefix), _PREFIX)
    return None


def is_default_class(ingress_class: Obj) -> bool:
    annotations = (ingress_class.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true"


def ours(ingress: Obj, classes: dict[str, Obj], controller: str) -> bool:
    mine = {name for name, cls in classes.items() if (cls.get("spec") or {}).get("controller") == controller}
    name = (ingress.get("spec") or {}).get("ingressClassName") or \
        ((ingress.get("metadata") or {}).get("annotations") or {}).get(CLASS_ANNOTATION)
    if name:
        return name in mine
    return any(is_default_class(classes[n]) for n in mine)


def resolve_backends(backend: Obj, namespace: str, services: dict[tuple[str, str], Obj],
                     endpoints: dict[tuple[str, str], Obj]) -> tuple[str, str, tuple[tuple[str, int], ...]]:
    """(service, port as named, ready endpoints) of an Ingress backend; no endpoints when it cannot resolve."""
    service_ref = backend.get("service") or {}
    name = str(service_ref.get("name") or "")
    port_ref = service_ref.get("port") or {}
    wanted = str(port_ref.get("number") or port_ref.get("name") or "")
    service = services.get((namespace, name))
    if service is None:
        return name, wanted, ()
    ports = [p for p in (service.get("spec") or {}).get("ports") or [] if isinstance(p, dict)]
    port = next((p for p in ports if (port_ref.get("number") and p.get("port") == port_ref.get("number"))
                 or (port_ref.get("name") and p.get("name") == port_ref.get("name"))), None)
    if port is None:
        return name, wanted, ()
    port_name = str(port.get("name") or "")
    found: list[tuple[str, int]] = []
    for subset in (endpoints.get((namespace, name)) or {}).get("subsets") or []:
        number = next((p.get("port") for p in subset.get("ports") or []
                       if str(p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == "TCP"), None)
        if not isinstance(number, int):
            continue
        for address in subset.get("addresses") or []:
            ip = (address or {}).get("ip")
            if ip and (ip, number) not in found:
                found.append((str(ip), number))
    return name, wanted, tuple(found)


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def build_table(classes: Iterable[Obj], ingresses: Iterable[Obj], services: Iterable[Obj],
                endpoints: Iterable[Obj], controller: str) -> IngressTable:
    by_class = {str((c.get("metadata") or {}).get("name")): c for c in classes}
    by_service = {_key(s): s for s in services}
    by_endpoints = {_key(e): e for e in endpoints}
    table = IngressTable()
    oldest_first = sorted(ingresses, key=lambda i: (str((i.get("metadata") or {}).get("creationTimestamp") or ""),
                                                     _key(i)))
    for ingress in oldest_first:
        if not ours(ingress, by_class, controller):
            continue
        table.ingresses.append(ingress)
        namespace, name = _key(ingress)
        spec = ingress.get("spec") or {}
        if spec.get("defaultBackend") and table.default is None:
            service, port, backends = resolve_backends(spec["defaultBackend"], namespace, by_service, by_endpoints)
            table.default = Route(namespace, name, service, port, backends=backends)
        for rule in spec.get("rules") or []:
            host = str(rule.get("host") or "").lower()
            if host.startswith("*."):
                rules = table.wildcards.setdefault(host[1:], _Rules())
            elif host:
                rules = table.hosts.setdefault(host, _Rules())
            else:
                rules = table.any_host
            for entry in (rule.get("http") or {}).get("paths") or []:
                service, port, backends = resolve_backends(entry.get("backend") or {}, namespace, by_service,
                                                           by_endpoints)
                path_type = entry.get("pathType") or "Prefix"
                rules.routes.append(Route(namespace, name, service, port, str(entry.get("path") or "/"),
                                          "Exact" if path_type == "Exact" else "Prefix", backends))
        for tls in spec.get("tls") or []:
            secret = tls.get("secretName")
            for host in tls.get("hosts") or []:
                if secret and str(host).lower() not in table.tls:
                    table.tls[str(host).lower()] = (namespace, str(secret))
    return table
