# syntax=docker/dockerfile:1
# The IMDB sentiment service, and (target `train`) the training pipeline.
#   docker build -t imdb-sentiment:0.1.0 .
#   docker build --target train -t imdb-sentiment-train:0.1.0 .
# Behind a TLS-inspecting proxy, hand pip your CA bundle for the build only (never stored in a layer):
#   docker build --secret id=ca-bundle,src=/etc/ssl/certs/ca-certificates.crt -t imdb-sentiment:0.1.0 .
# `make check-deploy` builds both targets with podman and runs them (docs/deploy.md).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# The serve extra, exactly as locked (no TensorFlow), into a venv that the runtime stage copies.
FROM ${PYTHON_IMAGE} AS build
ENV VIRTUAL_ENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY deploy/install-venv.sh requirements/serve.lock ./
RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=ca-bundle,required=false \
    sh install-venv.sh "$VIRTUAL_ENV" serve.lock

# The runtime image: the venv, service/ and models/, run by a non-root user; no pip install, no
# compiler, no TensorFlow. Made for a read-only root filesystem: nothing is written at run time.
FROM ${PYTHON_IMAGE} AS runtime
ENV VIRTUAL_ENV=/opt/venv
ENV PATH="$VIRTUAL_ENV/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WEB_CONCURRENCY=1
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY service/ service/
COPY models/ models/
# Numeric, so that Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
# uvicorn answers SIGTERM by failing readiness, finishing in-flight requests (at most 30 s) and
# exiting 0. Run it with an init (`docker run --init`; compose's `init: true`): as PID 1, python
# would ignore a SIGTERM that comes before uvicorn's handler is installed, while the models load.
STOPSIGNAL SIGTERM
# The slim image has no curl: python's urllib; a 503 or a refused connection exits non-zero.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/ready', timeout=4)"]
# HOST, PORT and WEB_CONCURRENCY are read by the service (service/settings.py).
CMD ["python", "-m", "service"]

# The training pipeline (the serve and train extras as locked in train.lock: TensorFlow, no dev
# tools); mount the data at /data and models/ at /app/models (the train service of compose).
FROM ${PYTHON_IMAGE} AS train
ENV VIRTUAL_ENV=/opt/venv \
    PIP_DISABLE_PIP_VERSION_CHECK=1
ENV PATH="$VIRTUAL_ENV/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
WORKDIR /build
COPY deploy/install-venv.sh requirements/train.lock ./
RUN --mount=type=cache,target=/root/.cache/pip --mount=type=secret,id=ca-bundle,required=false \
    sh install-venv.sh "$VIRTUAL_ENV" train.lock
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin app
WORKDIR /app
COPY service/ service/
COPY training/ training/
USER 10001:10001
ENTRYPOINT ["python", "-m", "training"]
CMD ["--data", "/data", "--out", "models"]
