"""core/v1 ServiceAccount and authentication.k8s.io/v1 TokenRequest (the serviceaccounts/token subresource)."""

from __future__ import annotations

from .build import API_VERSION, CORE, KIND, OBJECT_META, b, i64, lst, ref, s, strs, t
from .model import TypeFields

AUTHENTICATION = "io.k8s.api.authentication.v1."

TYPES: dict[str, TypeFields] = {
    CORE + "ServiceAccount": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "secrets": lst(CORE + "ObjectReference", "Secrets in the same namespace that pods running with this "
                       "service account may use (legacy token Secrets).", strategy="merge", key="name",
                       keys=("name",)),
        "imagePullSecrets": lst(CORE + "LocalObjectReference", "Secrets used to pull images of pods that "
                                "reference this service account."),
        "automountServiceAccountToken": b("Whether pods running as this service account get an API token mounted "
                                          "automatically; a pod's own setting wins."),
    },
    AUTHENTICATION + "TokenRequest": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
        "spec": ref(AUTHENTICATION + "TokenRequestSpec", "The parameters of the requested token.", req=True),
        "status": ref(AUTHENTICATION + "TokenRequestStatus", "The issued token, filled in by the server."),
    },
    AUTHENTICATION + "TokenRequestSpec": {
        "audiences": strs("Intended audiences of the token; defaults to the API server's own audience.", req=True),
        "expirationSeconds": i64("Requested lifetime of the token in seconds (at least 600); the server may "
                                 "shorten it."),
        "boundObjectRef": ref(AUTHENTICATION + "BoundObjectReference", "An object (Pod or Secret) the token is "
                              "bound to: it stops being valid when the object is deleted."),
    },
    AUTHENTICATION + "BoundObjectReference": {
        "kind": s("Kind of the referent: Pod or Secret."),
        "apiVersion": s("API version of the referent (v1)."),
        "name": s("Name of the referent."),
        "uid": s("UID of the referent."),
    },
    AUTHENTICATION + "TokenRequestStatus": {
        "token": s("The opaque bearer token.", req=True),
        "expirationTimestamp": t("When the token expires.", req=True),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "ServiceAccount": "An identity for processes that run in a pod, with the credentials it may use.",
    AUTHENTICATION + "TokenRequest": "Requests a token for a service account.",
    AUTHENTICATION + "TokenRequestSpec": "The parameters of a token request.",
    AUTHENTICATION + "BoundObjectReference": "A reference to the object a token is bound to.",
    AUTHENTICATION + "TokenRequestStatus": "The result of a token request.",
}
