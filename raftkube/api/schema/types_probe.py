"""core/v1 probes, lifecycle hooks and security contexts."""

from __future__ import annotations

from .build import CORE, b, i32, i64, ios, lst, ref, s, strs
from .model import TypeFields

PROFILE_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")

HANDLER_FIELDS: TypeFields = {
    "exec": ref(CORE + "ExecAction", "Run a command inside the container."),
    "httpGet": ref(CORE + "HTTPGetAction", "Send an HTTP GET request."),
    "tcpSocket": ref(CORE + "TCPSocketAction", "Open a TCP connection to a port."),
}

TYPES: dict[str, TypeFields] = {
    CORE + "Probe": {
        **HANDLER_FIELDS,
        "grpc": ref(CORE + "GRPCAction", "Call the standard gRPC health checking service."),
        "initialDelaySeconds": i32("Seconds after the container started before the probe is first run."),
        "timeoutSeconds": i32("Seconds after which the probe times out. Defaults to 1, minimum 1."),
        "periodSeconds": i32("How often, in seconds, to run the probe. Defaults to 10, minimum 1."),
        "successThreshold": i32("Consecutive successes for the probe to count as successful after a failure. "
                                "Defaults to 1; must be 1 for liveness and startup probes."),
        "failureThreshold": i32("Consecutive failures for the probe to count as failed after a success. "
                                "Defaults to 3, minimum 1."),
        "terminationGracePeriodSeconds": i64("Grace period for a pod whose container is killed because the "
                                             "probe failed; overrides the pod's value."),
    },
    CORE + "ExecAction": {
        "command": strs("The command line to run inside the container, not in a shell; its working directory "
                        "is the container's root. Exit status 0 means healthy."),
    },
    CORE + "HTTPGetAction": {
        "path": s("Path to access on the HTTP server."),
        "port": ios("Number or name of the container port to access (1-65535).", req=True),
        "host": s("Host name to connect to; defaults to the pod IP. Set a Host header in httpHeaders instead."),
        "scheme": s("Scheme to connect with: HTTP (default) or HTTPS.", enum=("HTTP", "HTTPS")),
        "httpHeaders": lst(CORE + "HTTPHeader", "Custom headers to set in the request."),
    },
    CORE + "HTTPHeader": {
        "name": s("Header field name; canonicalised on output.", req=True),
        "value": s("Header field value.", req=True),
    },
    CORE + "TCPSocketAction": {
        "port": ios("Number or name of the port to connect to (1-65535).", req=True),
        "host": s("Host name to connect to; defaults to the pod IP."),
    },
    CORE + "GRPCAction": {
        "port": i32("Port number of the gRPC service (1-65535).", req=True),
        "service": s("Name of the service to put in the gRPC HealthCheckRequest; empty means the server's "
                     "default behaviour."),
    },
    CORE + "SleepAction": {
        "seconds": i64("Seconds to sleep.", req=True),
    },
    CORE + "Lifecycle": {
        "postStart": ref(CORE + "LifecycleHandler", "Called right after the container is created; if it fails "
                         "the container is terminated and restarted per the restart policy."),
        "preStop": ref(CORE + "LifecycleHandler", "Called right before the container is terminated by an API "
                       "request or event; the grace period counts down while it runs."),
    },
    CORE + "LifecycleHandler": {
        **HANDLER_FIELDS,
        "sleep": ref(CORE + "SleepAction", "Sleep for a while before the container is terminated."),
    },
    CORE + "SecurityContext": {
        "capabilities": ref(CORE + "Capabilities", "Capabilities to add to or drop from the runtime's default "
                            "set."),
        "privileged": b("Run the container privileged, as root on the host. Default false."),
        "seLinuxOptions": ref(CORE + "SELinuxOptions", "SELinux context of the container."),
        "windowsOptions": ref(CORE + "WindowsSecurityContextOptions", "Windows-specific settings."),
        "runAsUser": i64("UID to run the entrypoint of the container process as; defaults to the image's."),
        "runAsGroup": i64("GID to run the entrypoint of the container process as."),
        "runAsNonRoot": b("Require the container to run as a non-root user; the kubelet refuses to start it as "
                          "UID 0."),
        "readOnlyRootFilesystem": b("Mount the container's root filesystem read-only. Default false."),
        "allowPrivilegeEscalation": b("Whether a process can gain more privileges than its parent "
                                      "(no_new_privs unset)."),
        "procMount": s("Type of proc mount for the container.", enum=("Default", "Unmasked")),
        "seccompProfile": ref(CORE + "SeccompProfile", "Seccomp options; overrides the pod's."),
        "appArmorProfile": ref(CORE + "AppArmorProfile", "AppArmor options; overrides the pod's."),
    },
    CORE + "Capabilities": {
        "add": strs("Capabilities to add, e.g. NET_ADMIN."),
        "drop": strs("Capabilities to remove, e.g. ALL."),
    },
    CORE + "SELinuxOptions": {
        "user": s("SELinux user label."),
        "role": s("SELinux role label."),
        "type": s("SELinux type label."),
        "level": s("SELinux level label."),
    },
    CORE + "SeccompProfile": {
        "type": s("Kind of seccomp profile: Localhost, RuntimeDefault or Unconfined.", req=True,
                  enum=PROFILE_TYPES),
        "localhostProfile": s("Profile file on the node, relative to the kubelet's seccomp directory; only for "
                              "type Localhost."),
    },
    CORE + "AppArmorProfile": {
        "type": s("Kind of AppArmor profile: Localhost, RuntimeDefault or Unconfined.", req=True,
                  enum=PROFILE_TYPES),
        "localhostProfile": s("Name of a profile loaded on the node; only for type Localhost."),
    },
    CORE + "WindowsSecurityContextOptions": {
        "gmsaCredentialSpecName": s("Name of the GMSA credential spec to use."),
        "gmsaCredentialSpec": s("Content of the GMSA credential spec."),
        "runAsUserName": s("User name to run the entrypoint as on Windows."),
        "hostProcess": b("Run the container as a Windows HostProcess container."),
    },
    CORE + "PodSecurityContext": {
        "seLinuxOptions": ref(CORE + "SELinuxOptions", "SELinux context applied to all containers."),
        "windowsOptions": ref(CORE + "WindowsSecurityContextOptions", "Windows settings for all containers."),
        "runAsUser": i64("UID to run the entrypoint of every container as, unless the container overrides it."),
        "runAsGroup": i64("GID to run the entrypoint of every container as."),
        "runAsNonRoot": b("Require every container to run as a non-root user."),
        "supplementalGroups": lst("integer", "Extra groups added to each container's first process.",
                                  fmt="int64"),
        "supplementalGroupsPolicy": s("How supplementary groups of the first process are computed.",
                                      enum=("Merge", "Strict")),
        "fsGroup": i64("A group that owns the pod's volumes and is added to every container's groups."),
        "sysctls": lst(CORE + "Sysctl", "Namespaced sysctls set for the pod."),
        "fsGroupChangePolicy": s("When the ownership and permissions of a volume are changed to fsGroup.",
                                 enum=("Always", "OnRootMismatch")),
        "seccompProfile": ref(CORE + "SeccompProfile", "Seccomp options for all containers."),
        "appArmorProfile": ref(CORE + "AppArmorProfile", "AppArmor options for all containers."),
        "seLinuxChangePolicy": s("How the SELinux label is applied to the pod's volumes.",
                                 enum=("MountOption", "Recursive")),
    },
    CORE + "Sysctl": {
        "name": s("Name of the sysctl.", req=True),
        "value": s("Value to set.", req=True),
    },
}

DESCRIPTIONS: dict[str, str] = {
    CORE + "Probe": "A health check run against a container to tell whether it is alive or ready to receive "
                    "traffic.",
    CORE + "ExecAction": "Runs a command in the container.",
    CORE + "HTTPGetAction": "An HTTP GET request.",
    CORE + "HTTPHeader": "A custom HTTP header.",
    CORE + "TCPSocketAction": "Opens a TCP socket.",
    CORE + "GRPCAction": "A gRPC health check.",
    CORE + "SleepAction": "Sleeps for a number of seconds.",
    CORE + "Lifecycle": "Actions the management system takes in response to container lifecycle events.",
    CORE + "LifecycleHandler": "A specific action to take in a lifecycle hook; exactly one field is set.",
    CORE + "SecurityContext": "Security settings of a container; they take precedence over the pod's.",
    CORE + "Capabilities": "POSIX capabilities to add to or remove from running containers.",
    CORE + "SELinuxOptions": "SELinux labels applied to a container.",
    CORE + "SeccompProfile": "A seccomp profile.",
    CORE + "AppArmorProfile": "An AppArmor profile.",
    CORE + "WindowsSecurityContextOptions": "Windows-specific options and credentials.",
    CORE + "PodSecurityContext": "Pod-level security attributes and common container settings.",
    CORE + "Sysctl": "A kernel parameter to set.",
}
