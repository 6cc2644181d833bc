#!/usr/bin/env bash
# Provisions everything the inference engine needs into $PDFQA_CACHE:
# the llama-server binary (build-engine.sh) and the default models
# (fetch-models.sh). Idempotent; prints the resulting paths as KEY=VALUE.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"

start=$(date +%s)
bin="$("$here/build-engine.sh" | tail -n1)"
mapfile -t models < <("$here/fetch-models.sh")
venv="$("$here/venv.sh")"
log "setup done in $(( $(date +%s) - start ))s"
echo "PDFQA_CACHE=$PDFQA_CACHE"
echo "PDFQA_LLAMA_SERVER=$bin"
echo "PDFQA_LLM_MODEL=${models[0]}"
echo "PDFQA_EMBED_MODEL=${models[1]}"
echo "PDFQA_VENV=$venv"
