#!/bin/sh
# Builds the libFuzzer targets into build-fuzz/ (docs/FUZZING.md): every src/ file once with
# clang -fsanitize=fuzzer-no-link,address,undefined into build-fuzz/libcltrain_fuzz.a, then
# each target linked against it with -fsanitize=fuzzer. No OpenCL device is needed (the
# library links -lOpenCL, the parsers never call it).
# Usage: tools/fuzz_build.sh [target ...]   (default: all; CC=clang-15 to pick a clang)
set -eu
cd "$(dirname "$0")/.."
CC=${CC:-clang}
OUT=build-fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-g -O1 -std=c11 -D_GNU_SOURCE -DCL_TARGET_OPENCL_VERSION=120 -Iinclude -Isrc $SAN"
LIBS="$(pkg-config --libs libturbojpeg libpng libcjson OpenCL 2>/dev/null || echo -lturbojpeg -lpng -lcjson -lOpenCL) -lclblast -lpthread -lm"
TARGETS=${*:-"decode model ckpt_state spec tune"}
mkdir -p $OUT/obj

# the library: src/meson.build's list, plus the embedded kernels
SRCS=$(sed -n "/^lib_sources = files(/,/^)/p" src/meson.build | grep -o "'[a-z_/]*\.c'" | tr -d "'" | sort -u)
python3 tools/embed_cl.py $OUT/kernels_embedded.c cl/selfcheck.cl cl/conv.cl cl/gemm.cl \
  cl/pool.cl cl/act.cl cl/dropout.cl cl/loss.cl cl/adam.cl cl/optim.cl
objs=""
for s in $SRCS kernels_embedded.c; do
  src=src/$s; [ "$s" = kernels_embedded.c ] && src=$OUT/$s
  o=$OUT/obj/$(echo "$s" | tr / _ | sed 's/\.c$/.o/')
  if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find src include -name '*.h' -newer "$o" | head -1)" ]; then
    $CC $CFLAGS -fsanitize=fuzzer-no-link -c "$src" -o "$o"
  fi
  objs="$objs $o"
done
rm -f $OUT/libcltrain_fuzz.a
ar rcs $OUT/libcltrain_fuzz.a $objs

for t in $TARGETS; do
  $CC $CFLAGS -fsanitize=fuzzer tools/fuzz_$t.c $OUT/libcltrain_fuzz.a $LIBS -o $OUT/fuzz_$t
  echo "built $OUT/fuzz_$t"
done
