# Shared by the end-to-end test scripts (sourced): the device check and the pass/fail
# counters. Usage: . "$(dirname "$0")/lib.sh"; ct_need_device "$CLD"
ct_need_device() { # CLDEVICES: exit 77 (skipped) when there is no OpenCL device
  if ! "$1" --json | grep -q '"id"'; then
    echo "SKIP: no OpenCL device"
    exit 77
  fi
}
ct_asan_build() { # CLTRAIN: true for an AddressSanitizer build (it cannot run under ulimit -v)
  [ -n "${ASAN_OPTIONS:-}" ] || ldd "$1" 2>/dev/null | grep -q libasan
}
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }

# expect_fail NAME PATTERN CMD...: a non-zero exit that is not a crash (> 128), and stderr
# matches PATTERN (extended regex, any case). expect_early: the same, and nothing was
# decoded (the refusal came before the data was read). Both use $T for the outputs.
ct_refusal() { # NAME PATTERN CMD...: runs CMD; why="" when it was the expected refusal
  local name=$1 pat=$2
  shift 2
  "$@" >"$T/out.txt" 2>"$T/err.txt"
  local rc=$?
  why=""
  if [ $rc -eq 0 ]; then why="$name: exit 0, expected an error"
  elif [ $rc -gt 128 ]; then why="$name: crashed (exit $rc)"
  elif ! grep -qiE -- "$pat" "$T/err.txt"; then why="$name: message does not mention '$pat':"
  fi
}
expect_fail() {
  ct_refusal "$@"
  if [ -z "$why" ]; then ok; else bad "$why"; cat "$T/err.txt"; fi
}
expect_early() {
  ct_refusal "$@"
  if [ -z "$why" ] && grep -q "Decoded" "$T/out.txt" "$T/err.txt"; then
    why="$1: refused only after decoding the images"
  fi
  if [ -z "$why" ]; then ok; else bad "$why"; cat "$T/err.txt"; fi
}
