#!/usr/bin/env bash
# Checks the contracts for wire/JSON-breaking changes (WIRE_JSON, buf.yaml)
# against main as it was before the newest change to proto/: origin/main when
# the clone has it and it differs from HEAD, else the parent of the newest
# commit that touched proto/.
set -euo pipefail
buf=${1:-.bin/buf}
base=""
if git rev-parse -q --verify origin/main >/dev/null && [ "$(git rev-parse origin/main)" != "$(git rev-parse HEAD)" ]; then
  base=$(git rev-parse origin/main)
else
  newest=$(git log -n1 --format=%H -- proto)
  if [ -n "$newest" ] && git rev-parse -q --verify "$newest^" >/dev/null; then
    base=$(git rev-parse "$newest^")
  fi
fi
if [ -z "$base" ] || [ -z "$(git ls-tree -d "$base" proto)" ]; then
  echo "buf breaking: no earlier contracts to compare against (first version of proto/)"
  exit 0
fi
echo "buf breaking against $(git rev-parse --short "$base")"
"$buf" breaking --against ".git#ref=$base"
