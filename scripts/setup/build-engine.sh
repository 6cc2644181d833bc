#!/usr/bin/env bash
# Builds llama-server from the llama.cpp tree vendored in the pinned
# llama-cpp-python sdist and installs it into
#   $PDFQA_CACHE/engine/<ver>-<cpu|cuda>/bin/llama-server
# Idempotent (stamp file), non-interactive, CI-safe.
#
# Env:
#   PDFQA_CACHE                 cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/pdfqa)
#   PDFQA_ENGINE_VARIANT        cpu|cuda (default: cuda when nvcc is on PATH, else cpu)
#   CMAKE_CUDA_ARCHITECTURES    for cuda builds (default: native)
#   PDFQA_ENGINE_NATIVE         ON|OFF: -march=native for the CPU backend (default ON)
#   PDFQA_BUILD_JOBS            parallel jobs (default $(nproc))
#   PDFQA_ENGINE_CMAKE_ARGS     extra cmake -D options (space separated), e.g. for a
#                               portable build: "-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
#   PDFQA_ENGINE_FORCE=1        rebuild even if the stamp exists
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

variant="${PDFQA_ENGINE_VARIANT:-}"
if [[ -z "$variant" ]]; then
  if command -v nvcc >/dev/null 2>&1; then variant=cuda; else variant=cpu; fi
fi
case "$variant" in cpu|cuda) ;; *) die "PDFQA_ENGINE_VARIANT must be cpu or cuda, got $variant";; esac

prefix="$PDFQA_CACHE/engine/$LLAMA_CPP_PYTHON_VERSION-$variant"
stamp="$prefix/.built"
bin="$prefix/bin/llama-server"
if [[ -f "$stamp" && -x "$bin" && "${PDFQA_ENGINE_FORCE:-0}" != 1 ]]; then
  log "engine already built: $bin"
  echo "$bin"
  exit 0
fi

command -v cmake >/dev/null 2>&1 || die "cmake not found (apt-get install cmake)"
command -v c++ >/dev/null 2>&1 || die "a C++ compiler is required (apt-get install g++)"

src="$(llama_src)"
build="$PDFQA_CACHE/src/build-$LLAMA_CPP_PYTHON_VERSION-$variant"
jobs="${PDFQA_BUILD_JOBS:-$(nproc)}"

gen=()
if command -v ninja >/dev/null 2>&1; then gen=(-G Ninja); fi

args=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_CURL=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_APP=OFF
  # The sdist ships the web UI sources but no built assets (tools/ui/dist);
  # do not run npm and do not download the prebuilt UI: serve the API only.
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
  -DGGML_NATIVE="${PDFQA_ENGINE_NATIVE:-ON}"
)
if [[ -n "${PDFQA_ENGINE_CMAKE_ARGS:-}" ]]; then
  read -r -a extra <<<"$PDFQA_ENGINE_CMAKE_ARGS"
  args+=("${extra[@]}")
fi
if [[ "$variant" == cuda ]]; then
  args+=(-DGGML_CUDA=ON "-DCMAKE_CUDA_ARCHITECTURES=${CMAKE_CUDA_ARCHITECTURES:-native}")
fi

log "configuring llama-server ($variant) in $build"
start=$(date +%s)
cmake -S "$src" -B "$build" "${gen[@]}" "${args[@]}" >"$build.configure.log" 2>&1 \
  || { tail -50 "$build.configure.log" >&2; die "cmake configure failed (log: $build.configure.log)"; }
log "building llama-server with $jobs jobs"
cmake --build "$build" --config Release --target llama-server -j "$jobs" >"$build.build.log" 2>&1 \
  || { tail -50 "$build.build.log" >&2; die "build failed (log: $build.build.log)"; }
end=$(date +%s)

rm -rf "$prefix"
mkdir -p "$prefix/bin" "$prefix/lib"
cp "$build/bin/llama-server" "$bin"
# Copy any non-system shared library it still links (none expected with a static build).
while read -r lib; do
  [[ -n "$lib" ]] && cp -L "$lib" "$prefix/lib/"
done < <(ldd "$bin" | awk '/=> \// {print $3}' | grep -F "$build" || true)
cp "$src/LICENSE" "$prefix/LICENSE.llama.cpp"
"$bin" --version >"$prefix/version.txt" 2>&1 || true
secs=$((end - start))
printf 'variant=%s\nversion=%s\nbuild_seconds=%s\nbuilt_at=%s\n' \
  "$variant" "$LLAMA_CPP_PYTHON_VERSION" "$secs" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$stamp"
log "built llama-server ($variant) in ${secs}s: $bin ($(du -h "$bin" | cut -f1))"
echo "$bin"
