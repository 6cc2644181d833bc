#!/usr/bin/env bash
# Ensures the client-compatibility venv (requirements-clients.txt: the openai
# package, LangChain's ChatOpenAI, the reference MCP client) exists, keyed by
# the hash of that file; prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
reqhash="$(sha256_of "$SETUP_DIR/requirements-clients.txt" | cut -c1-16)"
venv="$PDFQA_CACHE/venv-clients/$reqhash"
if [[ ! -f "$venv/.complete" ]]; then
  log "creating client venv $venv"
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  "$PYTHON" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet -r "$SETUP_DIR/requirements-clients.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
