#!/usr/bin/env bash
# Client-compatibility proof: starts a mesh (bin/pdfqa up, which creates its
# admin API key in the data directory; the clients use that key),
# ingests a PDF through the Go SDK's CLI path, then runs tests/clients with
# the pinned openai, LangChain and MCP packages (scripts/setup/clients-venv.sh):
# the OpenAI API at /openai/v1, MCP over stdio (pdfqa mcp) and over
# streamable HTTP at /mcp.
#   PDFQA_CLIENTS_PDF       the PDF to ingest (default: a dev earnings call)
#   PDFQA_CLIENTS_QUESTION  the question asked
#   PDFQA_CLIENTS_BIN       the pdfqa binary (default: bin/pdfqa, made by make build)
set -euo pipefail
cd "$(dirname "$0")/.."
pdfqa=$(realpath "${PDFQA_CLIENTS_BIN:-bin/pdfqa}")
venv=$(scripts/setup/clients-venv.sh)
pdf=${PDFQA_CLIENTS_PDF:-${PDFQA_SHARED:-../shared}/data/dev/earnings-calls/Q1 2023 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf}
[[ -f "$pdf" ]] || { echo "test-clients: no PDF at $pdf (set PDFQA_CLIENTS_PDF)"; exit 1; }
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$pdfqa" up --data "$data" --http "127.0.0.1:$port" --log-level warn > "$data/up.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
for _ in $(seq 1 480); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 $pid 2>/dev/null || { echo "pdfqa up exited:"; tail -20 "$data/up.log"; exit 1; }
  sleep 0.5
done
[[ -s "$data/admin.key" ]] || { echo "test-clients: pdfqa up wrote no admin key"; exit 1; }
key=$(cat "$data/admin.key")
"$pdfqa" ingest --data "$data" --collection clients "$pdf" 2>/dev/null
PDFQA_OPENAI_BASE_URL="http://127.0.0.1:$port/openai/v1" PDFQA_MCP_URL="http://127.0.0.1:$port/mcp" PDFQA_API_KEY=$key PDFQA_TEST_COLLECTION=clients \
PDFQA_TEST_QUESTION="${PDFQA_CLIENTS_QUESTION:-How much did Snowflake product revenue grow in Q1 fiscal 2023?}" \
PDFQA_BIN="$pdfqa" PDFQA_DATA="$data" \
  "$venv/bin/python" -m pytest -q tests/clients "$@"
