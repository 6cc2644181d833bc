#!/usr/bin/env bash
# The README's first command: starts the whole mesh on the embedded default
# (no API key, no network), ingests the sample PDFs bundled in samples/ (a
# report with a table, a scanned memo read by OCR, a two-column paper; made by
# internal/samples), asks questions about them, prints each cited answer and
# FAILS unless every answer holds the expected figure and cites the document it
# comes from. Then it shuts the mesh down cleanly.
#   PDFQA_DEMO_DOCS      other PDFs to ingest instead ('a.pdf|b.pdf')
#   PDFQA_DEMO_QUESTION  with PDFQA_DEMO_DOCS: the question (nothing is checked
#                        unless PDFQA_DEMO_EXPECT, an extended regex, is set)
#   PDFQA_HTTP, PDFQA_DATA  REST address and data directory of the demo mesh
set -euo pipefail
cd "$(dirname "$0")/.."

# check_answer OUTPUT EXPECT CITE: fails (with the reason) unless the answer
# part of a `pdfqa ask` OUTPUT matches the extended regex EXPECT (when set)
# and its Citations block cites a page, of document CITE when set.
check_answer() {
  local out=$1 expect=$2 cite=$3 answer citations ok=0
  answer=${out%%$'\n'Citations:*}
  citations=${out#"$answer"}
  if [ -n "$expect" ] && ! grep -Eq -- "$expect" <<< "$answer"; then
    echo "demo: FAIL: the answer lacks the expected figure /$expect/"; ok=1
  fi
  if ! grep -Eq '^  \[.+ p\.[0-9]+\]' <<< "$citations"; then
    echo "demo: FAIL: the answer has no citation"; ok=1
  elif [ -n "$cite" ] && ! grep -Fq "[$cite p." <<< "$citations"; then
    echo "demo: FAIL: no citation of $cite"; ok=1
  fi
  return $ok
}

# --self-test: the checks on canned outputs, without a mesh.
if [ "${1:-}" = --self-test ]; then
  good=$'Revenue was 48,200 thousand euros [r.pdf p.1].\n\nCitations:\n  [r.pdf p.1] Total revenue 48,200'
  check_answer "$good" '48(,200|\.2)' r.pdf >/dev/null || { echo "self-test: a good answer failed"; exit 1; }
  ! check_answer "${good/48,200/42,885}" '48(,200|\.2)' r.pdf >/dev/null || { echo "self-test: a wrong figure passed"; exit 1; }
  ! check_answer "${good%%$'\n\nCitations'*}" '48(,200|\.2)' r.pdf >/dev/null || { echo "self-test: an uncited answer passed"; exit 1; }
  ! check_answer "$good" '48(,200|\.2)' other.pdf >/dev/null || { echo "self-test: a citation of the wrong document passed"; exit 1; }
  ! check_answer $'The documents do not say.\n\nCitations:\n  [r.pdf p.1] 48,200' '48(,200|\.2)' r.pdf >/dev/null || { echo "self-test: a figure only in the citations passed"; exit 1; }
  echo "demo self-test: ok"; exit 0
fi
data=${PDFQA_DATA:-.data/demo}
http=${PDFQA_HTTP:-127.0.0.1:8080}
start=$(date +%s.%N)

# Each question, the figure its answer must hold (an extended regex) and the
# document its citation must name.
questions=("What was Northwind Ferries' total revenue in 2025?"
           "What is the certified maximum passenger capacity of MV Tern?")
expects=('48(,200|\.2)' '\b296\b')
cites=(northwind-annual-report-2025.pdf harbour-inspection-memo-scan.pdf)
if [ -n "${PDFQA_DEMO_DOCS:-}" ]; then
  IFS='|' read -r -a files <<< "$PDFQA_DEMO_DOCS"
  questions=("${PDFQA_DEMO_QUESTION:?set PDFQA_DEMO_QUESTION with PDFQA_DEMO_DOCS}")
  expects=("${PDFQA_DEMO_EXPECT:-}")
  cites=("")
else
  files=(samples/*.pdf)
  [ -f "${files[0]}" ] || { echo "no samples/*.pdf: run go run ./internal/samples/gen"; exit 1; }
fi

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
bin/pdfqa ingest --data "$data" --collection demo "${files[@]}"

failed=0
first=""
for i in "${!questions[@]}"; do
  question=${questions[$i]} expect=${expects[$i]} cite=${cites[$i]}
  echo; echo "Q: $question"
  bin/pdfqa ask --data "$data" --collection demo "$question" | tee "$data/answer.txt" || { failed=1; continue; }
  out=$(<"$data/answer.txt")
  [ -n "$first" ] || first=$(date +%s.%N)
  check_answer "$out" "$expect" "$cite" || failed=1
done
echo
if [ -n "$first" ]; then
  awk -v a="$start" -v b="$first" -v n="${#files[@]}" \
    'BEGIN { printf "time to first answer: %.0f s (mesh start, ingestion of %d PDFs, first question)\n", b - a, n }'
fi
[ "$failed" = 0 ] || { echo "demo: an answer was wrong or uncited (mesh log: $data/up.log)"; exit 1; }
echo "demo: every answer holds its figure and cites its page"
echo "REST API: http://$http/v1/...   OpenAPI: http://$http/openapi.json   web UI: http://$http/"
