"""The API server's watch cache (kube-apiserver's cacher): lists and watches served from memory.

`WatchCache` (feed.py) follows the store with one watch over the registry and keeps one
`ResourceCache` (resource_cache.py) per resource listed or watched; `ListReads` (reads.py) gives
lists and watches Kubernetes' resourceVersion semantics, from the cache or else the store.
"""

from .feed import WatchCache
from .reads import ListReads, check_list_options
from .resource_cache import ResourceCache

__all__ = ["ListReads", "ResourceCache", "WatchCache", "check_list_options"]
