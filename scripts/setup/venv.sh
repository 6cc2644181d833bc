#!/usr/bin/env bash
# Ensures the project's Python venv (model conversion, LoRA training, worker
# tests) exists, keyed by the hash of requirements.txt; prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
reqhash="$(sha256_of "$SETUP_DIR/requirements.txt" | cut -c1-16)"
venv="$PDFQA_CACHE/venv/$reqhash"
if [[ ! -f "$venv/.complete" ]]; then
  log "creating venv $venv (first run downloads torch; this takes a while)"
  rm -rf "$venv"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$SETUP_DIR/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
