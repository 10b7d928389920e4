#!/usr/bin/env bash
# Install Debian's headless Chromium and its driver for the site tests, if missing.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
    echo "error: the site tests need Chromium; install it: apt-get install chromium chromium-driver" >&2
    exit 1
  fi
fi
echo "installing chromium and chromium-driver (Debian packages) for the site tests"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
