"""JSON patch (RFC 6902), as `kubectl rollout undo` sends it, with Kubernetes' error codes.

Kubernetes answers a body that is not a list of operations with 400 BadRequest, more than
10000 operations with 413, and any operation that cannot be applied (a failed `test`, a
missing path, an unknown `op`) with 422 Invalid ("the server rejected our request due to an
error in our request"); here the message also says which operation failed and why.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from ..errors import APIError, Cause, bad_request

MAX_OPERATIONS = 10000
_OPS = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _rejected(index: int, op: Any, why: str) -> APIError:
    path = op.get("path", "") if isinstance(op, dict) else ""
    name = op.get("op", "?") if isinstance(op, dict) else "?"
    detail = f"json patch operation {index} ({name} {path or '<no path>'}): {why}"
    return APIError(422, "Invalid", f"the server rejected our request due to an error in our request: {detail}",
                    causes=[Cause(str(path), detail, "FieldValueInvalid")])


def apply_json_patch(document: Any, operations: Any) -> Any:
    """Apply a decoded JSON patch to `document` (not modified) and return the result."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise bad_request("json patch must be a JSON array of operation objects, e.g. "
                          '[{"op": "replace", "path": "/spec/replicas", "value": 3}]')
    if len(operations) > MAX_OPERATIONS:
        raise APIError(413, "RequestEntityTooLarge",
                       f"The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {len(operations)}")
    result = copy.deepcopy(document)
    for index, op in enumerate(operations):
        kind = op.get("op")
        if kind not in _OPS:
            raise _rejected(index, op, f"unexpected op {kind!r}: expected one of {', '.join(sorted(_OPS))}")
        if not isinstance(op.get("path"), str):
            raise _rejected(index, op, 'missing or invalid "path"')
        if kind in ("add", "replace", "test") and "value" not in op:
            raise _rejected(index, op, 'missing "value"')
        if kind in ("move", "copy") and not isinstance(op.get("from"), str):
            raise _rejected(index, op, 'missing or invalid "from"')
        try:
            result = jsonpatch.JsonPatch([op]).apply(result, in_place=True)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise _rejected(index, op, f"test failed: {exc}") from None
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise _rejected(index, op, str(exc)) from None
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise _rejected(index, op, f"cannot apply: {exc}") from None
    return result
