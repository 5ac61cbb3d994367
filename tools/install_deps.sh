#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages cltrain needs to build, test and run on the CPU
# (PoCL). Only missing packages are installed. Uses sudo when not root.
# Works on a fresh container whose package lists are empty: the lists are fetched first
# when a package is missing (nothing here asks apt-cache before that).
set -eu
# libturbojpeg0-dev is the TurboJPEG API the build uses (Debian and Ubuntu name it alike);
# help2man makes the man pages from --help; protobuf-c-compiler, libprotobuf-c-dev and
# libonnx-dev (its onnx.proto) build `cltrain export` (ONNX; optional, -Donnx=auto);
# openmpi-bin and libopenmpi-dev build and run `mpirun -np N cltrain train` (MPI; optional,
# -Dmpi=auto; docs/SCALING.md).
pkgs="meson ninja-build pkg-config gcc python3 ocl-icd-opencl-dev opencl-headers ocl-icd-libopencl1
      libclblast-dev libturbojpeg0-dev libpng-dev libcjson-dev libcairo2-dev pocl-opencl-icd help2man
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev openmpi-bin libopenmpi-dev"
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
