"""The replicated, versioned key-value store (layer 1): MVCC state machine, Raft, watches.

Knows bytes, keys and revisions; nothing of pods. Start with `StoreReplica` (one replica in
this process), `LocalClient` (in-process calls) or `HttpClient` (any replica over HTTP).
"""

from .client import LocalClient, StoreClient
from .config import RaftTuning, ReplicaConfig
from .errors import (
                     CompactedError,
                     FutureRevisionError,
                     InvalidRequest,
                     LeaseNotFound,
                     OutcomeUnknown,
                     StoreError,
                     Unavailable,
                     ValueTooLarge,
                     WatchCancelled,
)
from .http_client import HttpClient
from .replica import StoreReplica
from .types import (
                     Compare,
                     DeleteOp,
                     DeleteResult,
                     Event,
                     KeyValue,
                     LeaseInfo,
                     PutOp,
                     PutResult,
                     RangeOp,
                     RangeResult,
                     TxnResult,
                     prefix_end,
)
from .watch_hub import WatchResponse

__all__ = [
    "CompactedError", "Compare", "DeleteOp", "DeleteResult", "Event", "FutureRevisionError", "HttpClient",
    "InvalidRequest", "KeyValue", "LeaseInfo", "LeaseNotFound", "LocalClient", "OutcomeUnknown", "PutOp",
    "PutResult", "RaftTuning", "RangeOp", "RangeResult", "ReplicaConfig", "StoreClient", "StoreError",
    "StoreReplica", "TxnResult", "Unavailable", "ValueTooLarge", "WatchCancelled", "WatchResponse", "prefix_end",
]
