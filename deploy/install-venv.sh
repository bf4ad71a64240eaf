#!/bin/sh
# Build a virtual environment from one lock file: the only install step of the Docker images.
# The Dockerfile runs it, and `make check-deploy` replays the Dockerfile's RUN line that calls it.
#   sh deploy/install-venv.sh VENV LOCK
# --no-deps: the lock is complete, so exactly its pins install and nothing else can sneak in;
# --only-binary: wheels only, so no image needs a compiler; `pip check` proves the set coherent.
set -eu
venv="$1"
lock="$2"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --no-deps --only-binary=:all: --no-warn-script-location -r "$lock"
"$venv/bin/python" -m pip check
