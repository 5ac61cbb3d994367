#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages cltrain needs to build, test and run on the CPU
# (PoCL). Only missing packages are installed. Uses sudo when not root.
set -eu
pkgs="meson ninja-build pkg-config gcc python3 ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1
      libclblast-dev libturbojpeg0-dev libjpeg62-turbo-dev libpng-dev libcjson-dev pocl-opencl-icd"
# Ubuntu names libjpeg-turbo's dev package libjpeg-turbo8-dev.
if ! apt-cache show libjpeg62-turbo-dev >/dev/null 2>&1; then
  pkgs=${pkgs/libjpeg62-turbo-dev/libjpeg-turbo8-dev}
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install_deps: all packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "install_deps: installing$missing"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
