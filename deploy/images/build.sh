#!/usr/bin/env bash
# Build localhost/raftkube/busybox:latest from Debian's busybox-static with `podman import`
# (no registry needed): /bin/busybox plus one symlink per applet, a page at /www/index.html,
# PATH=/bin, CMD /bin/sh. Does nothing when the image exists already, unless --force is given.
# Uses the project's containers.conf (CONTAINERS_CONF, default deploy/podman/containers.conf).
set -euo pipefail

IMAGE="localhost/raftkube/busybox:latest"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$HERE/../podman/containers.conf}"

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *) echo "usage: $0 [--force]" >&2; exit 2 ;;
    esac
done

if [ "$force" -eq 0 ] && podman image exists "$IMAGE"; then
    echo "build: $IMAGE exists (use --force to rebuild)"
    exit 0
fi

BUSYBOX="$(command -v busybox || true)"
if [ -z "$BUSYBOX" ] || ! "$BUSYBOX" --list >/dev/null 2>&1; then
    echo "build: busybox not found; run deploy/podman/setup.sh (package busybox-static)" >&2
    exit 1
fi
if ldd "$BUSYBOX" >/dev/null 2>&1; then
    echo "build: $BUSYBOX is dynamically linked; install busybox-static" >&2
    exit 1
fi

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/www" "$root/etc" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    # the list includes busybox itself: never replace the binary with a link to itself
    if [ "$applet" != "busybox" ]; then
        ln -sf busybox "$root/bin/$applet"
    fi
done
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
cat > "$root/www/index.html" <<'HTML'
<!doctype html>
<html><head><title>raftkube busybox</title></head>
<body><h1>Hello from raftkube's busybox image</h1></body></html>
HTML

tar -C "$root" -c . | podman import -q \
    -c 'ENV PATH=/bin' \
    -c 'CMD ["/bin/sh"]' \
    - "$IMAGE" >/dev/null
echo "build: built $IMAGE ($(podman image inspect --format '{{.Size}}' "$IMAGE") bytes)"
