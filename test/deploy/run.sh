#!/usr/bin/env bash
# Offline checks of what deploys clusterd (no cluster, no Docker engine):
# - `kubectl kustomize k8s/` for the default lookup mode (EndpointSlices) and
#   with each component (endpoints, pods, dns), each output checked by
#   check_k8s.py; the dns component's config is config/prod.yaml;
# - `clusterd check` on the example configs;
# - the Dockerfile's runtime packages against `ldd` of clusterd and epmd
#   (check_dockerfile.py).
# Exit 0 when every check passed.
set -u
# Debian's python3, whose yaml module scripts/install-deps.sh installs
# (python3-yaml), not whichever python3 comes first in PATH.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
cd "$(dirname "$0")/../.."
export KUBECONFIG=/nonexistent # kustomize needs no cluster; never talk to one
status=0
tmp=test/tmp/deploy
rm -rf "$tmp"
mkdir -p "$tmp"

if ! command -v kubectl >/dev/null; then
  echo "deploy: kubectl not found (needed for kubectl kustomize)" >&2
  exit 1
fi

kustomize_check() {
  local variant=$1 dir=$2
  if ! kubectl kustomize "$dir" >"$tmp/$variant.yaml" 2>"$tmp/$variant.err"; then
    echo "FAIL kubectl kustomize $dir:"
    cat "$tmp/$variant.err"
    status=1
    return
  fi
  "$py" test/deploy/check_k8s.py "$variant" <"$tmp/$variant.yaml" || status=1
}

kustomize_check endpointslices k8s
for c in endpoints pods dns; do
  mkdir -p "$tmp/$c"
  printf 'resources: [../../../../k8s]\ncomponents: [../../../../k8s/components/%s]\n' "$c" \
    >"$tmp/$c/kustomization.yaml"
  kustomize_check "$c" "$tmp/$c"
done

if ! cmp -s config/prod.yaml k8s/components/dns/clusterd.yaml; then
  echo "FAIL k8s/components/dns/clusterd.yaml differs from config/prod.yaml"
  status=1
fi

# The example configs pass `clusterd check`, including the ones the
# manifests ship (the coordinator's and each component's).
for f in config/*.yaml k8s/coordinator/clusterd.yaml k8s/components/*/clusterd.yaml; do
  [ -f "$f" ] || continue
  if ! out=$(priv/clusterd check -c "$f" 2>&1); then
    echo "FAIL clusterd check -c $f:"
    echo "$out"
    status=1
  else
    echo "ok   clusterd check -c $f: $out"
  fi
done

epmd_bin=$(erl -noshell -eval 'io:format("~s",[code:root_dir()]), halt().')/erts-*/bin/epmd
# shellcheck disable=SC2086
"$py" test/deploy/check_dockerfile.py Dockerfile priv/clusterd $epmd_bin || status=1

[ "$status" -eq 0 ] && echo "deploy checks: all passed" || echo "deploy checks: FAILED"
exit "$status"
