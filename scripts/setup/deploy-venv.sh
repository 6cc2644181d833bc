#!/usr/bin/env bash
# Ensures the deployment-tooling venv (requirements-deploy.txt: the modal client)
# exists, keyed by the hash of that file; prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
reqhash="$(sha256_of "$SETUP_DIR/requirements-deploy.txt" | cut -c1-16)"
venv="$PDFQA_CACHE/venv-deploy/$reqhash"
if [[ ! -f "$venv/.complete" ]]; then
  log "creating deploy venv $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$SETUP_DIR/requirements-deploy.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
