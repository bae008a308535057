#!/usr/bin/env bash
# Installs the Debian packages Converge needs, only those missing.
# Usage: .ci/deps.sh [extra-package ...]
# `make test` and `make sanitize` add chromium (the status page test renders
# the page in headless Chromium); building and running need only this list.
set -euo pipefail
pkgs=(cmake ninja-build g++ pkg-config
      librocksdb-dev libasio-dev libcereal-dev libspdlog-dev libfmt-dev
      libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libtomlplusplus-dev
      libssl-dev openssl libcpp-httplib-dev libhiredis-dev redis-tools libjemalloc-dev
      nlohmann-json3-dev "$@")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
