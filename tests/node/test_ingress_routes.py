"""The ingress routing table (pure): which Ingresses are ours, host precedence (exact > wildcard > any),
longest path match with Exact over Prefix, Prefix by path elements, defaultBackend, backends resolved
through the Service port's name, TLS secrets by server name; and the validation of Ingress objects."""

from __future__ import annotations

from typing import Any

from raftkube.api.kinds.ingress import IngressClassStrategy, IngressStrategy
from raftkube.node.ingress_routes import Route, build_table, match_score

Obj = dict[str, Any]
CONTROLLER = "raftkube.io/ingress-controller"


def ingress_class(name: str, controller: str = CONTROLLER, default: bool = False) -> Obj:
    annotations = {"ingressclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "annotations": annotations}, "spec": {"controller": controller}}


def path(p: str, service: str, path_type: str = "Prefix", port: Obj | None = None) -> Obj:
    return {"path": p, "pathType": path_type, "backend": {"service": {"name": service, "port": port or {"number": 80}}}}


def ingress(name: str, rules: list[Obj], class_name: str | None = "rk", **spec: Any) -> Obj:
    body: Obj = {"metadata": {"namespace": "ns", "name": name, "creationTimestamp": f"2026-01-01T00:00:0{len(name)}Z"},
                 "spec": {"rules": rules, **spec}}
    if class_name:
        body["spec"]["ingressClassName"] = class_name
    return body


def service(name: str) -> Obj:
    return {"metadata": {"namespace": "ns", "name": name},
            "spec": {"ports": [{"name": "web", "port": 80, "targetPort": 8080}]}}


def endpoints(name: str, *ips: str) -> Obj:
    return {"metadata": {"namespace": "ns", "name": name},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips], "ports": [{"name": "web", "port": 8080}]}]}


def table(*ingresses: Obj, classes: list[Obj] | None = None) -> Any:
    names = ("a", "b", "c")
    return build_table(classes if classes is not None else [ingress_class("rk")], ingresses,
                       [service(n) for n in names], [endpoints(n, f"127.98.9.{i + 1}") for i, n in enumerate(names)],
                       CONTROLLER)


def served_by(route: Route | None) -> str | None:
    return route.service if route else None


def test_prefix_matches_by_path_elements_and_exact_wins_ties() -> None:
    route = Route("ns", "i", "a", "80", "/foo/", "Prefix")
    assert [match_score(route, p) is not None for p in ("/foo", "/foo/", "/foo/bar", "/foobar", "/")] == [
        True, True, True, False, False]
    rules = [{"host": "x.example.com", "http": {"paths": [path("/", "a"), path("/api", "b"), path("/api", "c", "Exact"),
                                                        path("/api/v2", "a")]}}]
    routes = table(ingress("one", rules))
    assert [served_by(routes.match("x.example.com", p)) for p in ("/", "/api", "/api/", "/api/v2/x", "/apix")] == [
        "a", "c", "b", "a", "a"]


def test_host_precedence_exact_then_wildcard_then_any() -> None:
    rules = [{"host": "*.example.com", "http": {"paths": [path("/", "b")]}},
             {"host": "shop.example.com", "http": {"paths": [path("/cart", "a")]}},
             {"http": {"paths": [path("/", "c")]}}]
    routes = table(ingress("one", rules))
    assert served_by(routes.match("shop.example.com", "/cart/1")) == "a"
    assert served_by(routes.match("shop.example.com", "/other")) == "b"  # exact host has no match: wildcard next
    assert served_by(routes.match("blog.example.com:8080", "/")) == "b"
    assert served_by(routes.match("a.b.example.com", "/")) == "c"  # a wildcard matches one label only
    assert served_by(routes.match("example.com", "/")) == "c"


def test_default_backend_of_the_oldest_ingress_and_backends() -> None:
    routes = table(ingress("second", [], defaultBackend={"service": {"name": "b", "port": {"name": "web"}}}),
                   ingress("x", [{"host": "h", "http": {"paths": [path("/", "a")]}}],
                           defaultBackend={"service": {"name": "a", "port": {"number": 80}}}))
    fallback = routes.match("nowhere", "/")
    assert fallback is not None and fallback.service == "a" and fallback.backends == (("127.98.9.1", 8080),)
    assert served_by(routes.match("h", "/")) == "a"
    missing = table(ingress("one", [{"http": {"paths": [path("/", "a", port={"number": 81})]}}])).match("h", "/")
    assert missing is not None and missing.backends == ()  # no such Service port: no endpoints (503)


def test_which_ingresses_are_ours() -> None:
    classes = [ingress_class("rk", default=True), ingress_class("nginx", "k8s.io/ingress-nginx")]
    rule = [{"http": {"paths": [path("/", "a")]}}]
    theirs = ingress("t", rule, "nginx")
    annotated = ingress("an", rule, None)
    annotated["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx"}
    chosen = build_table(classes, [theirs, annotated, ingress("none", rule, None), ingress("mine", rule)],
                         [service("a")], [], CONTROLLER)
    assert [i["metadata"]["name"] for i in chosen.ingresses] == ["mine", "none"]
    no_default = build_table([ingress_class("rk")], [ingress("none", rule, None)], [], [], CONTROLLER)
    assert no_default.ingresses == []


def test_tls_secret_by_server_name() -> None:
    routes = table(ingress("one", [], tls=[{"hosts": ["shop.example.com", "*.blog.example.com"], "secretName": "s"}],
                           defaultBackend={"service": {"name": "a", "port": {"number": 80}}}))
    assert routes.secret_for("SHOP.example.com") == ("ns", "s")
    assert routes.secret_for("x.blog.example.com") == ("ns", "s")
    assert routes.secret_for("blog.example.com") is None and routes.secret_for("other") is None


def messages(obj: Obj, strategy: Any = None, old: Obj | None = None) -> list[str]:
    return [f"{c.field}: {c.message}" for c in (strategy or IngressStrategy("Ingress", True)).validate(obj, old)]


def test_ingress_validation_messages() -> None:
    good = ingress("g", [{"host": "*.example.com", "http": {"paths": [path("/", "a")]}}])
    assert messages(good) == []
    both = ingress("b", [{"http": {"paths": [path("/", "a")]}}])
    both["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "rk"}
    assert messages(both) == ["annotations.kubernetes.io/ingress.class: Invalid value: \"rk\": can not be set when "
                              "the class field is also set"]
    assert messages(both, old=both) == []  # only refused on create
    bad_path = ingress("p", [{"http": {"paths": [path("/a//b", "a", "Exact"), path("/x/..", "a")]}}])
    assert messages(bad_path) == [
        "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'",
        "spec.rules[0].http.paths[1].path: Invalid value: \"/x/..\": cannot end with '/..'"]
    backend = ingress("r", [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {}}]}}])
    assert messages(backend) == ["spec.rules[0].http.paths[0].backend: Invalid value: \"\": must specify a resource "
                                 "or service"]
    empty = ingress("e", [{"http": {"paths": []}}])
    assert messages(empty) == ["spec.rules[0].http.paths: Required value"]


def test_ingress_class_validation_and_columns() -> None:
    strategy = IngressClassStrategy("IngressClass", False)
    good = {"metadata": {"name": "rk"}, "spec": {"controller": CONTROLLER, "parameters": {
        "apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "external-lb"}}}
    strategy.default(good)
    assert good["spec"]["parameters"]["scope"] == "Cluster" and messages(good, strategy) == []
    assert strategy.table_row(good, 0.0)[:3] == ["rk", CONTROLLER, "IngressParameters.k8s.example.com/external-lb"]
    changed = {"metadata": {"name": "rk"}, "spec": {"controller": "example.com/other"}}
    assert messages(changed, strategy, old=good) == [
        'spec.controller: Invalid value: "example.com/other": field is immutable']
    assert messages({"metadata": {"name": "x"}, "spec": {"controller": "nodomain"}}, strategy) == [
        'spec.controller: Invalid value: "nodomain": must be a domain-prefixed path (such as "acme.io/foo")']
