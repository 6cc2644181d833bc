# shellcheck shell=bash
# Shared helpers for scripts/setup/*.sh. Source, do not execute.
SETUP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SETUP_DIR/../.." && pwd)"
# shellcheck source=versions.env
. "$SETUP_DIR/versions.env"

PDFQA_CACHE="${PDFQA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pdfqa}"
export PDFQA_CACHE
mkdir -p "$PDFQA_CACHE"/{downloads,src,engine,models,venv}

export PIP_DISABLE_PIP_VERSION_CHECK=1
export PIP_NO_INPUT=1

log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

PYTHON="${PDFQA_PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for c in python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1; then PYTHON="$(command -v "$c")"; break; fi
  done
fi
[[ -n "$PYTHON" ]] || die "python3 not found"

sha256_of() { sha256sum "$1" | awk '{print $1}'; }

# verify_sha256 FILE EXPECTED: fails (and removes nothing) on mismatch.
verify_sha256() {
  local f="$1" want="$2" got
  got="$(sha256_of "$f")"
  if [[ "$want" == "PENDING" || -z "$want" ]]; then
    log "WARNING: no pinned sha256 for $(basename "$f"); got $got (pin it in versions.env)"
    return 0
  fi
  [[ "$got" == "$want" ]] || die "sha256 mismatch for $f: got $got want $want"
}

# pip_fetch SPEC FILENAME SHA256 [extra pip args...]: downloads one artifact into
# $PDFQA_CACHE/downloads (no deps), reusing it when present and verified.
pip_fetch() {
  local spec="$1" name="$2" sum="$3"; shift 3
  local dest="$PDFQA_CACHE/downloads/$name"
  if [[ -f "$dest" ]] && [[ "$(sha256_of "$dest")" == "$sum" ]]; then
    echo "$dest"; return 0
  fi
  local tmp; tmp="$(mktemp -d "$PDFQA_CACHE/downloads/.tmp.XXXXXX")"
  log "downloading $spec"
  "$PYTHON" -m pip download --no-deps --quiet "$@" -d "$tmp" "$spec" >&2 \
    || { rm -rf "$tmp"; die "pip download $spec failed"; }
  [[ -f "$tmp/$name" ]] || { ls -la "$tmp" >&2; rm -rf "$tmp"; die "expected $name from pip download"; }
  verify_sha256 "$tmp/$name" "$sum"
  mv -f "$tmp/$name" "$dest"
  rm -rf "$tmp"
  echo "$dest"
}

# llama_src: path of the extracted vendored llama.cpp tree (extracting it if needed).
llama_src() {
  local root="$PDFQA_CACHE/src/llama-cpp-python-$LLAMA_CPP_PYTHON_VERSION"
  if [[ ! -f "$root/.extracted" ]]; then
    local sdist
    # --no-binary for this package only: build deps (scikit-build-core) come as wheels.
    sdist="$(pip_fetch "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" "$LLAMA_CPP_PYTHON_SDIST" \
      "$LLAMA_CPP_PYTHON_SDIST_SHA256" --no-binary llama-cpp-python)"
    log "extracting $(basename "$sdist")"
    rm -rf "$root" "$root.tmp"
    mkdir -p "$root.tmp"
    tar -xzf "$sdist" -C "$root.tmp" --strip-components=1
    mv "$root.tmp" "$root"
    touch "$root/.extracted"
  fi
  [[ -f "$root/vendor/llama.cpp/CMakeLists.txt" ]] || die "no vendored llama.cpp in $root"
  echo "$root/vendor/llama.cpp"
}

# ensure_req_venv KIND LABEL REQS: ensures the venv of requirements file REQS
# exists under $PDFQA_CACHE/venv-KIND, keyed by the hash of REQS; prints its
# path. LABEL names it in the log.
ensure_req_venv() {
  local kind="$1" label="$2" reqs="$3" reqhash venv
  reqhash="$(sha256_of "$reqs" | cut -c1-16)"
  venv="$PDFQA_CACHE/venv-$kind/$reqhash"
  if [[ ! -f "$venv/.complete" ]]; then
    log "creating $label venv $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet -r "$reqs" >&2
    touch "$venv/.complete"
  fi
  echo "$venv"
}
