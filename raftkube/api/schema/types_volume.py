"""core/v1 volumes: Volume and its sources (emptyDir, configMap, secret, hostPath, projected, ...)."""

from __future__ import annotations

from .build import CORE, b, i32, i64, lst, obj, q, ref, s, smap
from .model import TypeFields

MODE = ("Mode bits (0000-0777, or decimal 0-511 in JSON) of the created files, unless an item sets its own. "
        "Defaults to 0644.")


def _cloud(name: str) -> str:
    return f"A {name} volume; not modelled in detail by raftkube (any fields are kept)."


TYPES: dict[str, TypeFields] = {
    CORE + "Volume": {
        "name": s("Name of the volume, a DNS label unique within the pod; volume mounts refer to it.", req=True),
        "hostPath": ref(CORE + "HostPathVolumeSource", "A file or directory on the host exposed to the pod. "
                        "For system agents only; most containers should not use it."),
        "emptyDir": ref(CORE + "EmptyDirVolumeSource", "A temporary directory that shares the pod's lifetime."),
        "secret": ref(CORE + "SecretVolumeSource", "The keys of a Secret, as files."),
        "configMap": ref(CORE + "ConfigMapVolumeSource", "The keys of a ConfigMap, as files."),
        "persistentVolumeClaim": ref(CORE + "PersistentVolumeClaimVolumeSource", "A PersistentVolumeClaim in "
                                     "the pod's namespace."),
        "projected": ref(CORE + "ProjectedVolumeSource", "Several sources (secrets, configmaps, downward API, "
                         "service account tokens) projected into one directory."),
        "downwardAPI": ref(CORE + "DownwardAPIVolumeSource", "Information about the pod, as files."),
        "nfs": ref(CORE + "NFSVolumeSource", "An NFS mount on the host that shares the pod's lifetime."),
        "csi": ref(CORE + "CSIVolumeSource", "Ephemeral storage handled by an external CSI driver."),
        "image": ref(CORE + "ImageVolumeSource", "An OCI image or artifact, mounted read-only."),
        "ephemeral": obj("A volume provisioned by a storage driver for the pod, from a PersistentVolumeClaim "
                         "template; not modelled in detail by raftkube."),
        "gcePersistentDisk": obj(_cloud("GCE persistent disk")),
        "awsElasticBlockStore": obj(_cloud("AWS EBS")),
        "gitRepo": obj("Deprecated: a git repository cloned into the volume. Not modelled in detail."),
        "iscsi": obj(_cloud("iSCSI")),
        "glusterfs": obj(_cloud("Glusterfs")),
        "rbd": obj(_cloud("Rados block device")),
        "flexVolume": obj(_cloud("FlexVolume plugin")),
        "cinder": obj(_cloud("OpenStack Cinder")),
        "cephfs": obj(_cloud("CephFS")),
        "flocker": obj(_cloud("Flocker")),
        "fc": obj(_cloud("Fibre Channel")),
        "azureFile": obj(_cloud("Azure File")),
        "azureDisk": obj(_cloud("Azure Data Disk")),
        "vsphereVolume": obj(_cloud("vSphere")),
        "quobyte": obj(_cloud("Quobyte")),
        "photonPersistentDisk": obj(_cloud("PhotonController persistent disk")),
        "portworxVolume": obj(_cloud("Portworx")),
        "scaleIO": obj(_cloud("ScaleIO")),
        "storageos": obj(_cloud("StorageOS")),
    },
    CORE + "HostPathVolumeSource": {
        "path": s("Path on the host; a symlink is followed to its target.", req=True),
        "type": s("What must exist at the path; empty means no check.",
                  enum=("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                        "FileOrCreate", "Socket")),
    },
    CORE + "EmptyDirVolumeSource": {
        "medium": s("Storage medium: empty for the node's default medium, or Memory for a tmpfs.",
                    enum=("", "Memory")),
        "sizeLimit": q("Total amount of local storage the volume may use."),
    },
    CORE + "SecretVolumeSource": {
        "secretName": s("Name of the Secret in the pod's namespace."),
        "items": lst(CORE + "KeyToPath", "Keys to project and where; without it every key becomes a file named "
                     "after the key."),
        "defaultMode": i32(MODE),
        "optional": b("Whether the Secret or its keys may be missing."),
    },
    CORE + "ConfigMapVolumeSource": {
        "name": s("Name of the ConfigMap in the pod's namespace."),
        "items": lst(CORE + "KeyToPath", "Keys to project and where; without it every key becomes a file named "
                     "after the key."),
        "defaultMode": i32(MODE),
        "optional": b("Whether the ConfigMap or its keys may be missing."),
    },
    CORE + "KeyToPath": {
        "key": s("The key to project.", req=True),
        "path": s("Relative path of the file to map the key to; may not contain '..'.", req=True),
        "mode": i32("Mode bits (0000-0777) of this file; defaults to the volume's defaultMode."),
    },
    CORE + "PersistentVolumeClaimVolumeSource": {
        "claimName": s("Name of a PersistentVolumeClaim in the pod's namespace.", req=True),
        "readOnly": b("Force the mount read-only. Default false."),
    },
    CORE + "ProjectedVolumeSource": {
        "sources": lst(CORE + "VolumeProjection", "The volume projections."),
        "defaultMode": i32(MODE),
    },
    CORE + "VolumeProjection": {
        "secret": ref(CORE + "SecretProjection", "Keys of a Secret to project."),
        "downwardAPI": ref(CORE + "DownwardAPIProjection", "Pod information to project."),
        "configMap": ref(CORE + "ConfigMapProjection", "Keys of a ConfigMap to project."),
        "serviceAccountToken": ref(CORE + "ServiceAccountTokenProjection", "A service account token to project."),
        "clusterTrustBundle": obj("Certificates of ClusterTrustBundle objects; not modelled in detail."),
    },
    CORE + "SecretProjection": {
        "name": s("Name of the Secret."),
        "items": lst(CORE + "KeyToPath", "Keys to project and where; without it every key is projected."),
        "optional": b("Whether the Secret or its keys may be missing."),
    },
    CORE + "ConfigMapProjection": {
        "name": s("Name of the ConfigMap."),
        "items": lst(CORE + "KeyToPath", "Keys to project and where; without it every key is projected."),
        "optional": b("Whether the ConfigMap or its keys may be missing."),
    },
    CORE + "DownwardAPIProjection": {
        "items": lst(CORE + "DownwardAPIVolumeFile", "The files to create."),
    },
    CORE + "ServiceAccountTokenProjection": {
        "audience": s("Intended audience of the token; defaults to the API server's identifier."),
        "expirationSeconds": i64("Requested lifetime of the token; it is rotated before it expires. Defaults "
                                 "to 1 hour, at least 10 minutes."),
        "path": s("Path, relative to the mount point, of the token file.", req=True),
    },
    CORE + "DownwardAPIVolumeSource": {
        "items": lst(CORE + "DownwardAPIVolumeFile", "The files to create."),
        "defaultMode": i32(MODE),
    },
    CORE + "DownwardAPIVolumeFile": {
        "path": s("Relative path of the file to create; may not contain '..'.", req=True),
        "fieldRef": ref(CORE + "ObjectFieldSelector", "A field of the pod: metadata.name, metadata.namespace, "
                        "metadata.labels, metadata.annotations."),
        "resourceFieldRef": ref(CORE + "ResourceFieldSelector", "A container resource limit or request."),
        "mode": i32("Mode bits (0000-0777) of this file; defaults to the volume's defaultMode."),
    },
    CORE + "NFSVolumeSource": {
        "server": s("Host name or IP address of the NFS server.", req=True),
        "path": s("Path exported by the NFS server.", req=True),
        "readOnly": b("Mount the export read-only. Default false."),
    },
    CORE + "CSIVolumeSource": {
        "driver": s("Name of the CSI driver that handles the volume.", req=True),
        "readOnly": b("Mount the volume read-only. Default false."),
        "fsType": s("Filesystem type to mount, e.g. ext4; passed to the driver."),
        "volumeAttributes": smap("Driver-specific properties."),
        "nodePublishSecretRef": ref(CORE + "LocalObjectReference", "A Secret with sensitive information passed "
                                    "to the driver."),
    },
    CORE + "ImageVolumeSource": {
        "reference": s("Image or artifact reference to pull and mount, like a container image name."),
        "pullPolicy": s("When to pull the image: Always, Never or IfNotPresent.",
                        enum=("Always", "IfNotPresent", "Never")),
    },
    CORE + "LocalObjectReference": {
        "name": s("Name of the referent, in the same namespace."),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Volume": "A named volume in a pod that any container of the pod may mount. Exactly one source "
                     "field is set.",
    CORE + "HostPathVolumeSource": "A host path mapped into a pod.",
    CORE + "EmptyDirVolumeSource": "An empty directory for the pod's lifetime.",
    CORE + "SecretVolumeSource": "Adapts a Secret into a volume: each key becomes a file.",
    CORE + "ConfigMapVolumeSource": "Adapts a ConfigMap into a volume: each key becomes a file.",
    CORE + "KeyToPath": "Maps a string key to a path within a volume.",
    CORE + "PersistentVolumeClaimVolumeSource": "References a PersistentVolumeClaim in the same namespace.",
    CORE + "ProjectedVolumeSource": "A projection of several sources into one volume.",
    CORE + "VolumeProjection": "A source to project; exactly one field is set.",
    CORE + "SecretProjection": "Adapts a Secret into a projected volume.",
    CORE + "ConfigMapProjection": "Adapts a ConfigMap into a projected volume.",
    CORE + "DownwardAPIProjection": "Downward API information in a projected volume.",
    CORE + "ServiceAccountTokenProjection": "A projected service account token.",
    CORE + "DownwardAPIVolumeSource": "Downward API information as a volume.",
    CORE + "DownwardAPIVolumeFile": "A file with pod information.",
    CORE + "NFSVolumeSource": "An NFS mount that lasts the lifetime of the pod.",
    CORE + "CSIVolumeSource": "A source location of a volume handled by a CSI driver.",
    CORE + "ImageVolumeSource": "An image volume resource.",
    CORE + "LocalObjectReference": "A reference to an object in the same namespace, by name.",
}
