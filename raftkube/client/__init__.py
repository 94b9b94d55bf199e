"""Layer 3: the async API client (failover over several endpoints), informers and work queues."""

from .api_client import PATCH_TYPES, TABLE_ACCEPT, ApiClient
from .cache import (
    Cache,
    index_by_label,
    index_by_labels,
    index_by_namespace,
    index_by_node_name,
    index_by_owner_uid,
    object_key,
)
from .errors import (
    AlreadyExists,
    ApiError,
    ApiUnavailable,
    BadRequest,
    Conflict,
    Expired,
    Forbidden,
    Gone,
    InternalError,
    Invalid,
    MethodNotAllowed,
    NotFound,
    OutcomeUnknown,
    ServerError,
    ServerTimeout,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    error_from_status,
)
from .failover import RetryPolicy
from .informer import Informer
from .kubeconfig import KubeConfig, build_kubeconfig, load_kubeconfig
from .refs import ResourceLike, cli_lookup, qualified_kind
from .workqueue import (
    ItemExponentialRateLimiter,
    MaxOfRateLimiter,
    ShutDown,
    TokenBucketRateLimiter,
    WorkQueue,
    default_rate_limiter,
)

__all__ = [
    "PATCH_TYPES", "TABLE_ACCEPT", "AlreadyExists", "ApiClient", "ApiError", "ApiUnavailable", "BadRequest", "Cache",
    "Conflict", "Expired", "Forbidden", "Gone", "Informer", "InternalError", "Invalid", "ItemExponentialRateLimiter",
    "KubeConfig", "MaxOfRateLimiter", "MethodNotAllowed", "NotFound", "OutcomeUnknown", "ResourceLike",
    "RetryPolicy", "ServerError", "ServerTimeout", "ServiceUnavailable", "ShutDown", "TokenBucketRateLimiter",
    "TooManyRequests", "Unauthorized", "UnsupportedMediaType", "WorkQueue", "build_kubeconfig", "cli_lookup",
    "default_rate_limiter", "error_from_status", "index_by_label", "index_by_labels", "index_by_namespace",
    "index_by_node_name", "index_by_owner_uid", "load_kubeconfig", "object_key", "qualified_kind",
]
