#!/usr/bin/env bash
# Runs every Go fuzz target briefly (FUZZTIME, default 15s each) so CI
# exercises the hostile-input entry points beyond their seed corpora.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-15s}
found=0
while IFS= read -r f; do
  dir=$(dirname "$f")
  for name in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    found=1
    echo "fuzz $dir $name ($t)"
    (cd "$dir" && go test -run '^$' -fuzz "^${name}\$" -fuzztime "$t" .)
  done
done < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
[ $found -eq 1 ] || echo "fuzz: no fuzz targets"
