#!/usr/bin/env bash
# The GPU checks, for a lent CUDA machine with no network (see
# scripts/device/README.md). Two steps, because one call may carry only
# 64 MiB: the model travels in two halves.
#   prepare (here):  scripts/device/gpu-check.sh prepare   -> .gpu/{llama-src.tar.xz,model.part-aa,model.part-ab}
#   step 1 (there):  scripts/device/gpu-check.sh build     CUDA build of llama-server (sm_90)
#   step 2 (there):  scripts/device/gpu-check.sh run       engine generation bench + trainer CUDA check
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/setup/versions.env
step=${1:?prepare|build|run}
out=${OUT:-/tmp/gpu-out}
mkdir -p .gpu "$out"
cache=${PDFQA_CACHE:-$HOME/.cache/pdfqa}

case $step in
prepare)
  tree="$cache/src/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION/vendor"
  tar -C "$tree" -cJf .gpu/llama-src.tar.xz --exclude='llama.cpp/docs' --exclude='llama.cpp/models' \
    --exclude='llama.cpp/media' --exclude='llama.cpp/benches' llama.cpp
  split -b 50M "$cache/models/$LLM_GGUF_NAME" .gpu/model.part-
  ls -la .gpu
  ;;
build)
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
  rm -rf /tmp/llsrc && mkdir -p /tmp/llsrc && tar -C /tmp/llsrc -xJf .gpu/llama-src.tar.xz
  t0=$(date +%s)
  cmake -S /tmp/llsrc/llama.cpp -B /tmp/llbuild -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    ${PDFQA_CUDA_FAST:+-DGGML_CUDA_FA=OFF} \
    > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
  timeout "${PDFQA_BUILD_TIMEOUT:-3000}" cmake --build /tmp/llbuild --target llama-server -j "$(nproc)" > "$out/build.log" 2>&1 \
    || { tail -20 "$out/build.log"; grep -c "Building" "$out/build.log" || true; exit 1; }
  /tmp/llbuild/bin/llama-server --version 2>&1 | tee "$out/version.txt" || true
  t1=$(date +%s)
  mkdir -p .gpu/bin && cp /tmp/llbuild/bin/llama-server .gpu/bin/
  echo "cuda engine build: $((t1 - t0)) s on $(nproc) cores" | tee "$out/build-time.txt"
  ls -la .gpu/bin/llama-server
  ;;
run)
  cat .gpu/model.part-* > /tmp/model.gguf
  echo "$LLM_GGUF_SHA256  /tmp/model.gguf" | sha256sum -c - | tee "$out/model-check.txt"
  bin=.gpu/bin/llama-server
  # Engine: all layers on the GPU, 4 slots, side by side with the same binary on CPU only.
  for mode in gpu cpu; do
    ngl=99; [ $mode = cpu ] && ngl=0
    $bin -m /tmp/model.gguf --host 127.0.0.1 --port 18181 -c 8192 -np 4 -ngl $ngl --no-webui > "$out/server-$mode.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do curl -fs 127.0.0.1:18181/health >/dev/null 2>&1 && break; sleep 0.5; done
    python3 scripts/device/engine_bench.py --url http://127.0.0.1:18181 --label "$mode" --tokens 256 | tee -a "$out/engine-bench.md"
    grep -m1 -i "offloaded\|CUDA0 model buffer" "$out/server-$mode.log" | tee -a "$out/engine-bench.md" || true
    kill $pid; wait $pid 2>/dev/null || true
  done
  # Trainer: the worker's CUDA path (bf16; QLoRA when bitsandbytes is there).
  if [ -x services/trainer/worker/gpu_check.sh ]; then
    services/trainer/worker/gpu_check.sh /tmp/model.gguf 2>&1 | tee "$out/trainer-gpu.txt"
  fi
  ;;
esac
