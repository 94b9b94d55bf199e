"""meta.k8s.io/v1 types: ObjectMeta, owners, selectors, list metadata, DeleteOptions, Status, Table."""

from __future__ import annotations

from .build import (
    API_VERSION,
    CONDITION_STATUS,
    KIND,
    LIST_META,
    META,
    OBJECT_META,
    b,
    i32,
    i64,
    lst,
    obj,
    ref,
    s,
    smap,
    strs,
    t,
)
from .model import Field, TypeFields

TYPES: dict[str, TypeFields] = {
    META + "ObjectMeta": {
        "name": s("Name of the object, unique within its namespace (or the cluster for cluster-scoped kinds). "
                  "Required on create unless generateName is set; cannot be updated."),
        "generateName": s("A prefix from which the server generates a unique name when `name` is empty: the "
                          "prefix plus a random suffix."),
        "namespace": s("The namespace the object lives in; empty for cluster-scoped kinds. Cannot be updated."),
        "selfLink": s("Deprecated and never set by the server."),
        "uid": s("A value, unique in time and space, that the server assigns on create. Read-only."),
        "resourceVersion": s("An opaque value that changes whenever the object changes: the store revision of "
                             "its last write. Clients pass it back for optimistic concurrency and watches."),
        "generation": i64("A sequence number for the desired state, bumped by the server when spec changes. "
                          "Read-only."),
        "creationTimestamp": t("When the server created the object (RFC 3339, UTC). Read-only."),
        "deletionTimestamp": t("When the object is going to be deleted (set when deletion is requested and "
                               "finalizers are pending). Read-only."),
        "deletionGracePeriodSeconds": i64("Seconds the object is allowed to terminate gracefully before it is "
                                          "removed; only set together with deletionTimestamp. Read-only."),
        "labels": smap("Key/value pairs for organising and selecting objects (label selectors)."),
        "annotations": smap("Key/value pairs for arbitrary, non-identifying metadata kept by tools."),
        "ownerReferences": lst(META + "OwnerReference", "Objects this object depends on. When every owner is "
                               "gone the garbage collector deletes this object; at most one owner is the "
                               "controller.", strategy="merge", key="uid", keys=("uid",)),
        "finalizers": strs("Names of conditions that must be cleared before the object is removed from "
                           "storage; deletion waits until the list is empty.", lt="set", strategy="merge"),
        "managedFields": lst(META + "ManagedFieldsEntry", "Which field manager owns which fields, maintained by "
                             "server-side apply. Internal; clients do not normally set it."),
    },
    META + "OwnerReference": {
        "apiVersion": s("API version of the owner.", req=True),
        "kind": s("Kind of the owner.", req=True),
        "name": s("Name of the owner.", req=True),
        "uid": s("UID of the owner.", req=True),
        "controller": b("True if the owner is the managing controller of this object."),
        "blockOwnerDeletion": b("If true (and the owner has the foregroundDeletion finalizer), the owner cannot "
                                "be removed from storage until this reference is removed."),
    },
    META + "ManagedFieldsEntry": {
        "manager": s("Identifier of the workflow managing these fields."),
        "operation": s("The operation that made this entry: Apply or Update.", enum=("Apply", "Update")),
        "apiVersion": s("Version of the resource the field set applies to."),
        "time": t("When this entry was last changed."),
        "fieldsType": s("Format of fieldsV1; the only valid value is FieldsV1."),
        "fieldsV1": obj("The set of fields owned, in the FieldsV1 format."),
        "subresource": s("Name of the subresource used to update the object, empty for the main resource."),
    },
    META + "LabelSelector": {
        "matchLabels": smap("Label key/value pairs that must all match; each is an `In` requirement with a "
                            "single value."),
        "matchExpressions": lst(META + "LabelSelectorRequirement", "Label selector requirements; all must match."),
    },
    META + "LabelSelectorRequirement": {
        "key": s("The label key the requirement applies to.", req=True),
        "operator": s("How the key relates to the values.", req=True,
                      enum=("DoesNotExist", "Exists", "In", "NotIn")),
        "values": strs("Values for In and NotIn (must be non-empty); empty for Exists and DoesNotExist."),
    },
    META + "ListMeta": {
        "selfLink": s("Deprecated and never set by the server."),
        "resourceVersion": s("The store revision the list was read at; pass it to a watch to get every "
                             "change after the list."),
        "continue": s("Set when more items are available: pass it back as `continue` to get the next chunk."),
        "remainingItemCount": i64("Number of items after this chunk, when known."),
    },
    META + "DeleteOptions": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "gracePeriodSeconds": i64("Seconds before the object is deleted; 0 means delete immediately, empty "
                                  "means the kind's default."),
        "preconditions": ref(META + "Preconditions", "Must be fulfilled before the deletion is carried out."),
        "orphanDependents": b("Deprecated: use propagationPolicy. Whether dependents are orphaned."),
        "propagationPolicy": s("Whether and how garbage collection deletes dependents: Orphan, Background "
                               "(the default) or Foreground.", enum=("Background", "Foreground", "Orphan")),
        "dryRun": strs("When present, the deletion is not persisted; the only valid value is All."),
        "ignoreStoreReadErrorWithClusterBreakingPotential": b("Delete an object whose stored data cannot be "
                                                              "read. Dangerous."),
    },
    META + "Preconditions": {
        "uid": s("The object's uid must equal this."),
        "resourceVersion": s("The object's resourceVersion must equal this."),
    },
    META + "Status": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": LIST_META,
        "status": s("Success or Failure."),
        "message": s("A human-readable description of the operation's result."),
        "reason": s("A machine-readable, CamelCase reason for a Failure, such as NotFound or Conflict."),
        "details": ref(META + "StatusDetails", "Extra data about the reason, depending on it."),
        "code": i32("The HTTP status code of the response."),
    },
    META + "StatusDetails": {
        "name": s("Name of the resource the status is about."),
        "group": s("Group of the resource."),
        "kind": s("Kind of the resource."),
        "uid": s("UID of the resource."),
        "causes": lst(META + "StatusCause", "Individual causes of the error, e.g. one per invalid field."),
        "retryAfterSeconds": i32("Seconds to wait before retrying the operation."),
    },
    META + "StatusCause": {
        "reason": s("A machine-readable description of the cause, e.g. FieldValueInvalid."),
        "message": s("A human-readable description of the cause."),
        "field": s("The field that caused the error, as a JSON path such as spec.containers[0].image."),
    },
    META + "Condition": {
        "type": s("Type of condition, in CamelCase or foo.example.com/CamelCase.", req=True),
        "status": s("Status of the condition.", req=True, enum=CONDITION_STATUS),
        "observedGeneration": i64("The metadata.generation the condition was set for."),
        "lastTransitionTime": t("Last time the condition changed status.", req=True),
        "reason": s("A programmatic, CamelCase identifier of the reason for the last transition.", req=True),
        "message": s("A human-readable message about the transition; may be empty.", req=True),
    },
    META + "Table": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": LIST_META,
        "columnDefinitions": lst(META + "TableColumnDefinition", "The columns of each row.", req=True),
        "rows": lst(META + "TableRow", "One row per object.", req=True),
    },
    META + "TableColumnDefinition": {
        "name": s("Human-readable column name.", req=True),
        "type": s("OpenAPI type of the column: number, integer, string or boolean.", req=True),
        "format": s("Optional OpenAPI format modifier, e.g. name for the object's name column.", req=True),
        "description": s("Human-readable description of the column.", req=True),
        "priority": i32("0 for columns always shown; higher numbers for columns shown in wide output.",
                        req=True),
    },
    META + "TableRow": {
        "cells": Field("[]any", True, "The values of the row, one per column definition.", list_type="atomic"),
        "conditions": lst(META + "TableRowCondition", "Conditions describing the row, e.g. Completed."),
        "object": obj("The object the row describes: full, PartialObjectMetadata, or absent, as asked by "
                      "includeObject."),
    },
    META + "TableRowCondition": {
        "type": s("Type of row condition; the only defined value is Completed.", req=True),
        "status": s("Status of the condition.", req=True, enum=CONDITION_STATUS),
        "reason": s("CamelCase reason for the last transition."),
        "message": s("Human-readable details about the last transition."),
    },
    META + "PartialObjectMetadata": {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": OBJECT_META,
    },
}

DESCRIPTIONS: dict[str, str] = {
    META + "ObjectMeta": "Metadata every persisted resource has: name, namespace, labels, annotations, owners, "
                         "versions and timestamps.",
    META + "OwnerReference": "Identifies an owning object. The owner must be in the same namespace as the "
                             "dependent, or cluster-scoped.",
    META + "ManagedFieldsEntry": "A workflow (manager) and the set of fields it owns in the object.",
    META + "LabelSelector": "A label query over a set of objects. matchLabels and matchExpressions are ANDed; an "
                            "empty selector matches everything, a null one nothing.",
    META + "LabelSelectorRequirement": "A selector requirement: a key, an operator and values.",
    META + "ListMeta": "Metadata of synthetic resources such as lists.",
    META + "DeleteOptions": "Options that may be given when deleting an object.",
    META + "Preconditions": "Conditions that must hold before an operation (such as delete) is carried out.",
    META + "Status": "The result of an operation that returns no other object, e.g. an error.",
    META + "StatusDetails": "Extra data a Status may carry, e.g. the name of the resource and the causes.",
    META + "StatusCause": "One cause of an error, e.g. one invalid field.",
    META + "Condition": "One aspect of the current state of a resource (standard condition type).",
    META + "Table": "A tabular representation of a set of objects, as kubectl get prints it.",
    META + "TableColumnDefinition": "A column of a Table.",
    META + "TableRow": "A row of a Table.",
    META + "TableRowCondition": "A condition of a Table row.",
    META + "PartialObjectMetadata": "Only the metadata of an object.",
}
