#!/usr/bin/env bash
# Ensures the deployment-tooling venv (requirements-deploy.txt: the modal client)
# exists, keyed by the hash of that file; prints its path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"
ensure_req_venv deploy deploy "$SETUP_DIR/requirements-deploy.txt"
