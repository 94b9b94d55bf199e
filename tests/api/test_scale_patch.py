"""A patch of /scale that names no resourceVersion is retried on a conflict (as every other patch is): concurrent
scale patches all succeed; a patch that names a stale resourceVersion is refused with 409."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from .inproc import running_api

MERGE = {"content-type": "application/merge-patch+json"}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
              "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}}, "template": {
                  "metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "a", "image": "busybox"}]}}}}
SCALE = "/apis/apps/v1/namespaces/default/deployments/web/scale"


def test_concurrent_scale_patches_all_succeed_and_a_pinned_one_is_a_precondition() -> None:
    with running_api() as api, api.client() as admin:
        created = admin.post("/apis/apps/v1/namespaces/default/deployments", json=DEPLOYMENT)
        assert created.status_code == 201, created.text
        stale = created.json()["metadata"]["resourceVersion"]

        def patch(replicas: int) -> int:
            with api.client() as client:
                return client.patch(SCALE, content=f'{{"spec":{{"replicas":{replicas}}}}}', headers=MERGE).status_code
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(patch, range(2, 26)))
        assert codes == [200] * len(codes)
        pinned = admin.patch(SCALE, headers=MERGE,
                             content=f'{{"metadata":{{"resourceVersion":"{stale}"}},"spec":{{"replicas":9}}}}')
        assert pinned.status_code == 409, pinned.text
