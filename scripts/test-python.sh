#!/usr/bin/env bash
# Runs the Python tests: the trainer worker in the project's pinned venv, and the
# Modal app (deploy/modal) in the deploy venv (scripts/setup/deploy-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy_venv=$(scripts/setup/deploy-venv.sh)
"$deploy_venv/bin/python" -m pytest -q -p no:cacheprovider deploy/modal/tests "$@"
if ! compgen -G "services/trainer/worker/tests/test_*.py" >/dev/null; then
  echo "python: no worker tests yet"
  exit 0
fi
if [[ -x scripts/setup/venv.sh ]]; then
  venv=$(scripts/setup/venv.sh)
else
  # The venv fetch-models.sh builds, keyed by the hash of requirements.txt.
  . scripts/setup/common.sh
  venv="$PDFQA_CACHE/venv/$(sha256_of scripts/setup/requirements.txt | cut -c1-16)"
  [[ -f "$venv/.complete" ]] || die "no venv at $venv: run scripts/setup/all.sh"
fi
"$venv/bin/python" -m pytest -q services/trainer/worker/tests "$@"
