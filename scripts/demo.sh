#!/usr/bin/env bash
# The README's first command: starts the whole mesh on the embedded default,
# shows its status, then shuts it down cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${PDFQA_DATA:-.data/demo}
http=${PDFQA_HTTP:-127.0.0.1:8080}
mkdir -p "$data"
bin/pdfqa up --data "$data" --http "$http" > "$data/up.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  if curl -fsS "http://$http/healthz" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "pdfqa up exited:"; tail -20 "$data/up.log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://$http/healthz"; echo
bin/pdfqa status --data "$data"
echo "REST API: http://$http/v1/...   OpenAPI: http://$http/openapi.json"
