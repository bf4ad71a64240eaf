#!/usr/bin/env bash
# What `make check-deploy` needs from Debian, installed only when missing (CI starts on a fresh
# machine, as root): podman with runc (crun refuses this machine's hybrid cgroups), netavark and
# aardvark-dns (compose's service names), catatonit (`podman kube play`'s pause image), buildah,
# debootstrap (deploy/base-images.sh) and docker-compose (v1, the Python client of podman's API).
set -euo pipefail
missing=()
for package in podman runc netavark aardvark-dns catatonit buildah debootstrap docker-compose; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    [[ $status == installed ]] || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "installing ${missing[*]}"
    apt-get update -qq
    # Another apt may hold the lock on a shared machine: wait for it rather than fail.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
        --no-install-recommends "${missing[@]}"
fi
# Podman's system-wide settings, in a drop-in of their own: runc, netavark, and rlimits that
# runc can set here (with podman's defaults it fails: "error setting rlimit type 7").
# No systemd runs here, so no periodic healthcheck either: the checks run them by hand.
conf=/etc/containers/containers.conf.d/50-imdb-sentiment.conf
mkdir -p "$(dirname "$conf")"
cat >"$conf.new" <<'CONF'
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
CONF
mv "$conf.new" "$conf"
