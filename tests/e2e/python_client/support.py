"""Helpers of the official-client tests: an ApiClient for one replica, object builders, a retry for
transient connection errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.e2e.cluster import E2ECluster, wait_until

T = TypeVar("T")
TRANSIENT = (urllib3.exceptions.HTTPError, OSError)


def api_client(cluster: E2ECluster, replica: int, token: str | None = None) -> client.ApiClient:
    config = client.Configuration(host=cluster.api_url(replica))
    config.ssl_ca_cert = str(cluster.ca_cert)
    config.api_key = {"authorization": token or cluster.token}
    config.api_key_prefix = {"authorization": "Bearer"}
    config.retries = 1
    return client.ApiClient(config)


def meta(name: str, **labels: str) -> client.V1ObjectMeta:
    return client.V1ObjectMeta(name=name, labels=labels or None)


def configmap(name: str, data: dict[str, str] | None = None, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=meta(name, **labels), data=data or {"k": "v"})


def status_of(call: Callable[[], Any]) -> tuple[int, dict[str, Any]]:
    """Run a call that must fail; return its HTTP status and decoded Status body."""
    with pytest.raises(ApiException) as info:
        call()
    return info.value.status, json.loads(info.value.body or "{}")


def pod_spec(*names: str) -> client.V1PodSpec:
    return client.V1PodSpec(containers=[
        client.V1Container(name=n, image="docker.io/library/busybox:1.36", command=["sleep", "3600"],
                           ports=[client.V1ContainerPort(container_port=8000 + i)],
                           resources=client.V1ResourceRequirements(requests={"cpu": "50m", "memory": "32Mi"}))
        for i, n in enumerate(names)])


def retry(call: Callable[[], T], done_on: Callable[[ApiException], T | None], what: str, timeout: float = 40) -> T:
    """Retry a write through outages (5xx, connection errors) until it succeeds or is known done."""
    retried = False

    def attempt() -> T | None:
        nonlocal retried
        try:
            try:
                return call()
            except ApiException as exc:
                if retried and (result := done_on(exc)) is not None:
                    return result
                raise
        except ApiException as exc:  # from the call or from the check of an earlier attempt
            if exc.status is not None and exc.status < 500:
                raise
        except TRANSIENT:
            pass
        retried = True
        return None
    return wait_until(attempt, timeout, what, interval=0.1)
