"""Bound ServiceAccount tokens for the projected volumes of the node's pods, as the kubelet's token manager.

For every `serviceAccountToken` source of a pod's projected volumes the agent asks the API (with its
own node identity) for a TokenRequest bound to the pod (`boundObjectRef` kind Pod, name and uid),
for the source's audience (the API's own when empty) and expirationSeconds. A token is reused until
80 % of its lifetime has passed, or 24 hours, whichever comes first, then requested again; the
pod worker writes it into the volume atomically on its next sync (raftkube/node/volumes.py).
Tokens are kept per (pod uid, audience, expirationSeconds) and forgotten with the pod.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from ..client import ApiClient, ApiError
from .env import ConfigError

Obj = dict[str, Any]
TokenKey = tuple[str, int]  # (audience, expirationSeconds): how a volume source names its token
REFRESH_FRACTION = 0.8
MAX_AGE = 24 * 3600.0


def token_sources(pod: Obj) -> set[TokenKey]:
    keys: set[TokenKey] = set()
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        for source in (volume.get("projected") or {}).get("sources") or []:
            token = source.get("serviceAccountToken")
            if isinstance(token, dict):
                keys.add((str(token.get("audience") or ""), int(token.get("expirationSeconds") or 3600)))
    return keys


def _epoch(timestamp: str) -> float:
    return dt.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC).timestamp()


class ServiceAccountTokens:
    def __init__(self, client: ApiClient, clock: Callable[[], float] = time.time) -> None:
        self.client, self.clock = client, clock
        self._tokens: dict[tuple[str, str, int], tuple[bytes, float]] = {}  # -> (token, refresh after)

    def forget(self, uid: str) -> None:
        for key in [k for k in self._tokens if k[0] == uid]:
            del self._tokens[key]

    async def for_pod(self, pod: Obj) -> dict[TokenKey, bytes]:
        out: dict[TokenKey, bytes] = {}
        uid = pod["metadata"].get("uid", "")
        for audience, seconds in sorted(token_sources(pod)):
            cached = self._tokens.get((uid, audience, seconds))
            if cached is None or self.clock() >= cached[1]:
                cached = await self._request(pod, audience, seconds)
                self._tokens[(uid, audience, seconds)] = cached
            out[(audience, seconds)] = cached[0]
        return out

    async def _request(self, pod: Obj, audience: str, seconds: int) -> tuple[bytes, float]:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        namespace, account = meta.get("namespace", "default"), spec.get("serviceAccountName") or "default"
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience] if audience else [], "expirationSeconds": seconds,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": meta["name"],
                                            "uid": meta.get("uid", "")}}}
        requested = self.clock()
        try:
            answer = await self.client.request(
                "POST", f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token", body=body)
            token = str(answer["status"]["token"])
            expires = _epoch(str(answer["status"]["expirationTimestamp"]))
        except ApiError as err:
            raise ConfigError(f'failed to fetch token for service account "{account}": {err.message}',
                              reason="FailedMount") from None
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"failed to fetch token: malformed TokenRequest answer ({err})",
                              reason="FailedMount") from None
        lifetime = max(0.0, expires - requested)
        return token.encode(), requested + min(REFRESH_FRACTION * lifetime, MAX_AGE)
