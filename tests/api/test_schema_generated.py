"""The generated schema tables: up to date with the pinned spec and every root generated (their
equality with the hand-kept tables they replaced: test_schema_equals_handkept)."""

from __future__ import annotations

from raftkube.api.schema import TYPES, generated
from raftkube.api.schema import generate as gen
from raftkube.api.schema.proto_numbers import NUMBERS
from raftkube.api.schema.roots import ROOTS


def test_the_checked_in_output_is_what_the_generator_writes() -> None:
    for name, content in gen.outputs().items():
        assert (gen.OUT / name).read_text(encoding="utf-8") == content, f"{name} is stale: re-run the generator"
    assert gen.main(["--check"]) == 0


def test_every_root_and_what_it_reaches_is_in_the_schema() -> None:
    assert generated.ROOTS == ROOTS
    for root in ROOTS:
        assert root in TYPES and root in generated.KINDS, root
    statefulset = TYPES["io.k8s.api.apps.v1.StatefulSetSpec"]
    assert statefulset["volumeClaimTemplates"].type == "[]io.k8s.api.core.v1.PersistentVolumeClaim"
    assert statefulset["serviceName"].required and statefulset["template"].required
    ingress = TYPES["io.k8s.api.networking.v1.IngressSpec"]["rules"]
    assert ingress.list_type == "atomic" and ingress.type == "[]io.k8s.api.networking.v1.IngressRule"
    assert "x-kubernetes-preserve-unknown-fields" in TYPES[
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]
    assert NUMBERS["io.k8s.api.networking.v1.IngressClassParametersReference"]["apiGroup"] == 1
    assert NUMBERS["io.k8s.api.apps.v1.StatefulSetSpec"]["volumeClaimTemplates"] == 4


def test_the_generator_refuses_an_unknown_root() -> None:
    try:
        gen.reachable(gen.load_definitions(), ("io.k8s.api.core.v1.NoSuchKind",))
    except SystemExit as err:
        assert "NoSuchKind" in str(err)
    else:
        raise AssertionError("an unknown root was accepted")
