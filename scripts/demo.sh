#!/usr/bin/env bash
# The README's first command: starts the whole mesh on the embedded default
# (no API key, no network), ingests PDFs, asks a question and prints the cited
# answer, then shuts the mesh down cleanly.
#   PDFQA_DEMO_DOCS      PDFs to ingest (default: two of the dev earnings calls)
#   PDFQA_DEMO_QUESTION  the question
set -euo pipefail
cd "$(dirname "$0")/.."
data=${PDFQA_DATA:-.data/demo}
http=${PDFQA_HTTP:-127.0.0.1:8080}
dev=${PDFQA_SHARED:-../shared}/data/dev/earnings-calls
docs=${PDFQA_DEMO_DOCS:-}
if [ -z "$docs" ] && [ -d "$dev" ]; then
  docs="$dev/Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf|$dev/Q3 FY23 Microsoft Corp Earnings Call.pdf"
fi
question=${PDFQA_DEMO_QUESTION:-How much did Snowflake product revenue grow in Q1 fiscal 2023?}
mkdir -p "$data"
bin/pdfqa up --data "$data" --http "$http" > "$data/up.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
echo "starting the mesh (log: $data/up.log)"
for _ in $(seq 1 240); do
  if curl -fsS "http://$http/healthz" >/dev/null 2>&1; then break; fi
  kill -0 $pid 2>/dev/null || { echo "pdfqa up exited:"; tail -20 "$data/up.log"; exit 1; }
  sleep 0.5
done
curl -fsS "http://$http/healthz"; echo
bin/pdfqa status --data "$data"
if [ -z "$docs" ]; then
  echo "no PDFs to ingest: set PDFQA_DEMO_DOCS='a.pdf|b.pdf'"; exit 0
fi
IFS='|' read -r -a files <<< "$docs"
bin/pdfqa ingest --data "$data" --collection demo "${files[@]}"
echo; echo "Q: $question"
bin/pdfqa ask --data "$data" --collection demo "$question"
echo; echo "REST API: http://$http/v1/...   OpenAPI: http://$http/openapi.json"
