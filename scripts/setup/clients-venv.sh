#!/usr/bin/env bash
# Ensures the client-compatibility venv (requirements-clients.txt: the openai
# package, LangChain's ChatOpenAI, the reference MCP client) exists, keyed by
# the hash of that file; prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
ensure_req_venv clients client "$SETUP_DIR/requirements-clients.txt"
