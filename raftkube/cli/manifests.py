"""Reading manifests for `apply -f` / `delete -f`: files, folders (.yaml/.yml/.json), or `-` for stdin.

Multi-document YAML is split; `kind: List` (or any `*List` with `items`) is expanded; empty
documents are skipped. Each object comes back with the file it came from, for messages.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import yaml

from .common import CliError

Obj = dict[str, Any]
EXTENSIONS = (".yaml", ".yml", ".json")


def _files(path: str, recursive: bool) -> list[str]:
    if path == "-":
        return ["-"]
    if os.path.isdir(path):
        found: list[str] = []
        for root, dirs, files in os.walk(path):
            dirs.sort()
            found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(EXTENSIONS))
            if not recursive:
                break
        return found
    if not os.path.exists(path):
        raise CliError(f'the path "{path}" does not exist')
    return [path]


def _expand(doc: Any, source: str) -> list[Obj]:
    if doc is None:
        return []
    if not isinstance(doc, dict):
        raise CliError(f'error parsing {source}: a manifest must be a mapping, got {type(doc).__name__}')
    if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        return [obj for item in doc["items"] for obj in _expand(item, source)]
    if not doc.get("apiVersion") or not doc.get("kind"):
        raise CliError(f"error validating {source}: apiVersion and kind are required")
    if not (doc.get("metadata") or {}).get("name"):
        raise CliError(f"error validating {source}: metadata.name is required")
    return [doc]


def load_manifests(paths: tuple[str, ...] | list[str], recursive: bool = False) -> list[tuple[str, Obj]]:
    """(source, object) for every object in `paths`, in file and document order."""
    out: list[tuple[str, Obj]] = []
    for path in paths:
        for name in _files(path, recursive):
            source = "STDIN" if name == "-" else name
            try:
                if name == "-":
                    text = sys.stdin.read()
                else:
                    with open(name) as f:
                        text = f.read()
                docs = list(yaml.safe_load_all(text))
            except (OSError, yaml.YAMLError) as exc:
                raise CliError(f"error reading {source}: {exc}") from exc
            for doc in docs:
                out.extend((source, obj) for obj in _expand(doc, source))
    if not out:
        raise CliError("no objects passed" if paths else "must specify -f")
    return out
