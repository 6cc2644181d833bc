#!/usr/bin/env bash
# Fixed-step LoRA training on CUDA (bf16) with the worker; prints tokens/s, peak GPU memory
# and an MFU estimate. Offline; needs torch (CUDA), transformers (4.57+ or 5.x), peft,
# accelerate and the gguf package (or GGUF_PY=<llama.cpp>/gguf-py) in $PYTHON.
#   services/trainer/worker/gpu_check.sh BASE.gguf|HF_DIR [STEPS] [BATCH] [SEQ_LEN]
# HF_DIR may hold only config.json + tokenizer files: the weights are then randomly
# initialised (same shapes and FLOPs; for throughput only, the loss means nothing).
# Env: PYTHON (python3), OUT (scratch dir, default mktemp), PEAK_FLOPS (989e12: H100/H200
# dense bf16), QLORA=1 (4-bit base; needs bitsandbytes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
gguf="${1:?usage: gpu_check.sh BASE.gguf [STEPS] [BATCH] [SEQ_LEN]}"
steps="${2:-40}" batch="${3:-16}" seq="${4:-256}"
py="${PYTHON:-python3}"
out="${OUT:-$(mktemp -d)}/gpu-check"
peak="${PEAK_FLOPS:-989e12}"
mkdir -p "$out/ds"
# The repo's tiny dataset, repeated so batches are full (content does not matter for speed).
for _ in $(seq 1 32); do cat "$here/testdata/tiny.jsonl"; done >"$out/ds/train.jsonl"
head -4 "$here/testdata/tiny.jsonl" >"$out/ds/test.jsonl"
export PYTHONPATH="$here${GGUF_PY:+:$GGUF_PY}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
base_gguf="$(readlink -f "$gguf")"
if [[ -d "$gguf" ]]; then
  base_gguf=""
  "$py" - "$gguf" "$out/base" <<'PY'
import glob, os, shutil, sys
src, dst = sys.argv[1:]
shutil.rmtree(dst, ignore_errors=True)
shutil.copytree(src, dst)
if not glob.glob(os.path.join(dst, "*.safetensors")):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(dst)).save_pretrained(dst)
    print("random-initialised weights (throughput check only)")
open(os.path.join(dst, ".pdfqa-base-complete"), "w").close()
PY
fi
cat >"$out/job.json" <<JSON
{"base_gguf": "$base_gguf", "base_dir": "$out/base", "dataset_dir": "$out/ds",
 "output_dir": "$out/run", "device": "cuda", "max_steps": $steps, "batch_size": $batch,
 "max_seq_len": $seq, "checkpoint_every": 1000000, "qlora": $([[ -n "${QLORA:-}" ]] && echo true || echo false)}
JSON
"$py" - <<'PY'
import torch, transformers, peft
print(f"torch {torch.__version__} cuda {torch.version.cuda} transformers {transformers.__version__} peft {peft.__version__}")
assert torch.cuda.is_available(), "no CUDA device"
print("device", torch.cuda.get_device_name(0))
PY
"$py" -m pdfqa_trainer train --config "$out/job.json" | tee "$out/events.jsonl" | grep -E '"event":"(start|done|error|warning)"' || true
"$py" - "$out/events.jsonl" "$peak" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
done = [e for e in evs if e["event"] == "done"]
if not done:
    sys.exit("training did not finish: " + json.dumps(evs[-1] if evs else {}))
d = done[0]
prog = [e for e in evs if e["event"] == "progress"]
# Steady state: skip the first steps (CUDA warm-up, allocator growth).
tail = prog[len(prog) // 4:] or prog
secs = sum(e["step_seconds"] for e in tail)
toks = d["tokens_seen"] / max(1, len(prog)) * len(tail)
tps = toks / secs if secs else d["tokens_per_second"]
mfu = 6 * d["total_params"] * tps / float(sys.argv[2])
print(f"steps {d['step']}  final loss {d['loss']:.4f}")
print(f"tokens/s (steady) {tps:,.0f}   (whole run {d['tokens_per_second']:,.0f})")
print(f"peak GPU memory {d['peak_gpu_mb']:,.0f} MiB   peak RSS {d['peak_rss_mb']:,.0f} MiB")
print(f"MFU ~ {100 * mfu:.2f}%  (6 * {d['total_params']:,} params * tokens/s / {float(sys.argv[2]):.3g} FLOP/s; LoRA skips most weight-gradient FLOPs, so this overstates work done)")
PY
