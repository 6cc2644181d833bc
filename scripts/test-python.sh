#!/usr/bin/env bash
# Runs the Python tests (the trainer worker) in the project's pinned venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! compgen -G "services/trainer/worker/tests/test_*.py" >/dev/null; then
  echo "python: no worker tests yet"
  exit 0
fi
venv=$(scripts/setup/venv.sh)
"$venv/bin/python" -m pytest -q services/trainer/worker/tests
