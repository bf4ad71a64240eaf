#!/usr/bin/env bash
# The Debian packages that `make check-deploy` needs, installed only when missing (CI starts on
# a fresh machine, as root): nginx for the scale-out test, docker-compose (the Python v1 client:
# no engine needed) for `docker-compose config`, python3-venv for the replayed image's venv.
set -euo pipefail
missing=()
for package in nginx docker-compose python3-venv; do
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
