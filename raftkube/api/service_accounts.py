"""Everything an API server needs for ServiceAccounts, built from the signing key: the signer, the
TokenRequest subresource, the token authenticator and the admission plugin."""

from __future__ import annotations

from dataclasses import dataclass

from .sa_admission import ServiceAccountAdmission
from .sa_auth import ServiceAccountTokenAuthenticator
from .sa_jwt import DEFAULT_ISSUER, TokenSigner, TokenVerifier, load_signing_key
from .storage import ObjectStorage
from .token_request import MAX_SECONDS, TokenRequests


@dataclass
class ServiceAccounts:
    signer: TokenSigner
    authenticator: ServiceAccountTokenAuthenticator
    tokens: TokenRequests
    admission: ServiceAccountAdmission

    @classmethod
    def load(cls, storage: ObjectStorage, signing_key_file: str, issuer: str = DEFAULT_ISSUER,
             audiences: list[str] | None = None, max_seconds: int = MAX_SECONDS,
             default_wait: float = 5.0) -> ServiceAccounts:
        """`audiences`: what this API accepts (and puts in tokens asked without any); default: the issuer."""
        key = load_signing_key(signing_key_file)
        audiences = list(audiences or [issuer])
        signer = TokenSigner(key, issuer)
        verifier = TokenVerifier(key.public_key(), issuer, audiences)
        return cls(signer, ServiceAccountTokenAuthenticator(storage, verifier),
                   TokenRequests(storage, signer, audiences, max_seconds),
                   ServiceAccountAdmission(storage, default_wait))

    def start(self) -> None:
        self.authenticator.start()

    async def stop(self) -> None:
        await self.authenticator.stop()
