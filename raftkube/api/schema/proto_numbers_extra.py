"""Decode-only message types: the protobuf form of fields our schema keeps free-form ("object").

The legacy volume sources, ephemeral volumes, cluster trust bundle projections and node config
sources are not modelled in `TYPES` (their JSON passes through unchecked), but a protobuf body
carries them as messages, so decoding needs their fields. Each field is (number, type) with
types as in `model.py`; numbers from k8s.io/api core/v1 `generated.proto`.
"""

from __future__ import annotations

from .build import CORE, META

S, I, B, SS = "string", "integer", "boolean", "[]string"  # noqa: E741
LOCAL_REF = CORE + "LocalObjectReference"
SELECTOR = META + "LabelSelector"
RAW_JSON = "raw-json"
"""A message whose field 1 holds JSON bytes (`FieldsV1`): decoded to the JSON value itself."""

ExtraFields = dict[str, tuple[int, str]]

EXTRA_TYPES: dict[str, ExtraFields] = {
    CORE + "GCEPersistentDiskVolumeSource": {"pdName": (1, S), "fsType": (2, S), "partition": (3, I),
                                             "readOnly": (4, B)},
    CORE + "AWSElasticBlockStoreVolumeSource": {"volumeID": (1, S), "fsType": (2, S), "partition": (3, I),
                                                "readOnly": (4, B)},
    CORE + "GitRepoVolumeSource": {"repository": (1, S), "revision": (2, S), "directory": (3, S)},
    CORE + "ISCSIVolumeSource": {"targetPortal": (1, S), "iqn": (2, S), "lun": (3, I), "iscsiInterface": (4, S),
                                 "fsType": (5, S), "readOnly": (6, B), "portals": (7, SS), "chapAuthDiscovery": (8, B),
                                 "chapAuthSession": (11, B), "secretRef": (10, LOCAL_REF), "initiatorName": (12, S)},
    CORE + "GlusterfsVolumeSource": {"endpoints": (1, S), "path": (2, S), "readOnly": (3, B)},
    CORE + "RBDVolumeSource": {"monitors": (1, SS), "image": (2, S), "fsType": (3, S), "pool": (4, S), "user": (5, S),
                               "keyring": (6, S), "secretRef": (7, LOCAL_REF), "readOnly": (8, B)},
    CORE + "FlexVolumeSource": {"driver": (1, S), "fsType": (2, S), "secretRef": (3, LOCAL_REF), "readOnly": (4, B),
                                "options": (5, "map[string]string")},
    CORE + "CinderVolumeSource": {"volumeID": (1, S), "fsType": (2, S), "readOnly": (3, B),
                                  "secretRef": (4, LOCAL_REF)},
    CORE + "CephFSVolumeSource": {"monitors": (1, SS), "path": (2, S), "user": (3, S), "secretFile": (4, S),
                                  "secretRef": (5, LOCAL_REF), "readOnly": (6, B)},
    CORE + "FlockerVolumeSource": {"datasetName": (1, S), "datasetUUID": (2, S)},
    CORE + "FCVolumeSource": {"targetWWNs": (1, SS), "lun": (2, I), "fsType": (3, S), "readOnly": (4, B),
                              "wwids": (5, SS)},
    CORE + "AzureFileVolumeSource": {"secretName": (1, S), "shareName": (2, S), "readOnly": (3, B)},
    CORE + "AzureDiskVolumeSource": {"diskName": (1, S), "diskURI": (2, S), "cachingMode": (3, S), "fsType": (4, S),
                                     "readOnly": (5, B), "kind": (6, S)},
    CORE + "VsphereVirtualDiskVolumeSource": {"volumePath": (1, S), "fsType": (2, S), "storagePolicyName": (3, S),
                                              "storagePolicyID": (4, S)},
    CORE + "QuobyteVolumeSource": {"registry": (1, S), "volume": (2, S), "readOnly": (3, B), "user": (4, S),
                                   "group": (5, S), "tenant": (6, S)},
    CORE + "PhotonPersistentDiskVolumeSource": {"pdID": (1, S), "fsType": (2, S)},
    CORE + "PortworxVolumeSource": {"volumeID": (1, S), "fsType": (2, S), "readOnly": (3, B)},
    CORE + "ScaleIOVolumeSource": {"gateway": (1, S), "system": (2, S), "secretRef": (3, LOCAL_REF),
                                   "sslEnabled": (4, B), "protectionDomain": (5, S), "storagePool": (6, S),
                                   "storageMode": (7, S), "volumeName": (8, S), "fsType": (9, S), "readOnly": (10, B)},
    CORE + "StorageOSVolumeSource": {"volumeName": (1, S), "volumeNamespace": (2, S), "fsType": (3, S),
                                     "readOnly": (4, B), "secretRef": (5, LOCAL_REF)},
    CORE + "EphemeralVolumeSource": {"volumeClaimTemplate": (1, CORE + "PersistentVolumeClaimTemplate")},
    CORE + "PersistentVolumeClaimTemplate": {"metadata": (1, META + "ObjectMeta"),
                                             "spec": (2, CORE + "PersistentVolumeClaimSpec")},
    CORE + "PersistentVolumeClaimSpec": {"accessModes": (1, SS), "selector": (4, SELECTOR),
                                         "resources": (2, CORE + "VolumeResourceRequirements"),
                                         "volumeName": (3, S), "storageClassName": (5, S), "volumeMode": (6, S),
                                         "dataSource": (7, CORE + "TypedLocalObjectReference"),
                                         "dataSourceRef": (8, CORE + "TypedObjectReference"),
                                         "volumeAttributesClassName": (9, S)},
    CORE + "VolumeResourceRequirements": {"limits": (1, "map[string]quantity"), "requests": (2, "map[string]quantity")},
    CORE + "TypedLocalObjectReference": {"apiGroup": (1, S), "kind": (2, S), "name": (3, S)},
    CORE + "TypedObjectReference": {"apiGroup": (1, S), "kind": (2, S), "name": (3, S), "namespace": (4, S)},
    CORE + "ClusterTrustBundleProjection": {"name": (1, S), "signerName": (2, S), "labelSelector": (3, SELECTOR),
                                            "optional": (5, B), "path": (4, S)},
    CORE + "NodeConfigSource": {"configMap": (2, CORE + "ConfigMapNodeConfigSource")},
    CORE + "ConfigMapNodeConfigSource": {"namespace": (1, S), "name": (2, S), "uid": (3, S),
                                         "resourceVersion": (4, S), "kubeletConfigKey": (5, S)},
    CORE + "NodeConfigStatus": {"assigned": (1, CORE + "NodeConfigSource"), "active": (2, CORE + "NodeConfigSource"),
                                "lastKnownGood": (3, CORE + "NodeConfigSource"), "error": (4, S)},
}

ZERO_KEPT: dict[str, str] = {
    CORE + "GCEPersistentDiskVolumeSource": "pdName",
    CORE + "AWSElasticBlockStoreVolumeSource": "volumeID",
    CORE + "GitRepoVolumeSource": "repository",
    CORE + "ISCSIVolumeSource": "targetPortal iqn lun initiatorName",
    CORE + "GlusterfsVolumeSource": "endpoints path",
    CORE + "RBDVolumeSource": "image",
    CORE + "FlexVolumeSource": "driver",
    CORE + "CinderVolumeSource": "volumeID",
    CORE + "FCVolumeSource": "lun",
    CORE + "AzureFileVolumeSource": "secretName shareName",
    CORE + "AzureDiskVolumeSource": "diskName diskURI cachingMode fsType readOnly kind",
    CORE + "VsphereVirtualDiskVolumeSource": "volumePath",
    CORE + "QuobyteVolumeSource": "registry volume",
    CORE + "PhotonPersistentDiskVolumeSource": "pdID",
    CORE + "PortworxVolumeSource": "volumeID",
    CORE + "ScaleIOVolumeSource": "gateway system",
    CORE + "PersistentVolumeClaimSpec": "storageClassName volumeMode volumeAttributesClassName",
    CORE + "TypedLocalObjectReference": "apiGroup kind name",
    CORE + "TypedObjectReference": "apiGroup kind name namespace",
    CORE + "ClusterTrustBundleProjection": "name signerName optional path",
    CORE + "ConfigMapNodeConfigSource": "namespace name kubeletConfigKey",
}

VOLUME = CORE + "Volume"
OBJECT_MESSAGES: dict[tuple[str, str], str] = {
    (META + "ManagedFieldsEntry", "fieldsV1"): RAW_JSON,
    (VOLUME, "ephemeral"): CORE + "EphemeralVolumeSource",
    (VOLUME, "gcePersistentDisk"): CORE + "GCEPersistentDiskVolumeSource",
    (VOLUME, "awsElasticBlockStore"): CORE + "AWSElasticBlockStoreVolumeSource",
    (VOLUME, "gitRepo"): CORE + "GitRepoVolumeSource",
    (VOLUME, "iscsi"): CORE + "ISCSIVolumeSource",
    (VOLUME, "glusterfs"): CORE + "GlusterfsVolumeSource",
    (VOLUME, "rbd"): CORE + "RBDVolumeSource",
    (VOLUME, "flexVolume"): CORE + "FlexVolumeSource",
    (VOLUME, "cinder"): CORE + "CinderVolumeSource",
    (VOLUME, "cephfs"): CORE + "CephFSVolumeSource",
    (VOLUME, "flocker"): CORE + "FlockerVolumeSource",
    (VOLUME, "fc"): CORE + "FCVolumeSource",
    (VOLUME, "azureFile"): CORE + "AzureFileVolumeSource",
    (VOLUME, "azureDisk"): CORE + "AzureDiskVolumeSource",
    (VOLUME, "vsphereVolume"): CORE + "VsphereVirtualDiskVolumeSource",
    (VOLUME, "quobyte"): CORE + "QuobyteVolumeSource",
    (VOLUME, "photonPersistentDisk"): CORE + "PhotonPersistentDiskVolumeSource",
    (VOLUME, "portworxVolume"): CORE + "PortworxVolumeSource",
    (VOLUME, "scaleIO"): CORE + "ScaleIOVolumeSource",
    (VOLUME, "storageos"): CORE + "StorageOSVolumeSource",
    (CORE + "VolumeProjection", "clusterTrustBundle"): CORE + "ClusterTrustBundleProjection",
    (CORE + "NodeSpec", "configSource"): CORE + "NodeConfigSource",
    (CORE + "NodeStatus", "config"): CORE + "NodeConfigStatus",
}
"""The message type behind each free-form ("object") field of `TYPES`."""
