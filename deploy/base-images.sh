#!/usr/bin/env bash
# Base images made from Debian's own packages, for a machine that can pull from no registry:
#   bash deploy/base-images.sh        # as root; reuses an image whose recipe has not changed
# Each is `debootstrap --variant=minbase` of bookworm plus a few packages, without apt's lists,
# docs, man pages and locales, imported with `podman import`:
#   localhost/imdb-sentiment-base/python:3.11-bookworm   python3, python3-venv, ca-certificates
#                                                        (the Dockerfile's PYTHON_IMAGE)
#   localhost/imdb-sentiment-base/nginx:bookworm         nginx (compose's NGINX_IMAGE)
#   localhost/imdb-sentiment-base/prometheus:bookworm    prometheus (compose's PROMETHEUS_IMAGE)
# The three are made at once. An image carries a hash of this file as a label, so a changed
# recipe is made anew and an unchanged one is not (about a minute each, mostly downloads).
set -euo pipefail
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PREFIX=localhost/imdb-sentiment-base
RECIPE=$(sha256sum "$0" | cut -c1-16)

# make_image NAME PACKAGES [podman import --change ...]: the image NAME, unless it exists already.
make_image() {
    local name=$1 packages=$2 root
    shift 2
    local label
    label=$(podman image inspect --format '{{index .Labels "recipe"}}' "$name" 2>/dev/null || true)
    if [[ $label == "$RECIPE" ]]; then
        echo "$name: up to date"
        return
    fi
    root=$(mktemp -d /var/tmp/imdb-sentiment-base.XXXXXX)
    # shellcheck disable=SC2064  # expand now: root is local
    trap "rm -rf '$root'" RETURN
    local start=$SECONDS
    debootstrap --variant=minbase --include="$packages" bookworm "$root" "$MIRROR" \
        >"$root.log" 2>&1 || { tail -20 "$root.log"; rm -f "$root.log"; return 1; }
    rm -f "$root.log"
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* \
        "$root"/usr/share/{doc,man,locale,info}
    # Prometheus' storage: its user's (the package made the user).
    [[ $name != *prometheus* ]] || chroot "$root" install -d -o prometheus -g prometheus /prometheus
    tar -C "$root" --numeric-owner -c . | podman import --quiet \
        --change "LABEL recipe=$RECIPE" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' "$@" - "$name" >/dev/null
    echo "$name: made in $((SECONDS - start)) s"
}

make_image "$PREFIX/python:3.11-bookworm" python3,python3-venv,ca-certificates \
    --change 'CMD ["python3"]' &
make_image "$PREFIX/nginx:bookworm" nginx \
    --change 'STOPSIGNAL SIGQUIT' --change 'CMD ["nginx", "-g", "daemon off;"]' &
make_image "$PREFIX/prometheus:bookworm" prometheus,ca-certificates \
    --change 'USER prometheus' --change 'WORKDIR /prometheus' \
    --change 'ENTRYPOINT ["/usr/bin/prometheus"]' \
    --change 'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]' &
failed=0
for job in $(jobs -p); do wait "$job" || failed=1; done
exit $failed
