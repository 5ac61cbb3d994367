#!/usr/bin/env bash
# What a user gets from `meson install`: installs this build into a temporary DESTDIR
# and checks the tree (one public header, cltrain.pc, the versioned shared library and
# the static one, the two programs, their man pages, nothing from src/), then builds
# examples/train_predict.c against that tree alone with pkg-config (shared, and the
# static library with --static) and runs it on the sample set.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR DATA_DIR
set -u
BUILD=$1
SRC=$2
DATA=$3/catdog-mini
CC=${CC:-cc}
command -v pkg-config >/dev/null 2>&1 || { echo "SKIP: no pkg-config"; exit 77; }
command -v "$CC" >/dev/null 2>&1 || { echo "SKIP: no C compiler ($CC)"; exit 77; }
T=$(mktemp -d /tmp/cltrain-install-XXXXXX)
trap 'rm -rf "$T"' EXIT
R=$T/root
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }

if ! meson install -C "$BUILD" --destdir "$R" --no-rebuild --quiet >"$T/install.log" 2>&1; then
  echo "FAIL: meson install"
  cat "$T/install.log"
  exit 1
fi
one() { find "$R" -name "$1" "${@:2}" | head -1; }

# the tree
hdr=$(one cltrain.h -type f)
[ -n "$hdr" ] && ok || bad "no include/cltrain.h"
n_h=$(find "$R" -name '*.h' | wc -l)
[ "$n_h" -eq 1 ] && ok || { bad "$n_h headers installed (only cltrain.h is public):"; find "$R" -name '*.h'; }
pc=$(one cltrain.pc -type f)
[ -n "$pc" ] && ok || bad "no cltrain.pc"
so=$(one 'libcltrain.so.0.1.0' -type f)
[ -n "$so" ] && ok || bad "no libcltrain.so.0.1.0"
[ -L "$(dirname "${so:-/nonexistent}")/libcltrain.so.0" ] && ok || bad "no libcltrain.so.0 link"
if [ -n "$so" ]; then
  readelf -d "$so" 2>/dev/null | grep -q 'SONAME.*libcltrain\.so\.0\]' && ok || bad "soname is not libcltrain.so.0"
  # internal functions stay hidden: a public one is exported, an internal one is not
  nm -D --defined-only "$so" | grep -q ' ct_fit@' && ok || bad "ct_fit not exported"
  nm -D --defined-only "$so" | grep -q ' ct_model_train_step' && bad "internal ct_model_train_step exported" || ok
fi
[ -n "$(one libcltrain.a -type f)" ] && ok || bad "no libcltrain.a"
for p in cltrain cldevices; do
  exe=$(one "$p" -type f -perm -u+x)
  [ -n "$exe" ] && "$exe" --version | grep -q "0\.1\.0" && ok || bad "program $p missing or no --version"
  if command -v help2man >/dev/null 2>&1; then
    [ -n "$(one "$p.1" -type f -path '*man1*')" ] && ok || bad "no man page $p(1)"
  else
    echo "note: help2man not installed, man pages not checked"
  fi
done

# pkg-config against the destdir alone
[ -n "$pc" ] || { echo "install: $checks checks, $fails failed"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR=$R
export PKG_CONFIG_LIBDIR=$(dirname "$pc"):$(pkg-config --variable pc_path pkg-config)
flags=$(pkg-config --cflags --libs cltrain) && ok || bad "pkg-config --cflags --libs cltrain"
sflags=$(pkg-config --static --libs cltrain) && ok || bad "pkg-config --static --libs cltrain"
for l in -lcltrain -lOpenCL -lm; do
  case " $sflags " in *" $l "*) ok ;; *) bad "pkg-config --static --libs lacks $l: $sflags" ;; esac
done
libdir=$(dirname "$so")
# A sanitizer build's library needs the same runtime in the program that links it.
san=$(meson introspect --buildoptions "$BUILD" 2>/dev/null | python3 -c '
import json, sys
print(next((o["value"] for o in json.load(sys.stdin) if o["name"] == "b_sanitize"), "none"))' 2>/dev/null)
SAN=()
[ -n "$san" ] && [ "$san" != none ] && SAN=(-fsanitize="$san")
# -I"$R/..." only: no build tree and no source tree on the include path
if "$CC" -std=c11 -Wall -Wextra -Werror "${SAN[@]}" "$SRC/examples/train_predict.c" $flags -o "$T/train_predict" \
  2>"$T/cc.txt"; then ok; else bad "example does not build against the installed tree:"; cat "$T/cc.txt"; fi
cflags=$(pkg-config --cflags cltrain)
if "$CC" -std=c11 "${SAN[@]}" "$SRC/examples/train_predict.c" $cflags "$libdir/libcltrain.a" \
  $(pkg-config --static --libs cltrain | sed 's/-lcltrain//') -o "$T/train_predict_static" 2>"$T/cc2.txt"; then
  ok
else
  bad "example does not link statically with pkg-config --static:"
  cat "$T/cc2.txt"
fi

# run it (needs a device)
if ! "$BUILD/tools/cldevices" --json 2>/dev/null | grep -q '"id"'; then
  echo "SKIP: no OpenCL device (install checks: $checks, failed: $fails)"
  [ $fails -eq 0 ] && exit 77 || exit 1
fi
if [ -x "$T/train_predict" ]; then
  LD_LIBRARY_PATH=$libdir "$T/train_predict" "$DATA" >"$T/out.txt" 2>"$T/err.txt"
  rc=$?
  [ $rc -eq 0 ] && ok || { bad "train_predict exited $rc"; cat "$T/err.txt"; }
  [ ! -s "$T/err.txt" ] && ok || { bad "the library printed on stderr unasked:"; cat "$T/err.txt"; }
  [ "$(wc -l <"$T/out.txt")" -eq 1 ] && ok || { bad "expected one line of output:"; cat "$T/out.txt"; }
  read -r file cls prob <"$T/out.txt"
  [ -f "${file:-}" ] && ok || bad "first field '${file:-}' is not a file"
  case "${cls:-}" in cats | dogs) ok ;; *) bad "class '${cls:-}' is not cats or dogs" ;; esac
  awk -v p="${prob:-x}" 'BEGIN { exit !(p ~ /^[0-9.]+([eE][-+]?[0-9]+)?$/ && p >= 0 && p <= 1) }' \
    && ok || bad "probability '${prob:-}' not in [0, 1]"
  first=$(LC_ALL=C ls "$DATA/test/$(LC_ALL=C ls "$DATA/test" | head -1)" | head -1)
  [ "$(basename "${file:-}")" = "$first" ] && ok || bad "predicted '${file:-}', not the first test image $first"
fi
echo "install: $checks checks, $fails failed"
[ $fails -eq 0 ]
