#!/bin/sh
# Build a virtual environment from one lock file: the only install step of the Docker images.
#   sh install-venv.sh VENV LOCK    (the Dockerfile's build stage and train target)
# --no-deps: the lock is complete, so exactly its pins install and nothing else can sneak in;
# --only-binary: wheels only, so no image needs a compiler; `pip check` proves the set coherent.
# A CA bundle passed as the build secret `ca-bundle` (a TLS-inspecting proxy's) is pip's for
# this step only: a secret mount is never part of a layer.
set -eu
venv="$1"
lock="$2"
if [ -s /run/secrets/ca-bundle ]; then
    export PIP_CERT=/run/secrets/ca-bundle
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --no-deps --only-binary=:all: --no-warn-script-location -r "$lock"
"$venv/bin/python" -m pip check
