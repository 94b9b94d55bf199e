"""Generate the schema tables from the pinned Kubernetes v1.32 spec: `python -m raftkube.api.schema.generate`.

Reads `spec/kubernetes-v1.32-swagger.json.gz` (the API's OpenAPI definitions) and
`spec/kubernetes-api-v0.32.0-generated-proto.tar.gz` (protobuf field numbers), takes every
definition reachable from `roots.ROOTS`, and writes the checked-in output the server loads at
import (`generated.py`):
- `generated/types.json`: per type its description, whether it is atomic
  (x-kubernetes-map-type: atomic) or a kind (x-kubernetes-group-version-kind) and its fields in
  the `model.Field` format (attributes at their default left out); the MicroTime fields and the
  free-form fields whose protobuf form is JSON bytes (RawExtension, FieldsV1);
- `generated/proto_numbers.json`: per type the field numbers (`proto_numbers` format).
`--check` compares instead of writing (exit 1 when the output is stale).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from .enums import ENUMS
from .model import Field, TypeFields
from .openapi_import import (
    MICRO_TIME,
    NAMED_PRIMITIVES,
    definition_fields,
    element_type,
    ref_name,
    referenced_definitions,
)
from .proto_source import Messages, Number, message_numbers, parse_proto
from .roots import ROOTS

HERE = Path(__file__).resolve().parent
SPEC = HERE / "spec" / "kubernetes-v1.32-swagger.json.gz"
PROTOS = HERE / "spec" / "kubernetes-api-v0.32.0-generated-proto.tar.gz"
OUT = HERE / "generated"
TYPES_FILE = "types.json"
NUMBERS_FILE = "proto_numbers.json"
RAW_JSON_MESSAGES = ("io.k8s.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1")
"""Free-form fields whose protobuf message holds the JSON bytes in field 1."""
_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Field)}


def load_definitions(path: Path = SPEC) -> dict[str, Any]:
    """The `definitions` of the pinned OpenAPI v2 document."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        definitions: dict[str, Any] = json.load(fh)["definitions"]
    return definitions


def load_messages(path: Path = PROTOS) -> Messages:
    """Every message of the pinned generated.proto files, by OpenAPI type name."""
    messages: Messages = {}
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith("generated.proto"):
                fh = tar.extractfile(member)
                if fh is not None:
                    messages.update(parse_proto(io.TextIOWrapper(fh, encoding="utf-8").read()))
    return messages


def reachable(definitions: dict[str, Any], roots: tuple[str, ...]) -> list[str]:
    """The roots and every definition they reach (named primitives excluded), in discovery order."""
    seen: dict[str, None] = {}
    todo = list(reversed(roots))
    while todo:
        name = todo.pop()
        if name in seen or name in NAMED_PRIMITIVES:
            continue
        if name not in definitions:
            raise SystemExit(f"generate: {name!r} is not a definition of the pinned spec")
        seen[name] = None
        todo.extend(reversed(referenced_definitions(definition_fields(definitions[name]))))
    return list(seen)


def encode_field(field: Field) -> dict[str, Any]:
    """A field as JSON: its attributes that differ from the default."""
    out: dict[str, Any] = {}
    for name, default in _DEFAULTS.items():
        value = getattr(field, name)
        if value != default:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def completed(definitions: dict[str, Any], name: str, fields: TypeFields) -> TypeFields:
    """The fields of `name` as served: those without a description described by their type (as kubectl
    explain does), enum values added (`enums.py`), and list attributes only on lists (upstream marks
    Status.details, a struct, x-kubernetes-list-type: atomic; a struct is replaced whole anyway)."""
    out = {}
    for key, field in fields.items():
        if not field.description:
            inner = element_type(field.type)
            field = dataclasses.replace(field, description=definitions.get(inner, {}).get("description", ""))
        if (name, key) in ENUMS:
            field = dataclasses.replace(field, enum=ENUMS[name, key])
        if not field.type.startswith("[]") and (field.list_type or field.list_map_keys):
            field = dataclasses.replace(field, list_type=None, list_map_keys=())
        out[key] = field
    return out


def build_types(definitions: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The content of `types.json`."""
    types: dict[str, Any] = {}
    micro: list[list[str]] = []
    raw_json: list[list[str]] = []
    for name in names:
        definition = definitions[name]
        fields = completed(definitions, name, definition_fields(definition))
        entry: dict[str, Any] = {"description": definition.get("description", "")}
        if definition.get("x-kubernetes-map-type") == "atomic":
            entry["atomic"] = True
        if definition.get("x-kubernetes-group-version-kind"):
            entry["kind"] = True
        entry["fields"] = {key: encode_field(field) for key, field in fields.items()}
        types[name] = entry
        for key, prop in definition.get("properties", {}).items():
            inner = ref_name(prop.get("items", prop))
            if inner == MICRO_TIME:
                micro.append([name, key])
            elif inner in RAW_JSON_MESSAGES:
                raw_json.append([name, key])
    return {"source": {"spec": SPEC.name, "protos": PROTOS.name, "roots": list(ROOTS)},
            "micro_times": micro, "raw_json": raw_json, "types": types}


def build_numbers(messages: Messages, types: dict[str, TypeFields]) -> dict[str, dict[str, Number]]:
    """The content of `proto_numbers.json`: the numbers of each generated type that has a message."""
    out: dict[str, dict[str, Number]] = {}
    for name, fields in types.items():
        numbers = message_numbers(messages, name, set(fields))
        if numbers:
            out[name] = numbers
            unnumbered = set(fields) - set(numbers) - ({"apiVersion", "kind"} if "metadata" in fields else set())
            if unnumbered:
                print(f"generate: no protobuf number for {name}: {sorted(unnumbered)}", file=sys.stderr)
    return out


def render(data: dict[str, Any], per_line: str) -> str:
    """JSON with one entry of `data[per_line]` per line, so diffs of re-generation read per type."""
    head = {key: value for key, value in data.items() if key != per_line}
    opening = json.dumps(head, sort_keys=True)[:-1] + (", " if head else "")
    lines = [opening + f'"{per_line}": {{']
    entries = list(data[per_line].items())
    for index, (key, value) in enumerate(entries):
        comma = "," if index < len(entries) - 1 else ""
        lines.append(f"{json.dumps(key)}: {json.dumps(value, separators=(',', ':'))}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def outputs() -> dict[str, str]:
    """File name -> content of everything the generator writes."""
    definitions = load_definitions()
    names = reachable(definitions, ROOTS)
    unknown_enums = sorted(f"{name}.{key}" for name, key in ENUMS if name not in names
                           or key not in definitions[name].get("properties", {}))
    if unknown_enums:
        raise SystemExit(f"generate: enums.py names fields the spec does not have: {', '.join(unknown_enums)}")
    types = build_types(definitions, names)
    fields = {name: definition_fields(definitions[name]) for name in names}
    numbers = build_numbers(load_messages(), fields)
    return {TYPES_FILE: render(types, "types"), NUMBERS_FILE: render({"numbers": numbers}, "numbers")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raftkube.api.schema.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the checked-in output is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, content in outputs().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(name)
        else:
            OUT.mkdir(exist_ok=True)
            path.write_text(content, encoding="utf-8")
            print(f"wrote {path} ({len(content)} bytes)")
    if stale:
        print(f"stale: {', '.join(stale)}; run python -m raftkube.api.schema.generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
