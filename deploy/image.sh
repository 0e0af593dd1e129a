#!/usr/bin/env bash
# `make image`: build deploy/Dockerfile here, without a Docker engine.
#
#   deploy/image.sh            build localhost/collections-platform:<version> (and :<version>-<git sha>)
#   deploy/image.sh base       only (re)build the Debian base image
#   deploy/image.sh smoke      run the built image's console scripts once (no network, read-only check)
#   deploy/image.sh export F   write the image as an OCI archive F (for `skopeo copy`/`podman load`)
#   deploy/image.sh run [-e NAME=VALUE]... [-c CONFIG.yaml] -- CMD...
#                              run CMD from the image as the Deployment would: root filesystem
#                              read-only, /tmp a fresh tmpfs, uid/gid 10001, no capabilities, the
#                              host's (loopback) network; the platform YAML (-c) is mounted at
#                              /etc/collections/platform.yaml. The process keeps this script's pid
#                              (exec), so SIGTERM to it reaches the service.
#
# How: mmdebstrap makes a minimal Debian bookworm root filesystem holding python3.11 from Debian's
# packages (the apt sources of this machine are reused, so it works where only Debian's mirror is
# reachable); buildah imports it as localhost/collections-base:bookworm-py311, then builds the
# Dockerfile FROM it (vfs storage, chroot isolation: no daemon, no overlay mounts, no user namespaces).
# Elsewhere the same Dockerfile builds FROM python:3.11-slim-bookworm (its default BASE_IMAGE).
#
# Cached under $COLLECTIONS_CACHE (default ~/.cache/collections):
#   image/base-bookworm-py311.tar   the mmdebstrap tarball (FORCE_BASE=1 rebuilds it and the base image);
#   containers/storage              buildah's storage: the base image and the built image;
#   image/tmp/buildah-cache         the RUN --mount=type=cache directories (uv's download and wheel
#                                   cache): buildah keeps them under $TMPDIR, which this script points
#                                   here so that they survive reboots and a re-created storage.
# The build is skipped when an image built from the same inputs exists: it is tagged
# <version>-in-<key>, <key> a hash of the Dockerfile, the build context's files (what .dockerignore
# lets in), the base image's id and this script's build recipe; a hit only re-tags it (seconds).
# A miss builds without --layers: on vfs storage every committed step copies the whole root
# filesystem, so a layered build costs ~3 min cold and still over a minute when every step is
# cached, while an unlayered one takes ~40 s (uv then installs from its cache above, not the network).
# BUILD_LAYERS=1 builds with --layers anyway; FORCE_BUILD=1 builds even on a hit. After a build, the
# image's older tags and the images left untagged are removed (each is ~300 MB on vfs).
#
# Env: IMAGE_NAME (default localhost/collections-platform), IMAGE_TAG (default: version in pyproject.toml),
#      BUILDAH_ROOT (default $COLLECTIONS_CACHE/containers/storage), FORCE_BASE, FORCE_BUILD, BUILD_LAYERS.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
LOG_TAG=image
# shellcheck source=local/_lib.sh
source "$HERE/local/_lib.sh"

CACHE="${COLLECTIONS_CACHE:-$HOME/.cache/collections}"
BASE_IMAGE="localhost/collections-base:bookworm-py311"
BASE_PACKAGES="python3.11,python3.11-venv,ca-certificates,tzdata,passwd"
BASE_TAR="$CACHE/image/base-bookworm-py311.tar"
IMAGE_NAME="${IMAGE_NAME:-localhost/collections-platform}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -n1)"
IMAGE_TAG="${IMAGE_TAG:-$VERSION}"
BUILDAH_ROOT="${BUILDAH_ROOT:-$CACHE/containers/storage}"
BUILDAH_RUNROOT="${BUILDAH_RUNROOT:-/tmp/collections-containers-run}"

BUILDAH_TMP="$CACHE/image/tmp"
IMAGE_RECIPE=1 # bump when build_image changes how the image is built

bah() {
  mkdir -p "$BUILDAH_TMP"
  TMPDIR="$BUILDAH_TMP" buildah --root "$BUILDAH_ROOT" --runroot "$BUILDAH_RUNROOT" --storage-driver vfs "$@"
}

ensure_tools() {
  local missing=()
  command -v buildah >/dev/null 2>&1 || missing+=(buildah)
  command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
  if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
}

# The apt sources mmdebstrap uses: this machine's own (deb822 or one-line), else Debian's default mirror.
apt_sources() {
  if [[ -s /etc/apt/sources.list.d/debian.sources ]]; then echo /etc/apt/sources.list.d/debian.sources
  elif [[ -s /etc/apt/sources.list ]] && grep -q '^deb ' /etc/apt/sources.list; then echo /etc/apt/sources.list
  else echo ""
  fi
}

build_base() {
  if [[ "${FORCE_BASE:-0}" != 1 ]] && bah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base $BASE_IMAGE present (FORCE_BASE=1 rebuilds it)"
    return 0
  fi
  mkdir -p "$(dirname "$BASE_TAR")"
  if [[ "${FORCE_BASE:-0}" == 1 || ! -s "$BASE_TAR" ]]; then
    local sources t0=$SECONDS
    sources="$(apt_sources)"
    log "mmdebstrap bookworm ($BASE_PACKAGES) -> $BASE_TAR"
    # shellcheck disable=SC2086,SC2016 # $sources is empty or one path; the hook's "$1" is mmdebstrap's
    mmdebstrap --variant=minbase --format=tar --include="$BASE_PACKAGES" \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      bookworm "$BASE_TAR.part" $sources >&2
    mv "$BASE_TAR.part" "$BASE_TAR"
    log "base tarball in $((SECONDS - t0)) s ($(du -sh "$BASE_TAR" | cut -f1))"
  fi
  local ctr t1=$SECONDS
  ctr="$(bah from scratch)"
  bah add "$ctr" "$BASE_TAR" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
    --cmd /bin/bash --label org.opencontainers.image.title=collections-base "$ctr"
  bah commit --rm "$ctr" "$BASE_IMAGE" >/dev/null
  log "committed $BASE_IMAGE in $((SECONDS - t1)) s"
}

# A hash of everything the image is built from: the files of the build context (the same selection as
# .dockerignore: pyproject.toml, uv.lock, src/, libs/, services/, without tests and caches), the
# Dockerfile, .dockerignore, the base image's id and IMAGE_RECIPE.
input_key() {
  (
    cd "$ROOT"
    echo "recipe $IMAGE_RECIPE base $(bah inspect --type image --format '{{.FromImageID}}' "$BASE_IMAGE")"
    find pyproject.toml uv.lock src libs services deploy/Dockerfile .dockerignore -type f \
      ! -path '*/tests/*' ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*/.mypy_cache/*' \
      ! -path '*/.pytest_cache/*' ! -path '*/.ruff_cache/*' ! -name '*.sqlite3*' -print0 |
      LC_ALL=C sort -z | xargs -0 sha256sum
  ) | sha256sum | cut -c1-16
}

build_image() {
  local sha key t0=$SECONDS
  sha="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
  key="$(input_key)"
  if [[ "${FORCE_BUILD:-0}" != 1 ]] && bah inspect --type image "$IMAGE_NAME:$IMAGE_TAG-in-$key" >/dev/null 2>&1; then
    bah tag "$IMAGE_NAME:$IMAGE_TAG-in-$key" "$IMAGE_NAME:$IMAGE_TAG" "$IMAGE_NAME:$IMAGE_TAG-$sha"
    log "inputs unchanged (key $key): tagged the cached image as $IMAGE_NAME:$IMAGE_TAG (FORCE_BUILD=1 rebuilds)"
    echo "$IMAGE_NAME:$IMAGE_TAG"
    return 0
  fi
  log "buildah build $IMAGE_NAME:$IMAGE_TAG (FROM $BASE_IMAGE, inputs $key)"
  local secret=() layers=(--layers)
  [[ "${BUILD_LAYERS:-0}" == 1 ]] || layers=()
  # This machine's CA bundle (it may hold a TLS-intercepting proxy's CA) for the downloading steps only.
  local ca="${BUILD_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  [[ -s "$ca" ]] && secret=(--secret "id=ca-bundle,src=$ca")
  bah build --isolation chroot "${layers[@]}" "${secret[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --label "org.opencontainers.image.revision=$sha" \
    --label "org.opencontainers.image.version=$VERSION" \
    -f "$HERE/Dockerfile" -t "$IMAGE_NAME:$IMAGE_TAG" -t "$IMAGE_NAME:$IMAGE_TAG-$sha" \
    -t "$IMAGE_NAME:$IMAGE_TAG-in-$key" "$ROOT" >&2
  log "built $IMAGE_NAME:$IMAGE_TAG in $((SECONDS - t0)) s"
  prune_old "$IMAGE_TAG" "$IMAGE_TAG-$sha" "$IMAGE_TAG-in-$key"
  echo "$IMAGE_NAME:$IMAGE_TAG"
}

# Remove every other tag of $IMAGE_NAME, then the images no tag holds (older builds, layers of --layers).
prune_old() {
  local keep=" $* " tag
  while read -r tag; do
    [[ "$keep" == *" $tag "* ]] || bah rmi "$IMAGE_NAME:$tag" >/dev/null 2>&1 || true
  done < <(bah images --format '{{.Tag}}' "$IMAGE_NAME" 2>/dev/null | sort -u)
  bah rmi --prune >/dev/null 2>&1 || true
}

# Run each console script's --help inside the image, as its non-root user.
smoke() {
  local ctr svc
  ctr="$(bah from "$IMAGE_NAME:$IMAGE_TAG")"
  trap 'bah rm "$ctr" >/dev/null' RETURN
  for svc in collections collections-ledger collections-delinquency collections-outreach collections-legal; do
    bah run --isolation chroot --user 10001:10001 "$ctr" -- "$svc" --help >/dev/null ||
      die "$svc --help failed inside the image"
  done
  [[ "$(bah run --isolation chroot "$ctr" -- id -u)" == 10001 ]] || die "image does not run as uid 10001"
  log "smoke ok: five console scripts answer as uid 10001"
}

# Run a command from the image like the pod does (see the header). Needs root (mount namespaces).
run_image() {
  local envs=() config="" arg
  while (($#)); do
    case "$1" in
      -e) envs+=("$2"); shift 2 ;;
      -c) config="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
      --) shift; break ;;
      *) break ;;
    esac
  done
  (($#)) || die "usage: $0 run [-e NAME=VALUE]... [-c CONFIG] -- CMD..."
  [[ $EUID -eq 0 ]] || die "run needs root (mount namespace)"
  local ctr rootfs
  ctr="$(bah from --pull-never "$IMAGE_NAME:$IMAGE_TAG")"
  rootfs="$(bah mount "$ctr")"
  echo "$ctr" >"$BUILDAH_RUNROOT/last-run-container" 2>/dev/null || true
  # The image's own environment (PATH to the venv, HOME=/tmp, PYTHONDONTWRITEBYTECODE...).
  mapfile -t image_env < <(bah inspect --type container --format '{{range .OCIv1.Config.Env}}{{println .}}{{end}}' "$ctr" | sed '/^$/d')
  for arg in "${envs[@]}"; do image_env+=("$arg"); done
  [[ -n "$config" ]] && image_env+=("COLLECTIONS_CONFIG=/etc/collections/platform.yaml")
  log "running from $IMAGE_NAME:$IMAGE_TAG (container $ctr, read-only root, uid 10001): $*"
  # A private mount namespace: the rootfs bound read-only, /tmp tmpfs, /proc, /dev; then chroot and
  # (the image's setpriv) drop to uid 10001 with no capabilities. exec all the way, so the pid stays this script's.
  # shellcheck disable=SC2016 # the inner script expands its own arguments
  exec unshare --mount --propagation private -- /bin/bash -c '
    set -e
    root="$1"; config="$2"; shift 2
    mount --bind "$root" "$root"
    mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev tmpfs "$root/tmp"
    mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
    mount --rbind /dev "$root/dev"
    if [[ -n "$config" ]]; then
      mkdir -p "$root/etc/collections"
      touch "$root/etc/collections/platform.yaml"
      mount --bind -o ro "$config" "$root/etc/collections/platform.yaml"
    fi
    mount -o remount,bind,ro "$root"
    envs=(); while [[ "$1" != "--" ]]; do envs+=("$1"); shift; done; shift
    exec chroot "$root" /usr/bin/setpriv --reuid 10001 --regid 10001 --clear-groups --inh-caps=-all \
      --bounding-set=-all --no-new-privs -- /usr/bin/env -i -C /tmp "${envs[@]}" "$@"
  ' _ "$rootfs" "$config" "${image_env[@]}" -- "$@"
}

case "${1:-build}" in
  build) ensure_tools; build_base; build_image ;;
  base) ensure_tools; build_base ;;
  smoke) smoke ;;
  export)
    [[ -n "${2:-}" ]] || die "usage: $0 export FILE.tar"
    bah push "$IMAGE_NAME:$IMAGE_TAG" "oci-archive:$2:$IMAGE_NAME:$IMAGE_TAG" >&2
    echo "$2"
    ;;
  run) shift; run_image "$@" ;;
  clean-run)
    # remove the containers `run` left (their rootfs copies take space in vfs storage)
    bah rm --all >/dev/null && log "removed working containers"
    ;;
  *) echo "usage: $0 [build|base|smoke|export FILE|run ... -- CMD|clean-run]" >&2; exit 2 ;;
esac
