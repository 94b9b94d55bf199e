"""What a control-plane server does with its machine's files from `raftkube init/join`.

`MachineConfig(config_dir, advertise_url)`: at start, once the store has a leader, the server
uploads the first bootstrap token `raftkube init` wrote (kube-system Secret, unless it is there
already) and lists its URL in kube-system/raftkube-control-plane; with the CA key in
`config_dir/pki`, its API answers joins (raftkube/api/join.py).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cluster_dir import ClusterDir

if TYPE_CHECKING:
    from ..api.join import JoinService
    from ..api.storage import ObjectStorage
    from ..store import StoreReplica

log = logging.getLogger("raftkube.server")


@dataclass(frozen=True)
class MachineConfig:
    config_dir: str | None
    advertise_url: str | None
    first_token: dict[str, str] | None = None  # {"token", "expiration"} from `raftkube init`

    @classmethod
    def load(cls, config_dir: str | None, advertise_url: str | None) -> MachineConfig:
        path = ClusterDir(config_dir).path("bootstrap-token") if config_dir else None
        first = None
        if path is not None and os.path.exists(path):
            with open(path) as f:
                first = json.load(f)
        return cls(config_dir, advertise_url, first)

    def join_service(self, storage: ObjectStorage, replica: StoreReplica) -> JoinService | None:
        from ..api.join import JoinService
        from ..pki import CertificateAuthority

        if self.config_dir is None:
            return None
        cluster = ClusterDir(self.config_dir)
        if not CertificateAuthority.exists(cluster.pki):
            log.warning("%s has no CA key: this server does not answer joins", cluster.pki)
            return None
        key_path = cluster.path("certificate-key")
        certificate_key = cluster.read("certificate-key") if os.path.exists(key_path) else None
        return JoinService(storage, CertificateAuthority.load(cluster.pki), certificate_key, cluster.bundle,
                           lambda: [str(m["address"]) for m in replica.status().get("members", [])],
                           replica.add_member)

    async def bootstrap(self, storage: ObjectStorage, identity: str) -> None:
        from ..api.errors import APIError
        from ..api.join import register_api_server

        if self.advertise_url:
            await register_api_server(storage, identity, self.advertise_url)
        first = self.first_token
        if first is None:
            return
        from ..api.cluster_tokens import SECRETS, bootstrap_token_secret, expired
        from ..api.router import Target
        from ..api.writes import WriteOptions, Writer

        if expired(first["expiration"]):
            return
        body = bootstrap_token_secret(first["token"], first["expiration"],
                                      description="the first token, from raftkube init")
        assert SECRETS is not None
        try:
            await Writer(storage).create(Target(SECRETS, "kube-system", None), body,
                                         WriteOptions(manager="raftkube-init"))
        except APIError as err:
            if err.reason != "AlreadyExists":
                raise
        # uploaded: from now on the Secret is the token (deleting it revokes it; a restart must not revive it)
        assert self.config_dir is not None
        os.unlink(ClusterDir(self.config_dir).path("bootstrap-token"))  # noqa: ASYNC230
