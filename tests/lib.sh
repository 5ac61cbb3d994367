# Shared by the end-to-end test scripts (sourced): the device check and the pass/fail
# counters. Usage: . "$(dirname "$0")/lib.sh"; ct_need_device "$CLD"
ct_need_device() { # CLDEVICES: exit 77 (skipped) when there is no OpenCL device
  if ! "$1" --json | grep -q '"id"'; then
    echo "SKIP: no OpenCL device"
    exit 77
  fi
}
fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
