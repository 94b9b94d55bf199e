"""The store's byte quota seen through the API: creates refused with 507 and etcd's message, reads and
deletes still work, and deleting objects makes room again."""

from __future__ import annotations

import threading

from .inproc import expect_status, running_api

QUOTA = 2 * 1024 * 1024
DEADLINE = 20.0


def test_writes_past_the_quota_are_refused_and_deletes_make_room() -> None:
    with running_api(replica_options={"quota_backend_bytes": QUOTA}) as api, api.client() as client:
        assert api.replica is not None
        for _ in range(int(DEADLINE / 0.05)):  # the leader replicates its quota
            if api.replica.status()["quota_bytes"] == QUOTA:
                break
            threading.Event().wait(0.05)
        url = "/api/v1/namespaces/default/configmaps"
        made = []
        for i in range(100):
            response = client.post(url, json={"metadata": {"name": f"fill-{i}"}, "data": {"blob": "x" * 100_000}})
            if response.status_code != 201:
                break
            made.append(f"fill-{i}")
        status = expect_status(response, 507, "InsufficientStorage")
        assert status["message"].startswith("etcdserver: mvcc: database space exceeded")
        assert "--quota-backend-bytes" in status["message"]
        assert client.get(f"{url}/{made[0]}").status_code == 200  # reads work
        assert len(client.get(url).json()["items"]) == len(made)
        for name in made[:5]:  # deletes work
            assert client.delete(f"{url}/{name}").status_code == 200
        response = client.post(url, json={"metadata": {"name": "after"}, "data": {"blob": "x" * 100_000}})
        assert response.status_code == 201, response.text[:300]
