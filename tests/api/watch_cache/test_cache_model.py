"""Model test: after any sequence of writes, lists through the watch cache equal lists from the store.

Hypothesis draws creates, updates and deletes of ConfigMaps in a few namespaces with a few labels,
and lists between them: consistent (resourceVersion unset), "0" once the cache caught up,
NotOlderThan a revision seen earlier, and paginated lists with writes between the pages (later
pages must still show the first page's revision: the store at that revision is the reference).
Every list runs with a random namespace, label selector, field selector and limit.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raftkube.api.selectors import parse_field_selector, parse_label_selector
from raftkube.api.storage import ListResult
from tests.api.watch_cache.conftest import CONFIGMAPS, CacheWorld

_examples = itertools.count()
NAMES = ["a", "b", "c", "d", "e"]
LABELS = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]), max_size=2)
SELECTORS = ["", "app=x", "app!=x", "app in (x,y)", "!tier", "tier,app=y"]
FIELDS = ["", "metadata.name=b", "metadata.name!=a"]

write = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 2), st.sampled_from(NAMES), LABELS),
    st.tuples(st.just("delete"), st.integers(0, 2), st.sampled_from(NAMES)),
)
list_op = st.tuples(st.just("list"), st.sampled_from(["consistent", "any", "not-older", "pages"]),
                    st.one_of(st.none(), st.integers(0, 2)), st.sampled_from(SELECTORS), st.sampled_from(FIELDS),
                    st.integers(0, 3))
ops = st.lists(st.one_of(write, write, list_op), min_size=1, max_size=25)


def summary(result: ListResult) -> list[tuple[str, str, str, Any]]:
    return [(o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"],
             o["metadata"].get("labels")) for o in result.items]


async def run_list(world: CacheWorld, ns: str | None, op: tuple, seen: list[int], writes: Any) -> None:
    _, mode, _, selector, field_text, limit = op
    labels = parse_label_selector(selector) if selector else None
    fields = parse_field_selector(field_text, "ConfigMap") if field_text else None
    if mode == "consistent":
        got = await world.cached.list(CONFIGMAPS, ns, labels, fields, limit)
        want = await world.storage.list(CONFIGMAPS, ns, labels, fields, limit)
        assert (summary(got), got.resource_version) == (summary(want), want.resource_version)
        assert bool(got.continue_token) == bool(want.continue_token)
    elif mode == "any":
        assert await world.cache.cache_for(CONFIGMAPS, 10) is not None  # made and loaded on first use
        assert await world.cache.wait_for(await world.revision(), 10)
        got = await world.cached.list(CONFIGMAPS, ns, labels, fields, 0, resource_version="0")
        want = await world.storage.list(CONFIGMAPS, ns, labels, fields)
        assert summary(got) == summary(want) and got.resource_version == want.resource_version
    elif mode == "not-older":
        rv = seen[len(seen) // 2] if seen else 1
        got = await world.cached.list(CONFIGMAPS, ns, labels, fields, 0, resource_version=str(rv),
                                      match="NotOlderThan")
        assert got.resource_version >= rv
        want = await world.storage.list(CONFIGMAPS, ns, labels, fields, revision=got.resource_version)
        assert summary(got) == summary(want)
    else:  # pages, a write between pages
        first = await world.cached.list(CONFIGMAPS, ns, labels, fields, 1)
        items, token = list(first.items), first.continue_token
        while token:
            await writes()
            page = await world.cached.list(CONFIGMAPS, ns, labels, fields, 1, token)
            assert page.resource_version == first.resource_version
            items += page.items
            token = page.continue_token
        want = await world.storage.list(CONFIGMAPS, ns, labels, fields, revision=first.resource_version)
        assert summary(ListResult(items, 0)) == summary(want)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=ops)
def test_lists_from_the_cache_equal_lists_from_the_store(world: CacheWorld, ops: list[tuple]) -> None:
    example = next(_examples)
    namespaces = [f"m{example}-{i}" for i in range(3)]

    async def scenario() -> None:
        seen: list[int] = []
        counter = itertools.count()

        async def one_write() -> None:
            n = next(counter)
            seen.append(await world.put(namespaces[n % 3], NAMES[n % len(NAMES)], {"app": "x"} if n % 2 else {}))
        for op in ops:
            if op[0] == "put":
                seen.append(await world.put(namespaces[op[1]], op[2], op[3]))
            elif op[0] == "delete":
                await world.delete(namespaces[op[1]], op[2])
            else:
                ns = None if op[2] is None else namespaces[op[2]]
                await run_list(world, ns, op, seen, one_write)
    before = world.cached.from_cache
    world.run(scenario(), timeout=120)
    lists = sum(op[0] == "list" for op in ops)
    assert world.cached.from_cache - before >= lists - sum(op[0] == "list" and op[1] == "pages" for op in ops)
