"""networking.k8s.io/v1 Ingress and IngressClass: validation as Kubernetes' networking validation
(ValidateIngressCreate/Update, ValidateIngressClass), defaults, and kubectl's columns.

Ingress: `defaultBackend` or `rules`; every backend names a Service (name, and a port name or number,
not both) or a resource, not both; hosts are DNS names (a leading `*.` allowed), never IPs; every HTTP path
has a pathType (Exact, Prefix, ImplementationSpecific), and Exact/Prefix paths are absolute without `//`,
`/./`, `/../`, `%2f`; TLS hosts and secret names are DNS subdomains; the class annotation and
`spec.ingressClassName` are not both set on create. IngressClass: `spec.controller` is a domain-prefixed
path and immutable; parameters name a kind and a name, scope Cluster (the default) or Namespace.
"""

from __future__ import annotations

from typing import Any

from ..errors import Cause
from . import fielderr as fe
from .base import Column
from .common import ObjectStrategy, child, setdef
from .names import is_dns1035_label, is_dns1123_subdomain, is_ip, is_port_name, is_port_number
from .printing import age, name_of

Obj = dict[str, Any]
PATH_TYPES = ("Exact", "ImplementationSpecific", "Prefix")
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
INVALID_PATH_SEQUENCES = ("//", "/./", "/../", "%2f", "%2F")
INVALID_PATH_SUFFIXES = ("/..", "/.")
MAX_CONTROLLER = 250
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")


def is_wildcard_or_subdomain(host: str) -> list[str]:
    """A DNS-1123 subdomain, or one with a single leading `*.` label (IsWildcardDNS1123Subdomain)."""
    if host.startswith("*."):
        errs = is_dns1123_subdomain(host[2:])
        return [] if not errs else [
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must "
            "consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character "
            "(e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]"
            "([-a-z0-9]*[a-z0-9])?)*')"]
    return is_dns1123_subdomain(host)


def validate_backend(out: list[Cause], path: str, backend: Any) -> None:
    backend = fe.as_dict(backend)
    service, resource = backend.get("service"), backend.get("resource")
    if service is not None and resource is not None:
        out.append(fe.invalid(path, "", "cannot set both resource and service backends"))
        return
    if service is None and resource is None:
        out.append(fe.invalid(path, "", "must specify a resource or service"))
        return
    if resource is not None:
        resource = fe.as_dict(resource)
        for key in ("kind", "name"):
            if not resource.get(key):
                out.append(fe.required(f"{path}.resource.{key}", ""))
        return
    service = fe.as_dict(service)
    name = service.get("name")
    if not name:
        out.append(fe.required(f"{path}.service.name", ""))
    elif fe.check_str(out, f"{path}.service.name", name):
        out.extend(fe.invalid(f"{path}.service.name", name, msg) for msg in is_dns1035_label(name))
    port = fe.as_dict(service.get("port"))
    port_name, number = port.get("name"), port.get("number")
    if port_name and number:
        out.append(fe.invalid(f"{path}.service.port", port, "cannot set both port name & port number"))
    elif port_name:
        if fe.check_str(out, f"{path}.service.port.name", port_name):
            out.extend(fe.invalid(f"{path}.service.port.name", port_name, m) for m in is_port_name(port_name))
    elif number:
        if fe.is_int(number):
            out.extend(fe.invalid(f"{path}.service.port.number", number, m) for m in is_port_number(number))
        else:
            out.append(fe.type_invalid(f"{path}.service.port.number", number, "must be an integer"))
    else:
        out.append(fe.required(f"{path}.service.port", "port name or number is required"))


def validate_http_path(out: list[Cause], path: str, entry: Any) -> None:
    entry = fe.as_dict(entry)
    value, path_type = entry.get("path"), entry.get("pathType")
    if path_type is None or path_type == "":
        out.append(fe.required(f"{path}.pathType", "pathType must be specified"))
    elif path_type not in PATH_TYPES:
        out.append(fe.not_supported(f"{path}.pathType", path_type, PATH_TYPES))
    elif path_type in ("Exact", "Prefix"):
        if not isinstance(value, str) or not value.startswith("/"):
            out.append(fe.invalid(f"{path}.path", value or "", "must be an absolute path"))
        elif value:
            for sequence in INVALID_PATH_SEQUENCES:
                if sequence in value:
                    out.append(fe.invalid(f"{path}.path", value, f"must not contain '{sequence}'"))
            for suffix in INVALID_PATH_SUFFIXES:
                if value.endswith(suffix):
                    out.append(fe.invalid(f"{path}.path", value, f"cannot end with '{suffix}'"))
    elif value and (not isinstance(value, str) or not value.startswith("/")):
        out.append(fe.invalid(f"{path}.path", value, "must be an absolute path"))
    validate_backend(out, f"{path}.backend", entry.get("backend"))


def validate_host(out: list[Cause], path: str, host: Any) -> None:
    if not fe.check_str(out, path, host):
        return
    if not is_ip(host):
        out.append(fe.invalid(path, host, "must be a DNS name, not an IP address"))
        return
    out.extend(fe.invalid(path, host, msg) for msg in is_wildcard_or_subdomain(host))


def validate_ingress_spec(spec: Obj) -> list[Cause]:
    out: list[Cause] = []
    rules = spec.get("rules")
    if not rules and spec.get("defaultBackend") is None:
        out.append(fe.invalid("spec", rules, "either `defaultBackend` or `rules` must be specified"))
    if spec.get("defaultBackend") is not None:
        validate_backend(out, "spec.defaultBackend", spec["defaultBackend"])
    for i, rule in enumerate(fe.as_list(rules)):
        rule, where = fe.as_dict(rule), f"spec.rules[{i}]"
        if rule.get("host"):
            validate_host(out, f"{where}.host", rule["host"])
        http = rule.get("http")
        if http is None:
            continue
        paths = fe.as_dict(http).get("paths")
        if not paths:
            out.append(fe.required(f"{where}.http.paths", ""))
        for j, entry in enumerate(fe.as_list(paths)):
            validate_http_path(out, f"{where}.http.paths[{j}]", entry)
    for i, tls in enumerate(fe.as_list(spec.get("tls"))):
        tls = fe.as_dict(tls)
        for j, host in enumerate(fe.as_list(tls.get("hosts"))):
            if fe.check_str(out, f"spec.tls[{i}].hosts[{j}]", host):
                out.extend(fe.invalid(f"spec.tls[{i}].hosts[{j}]", host, m) for m in is_wildcard_or_subdomain(host))
        secret = tls.get("secretName")
        if secret and fe.check_str(out, f"spec.tls[{i}].secretName", secret):
            out.extend(fe.invalid(f"spec.tls[{i}].secretName", secret, m) for m in is_dns1123_subdomain(secret))
    class_name = spec.get("ingressClassName")
    if class_name is not None and fe.check_str(out, "spec.ingressClassName", class_name):
        out.extend(fe.invalid("spec.ingressClassName", class_name, m) for m in is_dns1123_subdomain(class_name))
    return out


def validate_load_balancer(out: list[Cause], status: Obj) -> None:
    for i, entry in enumerate(fe.as_list(fe.as_dict(status.get("loadBalancer")).get("ingress"))):
        entry, where = fe.as_dict(entry), f"status.loadBalancer.ingress[{i}]"
        if entry.get("ip"):
            out.extend(fe.invalid(f"{where}.ip", entry["ip"], m) for m in is_ip(str(entry["ip"])))
        if entry.get("hostname"):
            hostname = str(entry["hostname"])
            out.extend(fe.invalid(f"{where}.hostname", hostname, m) for m in is_dns1123_subdomain(hostname))
            if not is_ip(hostname):
                out.append(fe.invalid(f"{where}.hostname", hostname, "must be a DNS name, not an IP address"))


def ingress_hosts(obj: Obj) -> str:
    """kubectl's HOSTS: the rules' hosts, `*` for none; more than 4 as `a,b,c + N more...`."""
    hosts = [str(r.get("host")) for r in fe.as_list(fe.as_dict(obj.get("spec")).get("rules"))
             if isinstance(r, dict) and r.get("host")]
    if not hosts:
        return "*"
    if len(hosts) > 4:
        return ",".join(hosts[:3]) + f" + {len(hosts) - 3} more..."
    return ",".join(hosts)


def load_balancer_addresses(obj: Obj) -> str:
    entries = fe.as_list(fe.as_dict(fe.as_dict(obj.get("status")).get("loadBalancer")).get("ingress"))
    return ",".join(str(e.get("ip") or e.get("hostname")) for e in entries
                    if isinstance(e, dict) and (e.get("ip") or e.get("hostname")))


class IngressStrategy(ObjectStrategy):
    kind = "Ingress"

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        spec = obj.get("spec")
        out = validate_ingress_spec(spec if isinstance(spec, dict) else {})
        annotations = fe.as_dict(fe.as_dict(obj.get("metadata")).get("annotations"))
        if old is None and annotations.get(CLASS_ANNOTATION) and fe.as_dict(spec).get("ingressClassName"):
            out.append(fe.invalid(f"annotations.{CLASS_ANNOTATION}", annotations[CLASS_ANNOTATION],
                                  "can not be set when the class field is also set"))
        validate_load_balancer(out, fe.as_dict(obj.get("status")))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Class", description="ingressClassName is the name of an IngressClass cluster resource."),
                Column("Hosts", description="Hosts that incoming requests are matched against."),
                Column("Address", description="Address is a list containing ingress points for the load-balancer."),
                Column("Ports", description="Ports of TLS configurations that open"), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec = fe.as_dict(obj.get("spec"))
        ports = "80, 443" if fe.as_list(spec.get("tls")) else "80"
        return [name_of(obj), spec.get("ingressClassName") or "<none>", ingress_hosts(obj),
                load_balancer_addresses(obj), ports, age(obj, now)]


class IngressClassStrategy(ObjectStrategy):
    kind = "IngressClass"

    def default(self, obj: Obj) -> None:
        parameters = child(obj, "spec").get("parameters")
        if isinstance(parameters, dict):
            setdef(parameters, "scope", "Cluster")

    def validate(self, obj: Obj, old: Obj | None) -> list[Cause]:
        out: list[Cause] = []
        spec = fe.as_dict(obj.get("spec"))
        controller = spec.get("controller")
        if not controller:
            out.append(fe.required("spec.controller", ""))
        elif fe.check_str(out, "spec.controller", controller):
            if len(controller) > MAX_CONTROLLER:
                out.append(fe.too_long("spec.controller", MAX_CONTROLLER))
            domain, slash, rest = controller.partition("/")
            if not slash or not rest:
                out.append(fe.invalid("spec.controller", controller, "must be a domain-prefixed path (such as "
                                                                     "\"acme.io/foo\")"))
            else:
                out.extend(fe.invalid("spec.controller", domain, m) for m in is_dns1123_subdomain(domain))
        if old is not None and controller != fe.as_dict(old.get("spec")).get("controller"):
            out.append(fe.immutable("spec.controller", controller))
        parameters = spec.get("parameters")
        if parameters is not None:
            parameters = fe.as_dict(parameters)
            for key in ("kind", "name"):
                if not parameters.get(key):
                    out.append(fe.required(f"spec.parameters.{key}", ""))
            scope = parameters.get("scope")
            fe.check_enum(out, "spec.parameters.scope", scope, ("Cluster", "Namespace"))
            if scope == "Namespace" and not parameters.get("namespace"):
                out.append(fe.required("spec.parameters.namespace", "`parameters.scope` is set to 'Namespace'"))
            if scope == "Cluster" and parameters.get("namespace"):
                out.append(fe.forbidden("spec.parameters.namespace", "`parameters.scope` is set to 'Cluster'"))
        return out

    def table_columns(self) -> list[Column]:
        return [Column("Name", format="name", description="Name must be unique within a namespace."),
                Column("Controller", description="Controller refers to the name of the controller that should "
                                                 "handle this class."),
                Column("Parameters", description="Parameters is a link to a custom resource containing additional "
                                                 "configuration for the controller."), AGE]

    def table_row(self, obj: Obj, now: float) -> list[Any]:
        spec = fe.as_dict(obj.get("spec"))
        parameters = spec.get("parameters")
        shown = "<none>"
        if isinstance(parameters, dict):
            kind = str(parameters.get("kind") or "")
            if parameters.get("apiGroup"):
                kind += "." + str(parameters["apiGroup"])
            shown = f"{kind}/{parameters.get('name') or ''}"
        return [name_of(obj), spec.get("controller") or "", shown, age(obj, now)]
