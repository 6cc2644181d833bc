#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (a real S3-compatible server) from its Go module
# at the pinned version into $PDFQA_CACHE/seaweedfs/<version>/weed, once per
# version, and prints PDFQA_WEED=<path>. The blob store's S3 tests
# (platform/blobstore) start it through platform/s3test: they find it through
# PDFQA_WEED or this same cache path, and fail when it is missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/common.sh"

command -v go >/dev/null 2>&1 || die "go not found"
root="$PDFQA_CACHE/seaweedfs/$SEAWEEDFS_VERSION"
if [[ ! -f "$root/.complete" ]]; then
  log "building SeaweedFS weed $SEAWEEDFS_VERSION from its Go module (once; several minutes)"
  tmp="$(mktemp -d "$PDFQA_CACHE/seaweedfs.tmp.XXXXXX")"
  # `go install mod@version` refuses a module whose go.mod has replace
  # directives (SeaweedFS's has one), so the module is fetched through the
  # module proxy and built as the main module, outside any workspace.
  src="$(cd "$tmp" && GOWORK=off go mod download -json "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" \
    | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" \
    || { rm -rf "$tmp"; die "go mod download of SeaweedFS $SEAWEEDFS_VERSION failed"; }
  ( cd "$src" && GOWORK=off CGO_ENABLED=0 nice -n 19 go build -trimpath -o "$tmp/weed" ./weed >&2 ) \
    || { rm -rf "$tmp"; die "go build of SeaweedFS $SEAWEEDFS_VERSION failed"; }
  "$tmp/weed" version >/dev/null || { rm -rf "$tmp"; die "the built weed does not run"; }
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  mv "$tmp" "$root"
  touch "$root/.complete"
fi
echo "PDFQA_WEED=$root/weed"
