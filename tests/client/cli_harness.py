"""Running the client-side CLI commands against the fake API with click's CliRunner."""

from __future__ import annotations

from typing import Any

import click
from click.testing import CliRunner, Result

from raftkube.client import ApiClient, RetryPolicy

from .fake_api import FakeApi
from .test_api_client import Sleeps


def invoke(fake: FakeApi, command: click.Command, args: list[str], stdin: str | None = None,
           namespace: str = "default") -> Result:
    def factory(kubeconfig: str | None, context: str | None) -> ApiClient:
        return ApiClient(fake.urls(), "t0k", transport=fake.transport(), sleep=Sleeps(), namespace=namespace,
                         retry=RetryPolicy(max_attempts=3, jitter=0))

    obj: dict[str, Any] = {"client_factory": factory}
    return CliRunner().invoke(command, args, obj=obj, input=stdin, catch_exceptions=False)
