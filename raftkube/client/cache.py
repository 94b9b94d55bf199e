"""The informer's local store: objects keyed `namespace/name` (or `name`), with secondary indexes.

An index function maps an object to the index values it belongs to (client-go's
`IndexFunc`); `by_index("node", "n1")` then answers from memory. Only the informer writes.
"""

from __future__ import annotations

import builtins
from typing import Any, Callable, Iterable

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]


def object_key(obj: Obj) -> str:
    """`namespace/name` for namespaced objects, `name` for cluster-scoped ones."""
    meta = obj.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name", "")
    return f"{namespace}/{name}" if namespace else str(name)


def split_key(key: str) -> tuple[str | None, str]:
    namespace, sep, name = key.partition("/")
    return (namespace, name) if sep else (None, key)


def resource_version(obj: Obj | None) -> str | None:
    return ((obj or {}).get("metadata") or {}).get("resourceVersion")


def index_by_namespace(obj: Obj) -> list[str]:
    namespace = (obj.get("metadata") or {}).get("namespace")
    return [namespace] if namespace else []


def index_by_node_name(obj: Obj) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


def index_by_labels(obj: Obj) -> list[str]:
    """One value `key=value` per label."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return [f"{k}={v}" for k, v in labels.items()]


def index_by_owner_uid(obj: Obj) -> list[str]:
    """The uid of the controller owner (ownerReferences with controller: true)."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [str(r["uid"]) for r in refs if r.get("controller") and r.get("uid")]


def index_by_label(label: str) -> IndexFunc:
    """An index on one label's value."""
    def index(obj: Obj) -> list[str]:
        value = ((obj.get("metadata") or {}).get("labels") or {}).get(label)
        return [value] if value is not None else []
    return index


class Cache:
    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._values: dict[str, dict[str, list[str]]] = {}  # index -> key -> values it is under
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    def has_indexer(self, name: str) -> bool:
        return name in self._indexers

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self._indexers[name] = fn
        self._indices[name] = {}
        self._values[name] = {}
        for key, obj in self._items.items():
            self._index(name, key, obj)

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def get_by_name(self, name: str, namespace: str | None = None) -> Obj | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def list(self) -> builtins.list[Obj]:
        return list(self._items.values())

    def index_values(self, index: str) -> builtins.list[str]:
        return [v for v, keys in self._indices[index].items() if keys]

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        return sorted(self._indices[index].get(value, ()))

    def by_index(self, index: str, value: str) -> builtins.list[Obj]:
        return [self._items[k] for k in self.index_keys(index, value)]

    # -- writes (the informer's) -----------------------------------------------------------------

    def put(self, obj: Obj) -> Obj | None:
        """Store `obj`; returns the object it replaced (None if new)."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key)
        self._items[key] = obj
        for name in self._indexers:
            self._index(name, key, obj)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def _index(self, name: str, key: str, obj: Obj) -> None:
        values = list(dict.fromkeys(self._indexers[name](obj)))
        self._values[name][key] = values
        for value in values:
            self._indices[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str) -> None:
        for name in self._indexers:
            for value in self._values[name].pop(key, []):
                keys = self._indices[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indices[name][value]
