"""The generated schema tables: up to date with the pinned spec, every root generated, and the
protobuf numbers of every type both the generator and the hand-kept tables know agree."""

from __future__ import annotations

from raftkube.api.schema import TYPES, generated, proto_numbers_kinds, proto_numbers_pod, proto_numbers_rbac
from raftkube.api.schema import generate as gen
from raftkube.api.schema.proto_numbers import _META, NUMBERS
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


def test_generated_numbers_equal_the_hand_kept_ones() -> None:
    hand_kept = {**_META, **proto_numbers_pod.NUMBERS, **proto_numbers_kinds.NUMBERS, **proto_numbers_rbac.NUMBERS}
    both = sorted(set(hand_kept) & set(generated.NUMBERS))
    assert len(both) > 40
    differences = {name: (hand_kept[name], generated.NUMBERS[name]) for name in both
                   if hand_kept[name] != generated.NUMBERS[name]}
    assert differences == {}


def test_the_generator_refuses_an_unknown_root() -> None:
    try:
        gen.reachable(gen.load_definitions(), ("io.k8s.api.core.v1.NoSuchKind",))
    except SystemExit as err:
        assert "NoSuchKind" in str(err)
    else:
        raise AssertionError("an unknown root was accepted")
