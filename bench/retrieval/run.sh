#!/usr/bin/env bash
# Retrieval benchmark: our retrieval engine (bench/retrieval/cmd/searcheval)
# against a default LlamaIndex pipeline (bench/retrieval/llamaindex_baseline.py)
# on the same PDFs and questions, scored by score_qa.py, printed side by side.
#
#   bench/retrieval/run.sh [PDF_DIR] [QUESTIONS.csv]
#
# Environment: OUT (results folder, default a temp dir), PDFQA_CACHE (default
# ~/.cache/pdfqa: llama-server, models, the bench venv), SCORER (score_qa.py),
# SKIP_LLAMAINDEX=1, WORKERS (ingestion workers for ours, default nproc).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PDFS=${1:-$ROOT/../shared/data/dev/earnings-calls}
QUESTIONS=${2:-$PDFS/qna_data.csv}
SCORER=${SCORER:-$ROOT/../shared/tools/score_qa.py}
OUT=${OUT:-$(mktemp -d -t retrieval-bench.XXXXXX)}
CACHE=${PDFQA_CACHE:-$HOME/.cache/pdfqa}
WORKERS=${WORKERS:-$(nproc)}
mkdir -p "$OUT"
echo "results in $OUT" >&2

# --- ours: hybrid, keyword and vector search over one ingestion ---------------
(cd "$ROOT" && go build -o "$OUT/searcheval" ./bench/retrieval/cmd/searcheval)
"$OUT/searcheval" -pdfs "$PDFS" -questions "$QUESTIONS" -out "$OUT/ours" -workers "$WORKERS" -cache "$CACHE"

# --- LlamaIndex: its own venv keyed by the requirements' hash -----------------
if [ "${SKIP_LLAMAINDEX:-0}" != 1 ]; then
  REQ="$ROOT/bench/retrieval/requirements.txt"
  VENV="$CACHE/venv-bench-$(sha256sum "$REQ" | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ] || [ ! -f "$VENV/.installed" ]; then
    python3 -m venv "$VENV"
    # Reuse the project venv's torch (CPU inference only) instead of
    # downloading another copy: its site-packages go after the venv's own.
    for sp in "$CACHE"/venv/*/lib/python3*/site-packages; do
      if [ -d "$sp/torch" ]; then echo "$sp" > "$VENV/lib/$(basename "$(dirname "$sp")")/site-packages/zz-pdfqa-project-venv.pth"; break; fi
    done
    "$VENV/bin/pip" install -q -r "$REQ"
    touch "$VENV/.installed"
  fi
  "$VENV/bin/python" "$ROOT/bench/retrieval/llamaindex_baseline.py" "$PDFS" "$QUESTIONS" "$OUT/llamaindex"
fi

# --- score and print -----------------------------------------------------------
python3 - "$SCORER" "$QUESTIONS" "$OUT" <<'PY'
import json, os, subprocess, sys
scorer, questions, out = sys.argv[1:4]
rows = []
def add(name, summary, jsonl):
    if not os.path.exists(jsonl):
        return
    s = json.load(open(summary))
    r = json.loads(subprocess.check_output([sys.executable, scorer, questions, jsonl, "--json"]))
    rows.append((name, s, r))
ours = os.path.join(out, "ours")
for mode in ("hybrid", "keyword", "vector"):
    add("ours " + mode, os.path.join(ours, "summary.json"), os.path.join(ours, mode + ".jsonl"))
add("llamaindex (vector)", os.path.join(out, "llamaindex", "summary.json"), os.path.join(out, "llamaindex", "llamaindex.jsonl"))
fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
print(f"{'pipeline':<22} {'pages/s':>8} {'chunks':>7} {'fact@10':>8} {'token@10':>9} {'doc_hit@10':>10} {'search p50 ms':>13}")
for name, s, r in rows:
    print(f"{name:<22} {s['pages_per_second']:>8.1f} {s['chunks']:>7} {fmt(r['evidence_fact_recall@10']):>8} "
          f"{fmt(r['evidence_token_recall@10']):>9} {fmt(r['doc_hit@10']):>10} {r['latency_ms_p50']:>13}")
print("pages/s: end-to-end ingestion of all PDFs (ours: upload to READY incl. parse, chunk, embed, index;"
      " llamaindex: read + split + embed + index). Ours ingests once; the three modes share it.")
PY
