#!/usr/bin/env bash
# Installs the Debian packages pdfqa needs (build tools, OCR, etcd for the
# multi-process tests, promtool from prometheus for the rule tests in
# deploy/prometheus, docker-compose for the compose check in deploy/compose,
# chromium and a font for the web UI's browser test, jq for the docs'
# examples) when they are missing. Needs root (or sudo).
set -euo pipefail
pkgs=(cmake ninja-build build-essential tesseract-ocr tesseract-ocr-eng etcd-server etcd-client prometheus docker-compose chromium fonts-dejavu-core jq)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
