#!/usr/bin/env bash
# Retrieval benchmark: our retrieval engine (bench/retrieval/cmd/searcheval)
# against a default LlamaIndex pipeline (bench/retrieval/llamaindex_baseline.py)
# on the same PDFs and questions, scored by score_qa.py, printed side by side,
# overall and per question type (Question Type x Source Chunk Type columns of
# the questions CSV, when it has them).
#
#   bench/retrieval/run.sh [PDF_DIR] [QUESTIONS.csv]
#
# Ours runs twice: with the static vectors a document has at READY (hybrid,
# keyword, vector), and with the contextual vectors the background refinement
# gives it afterwards ("refined": -refine: static vectors at READY, then the
# contextual refinement in the background, searched once it has finished).
#
# Environment: OUT (results folder, default a temp dir), PDFQA_CACHE (default
# ~/.cache/pdfqa: llama-server, models, the bench venv), PDFQA_SHARED (the
# shared folder, default ../shared beside the repository, whatever the working
# directory), SCORER (default PDFQA_SHARED/tools/score_qa.py),
# SKIP_LLAMAINDEX=1, SKIP_REFINED=1, WORKERS (ingestion workers for ours,
# default nproc).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# The shared folder beside the repository (as platform/testenv finds it).
SHARED=${PDFQA_SHARED:-$(dirname "$ROOT")/shared}
PDFS=${1:-$SHARED/data/dev/earnings-calls}
QUESTIONS=${2:-$PDFS/qna_data.csv}
SCORER=${SCORER:-$SHARED/tools/score_qa.py}
for need in "$PDFS" "$QUESTIONS" "$SCORER"; do
  [ -e "$need" ] || { echo "run.sh: $need is missing (pass PDF_DIR and QUESTIONS.csv, or set PDFQA_SHARED / SCORER)" >&2; exit 1; }
done
OUT=${OUT:-$(mktemp -d -t retrieval-bench.XXXXXX)}
CACHE=${PDFQA_CACHE:-$HOME/.cache/pdfqa}
WORKERS=${WORKERS:-$(nproc)}
mkdir -p "$OUT"
echo "results in $OUT" >&2

# --- ours: hybrid, keyword and vector search over one ingestion ---------------
(cd "$ROOT" && go build -o "$OUT/searcheval" ./bench/retrieval/cmd/searcheval)
"$OUT/searcheval" -pdfs "$PDFS" -questions "$QUESTIONS" -out "$OUT/ours" -workers "$WORKERS" -cache "$CACHE"
if [ "${SKIP_REFINED:-0}" != 1 ]; then
  "$OUT/searcheval" -pdfs "$PDFS" -questions "$QUESTIONS" -out "$OUT/refined" -workers "$WORKERS" -cache "$CACHE" \
    -refine -modes hybrid,vector
fi

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
import csv, json, os, subprocess, sys, tempfile
scorer, questions, out = sys.argv[1:4]
score = lambda qs, jsonl: json.loads(subprocess.check_output([sys.executable, scorer, qs, jsonl, "--json"]))
runs = []
def add(name, summary, jsonl):
    if os.path.exists(jsonl):
        runs.append((name, json.load(open(summary)), jsonl))
for d, label in (("ours", "ours"), ("refined", "ours refined")):
    for mode in ("hybrid", "keyword", "vector"):
        add(f"{label} {mode}", os.path.join(out, d, "summary.json"), os.path.join(out, d, mode + ".jsonl"))
add("llamaindex (vector)", os.path.join(out, "llamaindex", "summary.json"), os.path.join(out, "llamaindex", "llamaindex.jsonl"))
fmt = lambda v: "n/a" if v is None else f"{v:.4f}"
print(f"{'pipeline':<22} {'pages/s':>8} {'chunks':>7} {'fact@10':>8} {'token@10':>9} {'doc_hit@10':>10} {'search p50 ms':>13}")
for name, s, jsonl in runs:
    r = score(questions, jsonl)
    print(f"{name:<22} {s['pages_per_second']:>8.1f} {s['chunks']:>7} {fmt(r['evidence_fact_recall@10']):>8} "
          f"{fmt(r['evidence_token_recall@10']):>9} {fmt(r['doc_hit@10']):>10} {r['latency_ms_p50']:>13}")
print("pages/s: end-to-end ingestion of all PDFs (ours: upload to READY incl. parse, chunk, embed, index;"
      " llamaindex: read + split + embed + index). 'ours refined' ingests with the contextual model, the vectors"
      " the background refinement gives every document after READY.")
rows = list(csv.DictReader(open(questions, encoding="utf-8")))
if rows and "Question Type" in rows[0]:
    types = sorted({(r["Question Type"], r.get("Source Chunk Type", "")) for r in rows})
    tmp = tempfile.mkdtemp()
    names = [n for n, _, _ in runs]
    print()
    print("evidence fact recall@10 by question type (questions whose reference holds numbers)")
    print(f"{'type':<40} {'n':>3} " + " ".join(f"{n[:20]:>20}" for n in names))
    for qt, ct in types:
        sub = [r for r in rows if r["Question Type"] == qt and r.get("Source Chunk Type", "") == ct]
        p = os.path.join(tmp, "q.csv")
        with open(p, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(sub)
        vals = [score(p, jsonl)["evidence_fact_recall@10"] for _, _, jsonl in runs]
        print(f"{(qt + ' / ' + ct)[:40]:<40} {len(sub):>3} " + " ".join(f"{fmt(v):>20}" for v in vals))
PY
