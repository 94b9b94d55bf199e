#!/usr/bin/env bash
# Install raftkube on this machine (as root): the package in /opt/raftkube/.venv, `raftkube` on PATH,
# the systemd units. Run from a clone of the repository. Starts nothing: `raftkube init` or
# `raftkube join` writes /etc/raftkube first, then `systemctl enable --now raftkube-server|raftkube-agent`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "install: run as root" >&2; exit 1; }
umask 022
mkdir -p /opt/raftkube
rm -rf /opt/raftkube/src.new && mkdir /opt/raftkube/src.new
tar --exclude=./.venv --exclude=./.git -cf - . | tar -xf - -C /opt/raftkube/src.new
rm -rf /opt/raftkube/src && mv /opt/raftkube/src.new /opt/raftkube/src
cp -r deploy /opt/raftkube/
python3 -m venv /opt/raftkube/.venv
/opt/raftkube/.venv/bin/pip install -q /opt/raftkube/src
ln -sf /opt/raftkube/.venv/bin/raftkube /usr/local/bin/raftkube
install -m 0644 deploy/systemd/raftkube-server.service deploy/systemd/raftkube-agent.service /etc/systemd/system/
install -d -m 0700 /etc/raftkube
if command -v systemctl >/dev/null; then systemctl daemon-reload; fi
echo "install: raftkube $(/opt/raftkube/.venv/bin/raftkube --version | awk '{print $NF}') in /opt/raftkube; units installed"
