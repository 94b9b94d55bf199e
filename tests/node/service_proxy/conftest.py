"""Fixtures of the service proxy tests (the in-process server `api` is in tests/conftest.py): a client, a namespace
of the test's own, a started `ServiceProxy` and the test's pods."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

import pytest

from raftkube.client import ApiClient
from raftkube.node.service_proxy import ServiceProxy
from tests.api.inproc import TOKEN, InProcessAPI
from tests.node.service_proxy.support import (
    NAMESPACE,
    SERVICE,
    WAIT,
    Pods,
)


@pytest.fixture
async def client(api: InProcessAPI) -> AsyncIterator[ApiClient]:
    async with ApiClient(api.url, TOKEN) as client:
        yield client


@pytest.fixture
async def ns(client: ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    name = request.node.name.replace("_", "-")[:50].strip("-") + f"-{os.getpid() % 1000}"
    await client.create(NAMESPACE, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    for service in (await client.list(SERVICE, name))["items"]:
        with contextlib.suppress(Exception):
            await client.delete(SERVICE, service["metadata"]["name"], name)


@pytest.fixture
async def proxy(client: ApiClient) -> AsyncIterator[ServiceProxy]:
    proxy = ServiceProxy(client)
    await proxy.start(timeout=WAIT)
    yield proxy
    await proxy.stop()


@pytest.fixture
async def pods() -> AsyncIterator[Pods]:
    pods = Pods()
    yield pods
    pods.close()
