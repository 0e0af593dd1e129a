#!/usr/bin/env bash
# Offline validation of the Kubernetes manifests (CI runs this; no cluster, no network once cached).
#
#   deploy/k8s/validate.sh            render every overlay into build/k8s/<overlay>.yaml and check it
#   deploy/k8s/validate.sh --render   only render (tests call this)
#
# 1. kustomize v5.8.2, built once with `go install` into $COLLECTIONS_CACHE/bin (skipped when present);
# 2. `kustomize build deploy/k8s/overlays/<overlay>`;
# 3. kubernetes-validate --strict on the core kinds (its bundled schemas; a misspelt field fails);
#    it has no schemas for custom resources, so those are split off and
# 4. deploy/k8s/checks.py validates them against strict schemas (schemas/crds.yaml) and checks the
#    rules of deploy/README.md (probes, limits, non-root, pinned image, topics, scaling, secrets).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
CACHE="${COLLECTIONS_CACHE:-$HOME/.cache/collections}"
KUSTOMIZE_VERSION=v5.8.2
KUSTOMIZE="$CACHE/bin/kustomize-$KUSTOMIZE_VERSION"
OUT="${K8S_OUT:-$ROOT/build/k8s}"
K8S_VERSION="${K8S_VERSION:-1.33.0}"
UV="${UV:-uv}"

log() { printf '[k8s] %s\n' "$*" >&2; }

ensure_kustomize() {
  if [[ -x "$KUSTOMIZE" ]]; then return 0; fi
  command -v go >/dev/null 2>&1 || { log "ERROR: go is needed to build kustomize"; exit 1; }
  log "building kustomize $KUSTOMIZE_VERSION (go install, once)"
  local tmp t0=$SECONDS
  tmp="$(mktemp -d)"
  GOBIN="$tmp" go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
  mkdir -p "$(dirname "$KUSTOMIZE")"
  mv "$tmp/kustomize" "$KUSTOMIZE"
  rmdir "$tmp"
  log "kustomize built in $((SECONDS - t0)) s"
}

render() {
  mkdir -p "$OUT"
  local overlay
  for overlay in "$HERE"/overlays/*/; do
    overlay="$(basename "$overlay")"
    "$KUSTOMIZE" build "$HERE/overlays/$overlay" >"$OUT/$overlay.yaml"
    log "rendered $overlay -> $OUT/$overlay.yaml"
  done
}

# Split a rendered file into core kinds (for kubernetes-validate) and custom resources.
split_core() {
  "$UV" run --frozen python - "$1" "$2" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
crd_groups = ("kafka.strimzi.io/", "keda.sh/")
core = [d for d in docs if not str(d.get("apiVersion", "")).startswith(crd_groups)]
with open(sys.argv[2], "w") as f:
    yaml.safe_dump_all(core, f, sort_keys=False)
print(f"{len(core)} core, {len(docs) - len(core)} custom resources", file=sys.stderr)
PY
}

validate() {
  local overlay status=0
  for overlay in "$HERE"/overlays/*/; do
    overlay="$(basename "$overlay")"
    local file="$OUT/$overlay.yaml" core="$OUT/$overlay.core.yaml"
    split_core "$file" "$core"
    if "$UV" run --frozen kubernetes-validate --strict --quiet -k "$K8S_VERSION" "$core"; then
      log "$overlay: kubernetes-validate --strict (k8s $K8S_VERSION) ok"
    else
      log "$overlay: kubernetes-validate --strict FAILED"; status=1
    fi
    local extra=()
    [[ "$overlay" == prod ]] && extra=(--prod)
    if "$UV" run --frozen python "$HERE/checks.py" "$file" "${extra[@]}"; then
      log "$overlay: custom resources and platform rules ok"
    else
      log "$overlay: checks FAILED"; status=1
    fi
  done
  return $status
}

ensure_kustomize
render
[[ "${1:-}" == --render ]] || validate
