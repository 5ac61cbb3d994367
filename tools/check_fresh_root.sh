#!/usr/bin/env bash
# Does the README's quick start work on a fresh machine? Builds a clean Debian 12
# (bookworm) root with debootstrap (from the mirror this machine's apt sources use), empties
# its package lists, puts a clean clone of this repository (its committed HEAD) and
# ../shared/data beside it, and runs the README's two quick-start commands inside it
# (chroot with /proc, /sys and /dev mounted; unmounted again on any exit):
#     tools/quickstart.sh     then     tools/run_tests.sh
# Needs root and network access to the mirror. Prints each stage's time and ends with
#     fresh root: quickstart rc=N, run_tests rc=N ("tests: ..." line), T s
# Usage: tools/check_fresh_root.sh [--quickstart-only] [WORKDIR]   (default /var/tmp/cltrain-fresh)
# The debootstrapped base is kept in WORKDIR/base and copied for every run (delete
# WORKDIR to start from the mirror again); WORKDIR/root is the run's root, WORKDIR/log.txt
# its full output. Run it at low priority: nice -n 19 tools/check_fresh_root.sh
set -eu
only_quick=0
if [ "${1:-}" = "--quickstart-only" ]; then only_quick=1; shift; fi
work=${1:-/var/tmp/cltrain-fresh}
repo=$(cd "$(dirname "$0")/.." && pwd)
suite=bookworm
[ "$(id -u)" -eq 0 ] || { echo "check_fresh_root: needs root (debootstrap, chroot, mount)" >&2; exit 2; }
t_all=$SECONDS
stage() { echo "=== $1 ($((SECONDS - t_all)) s so far)"; }

# The mirror: the first Debian URI of this machine's apt sources (deb822 .sources or
# one-line .list), else deb.debian.org.
mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
         sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/*$/\1/p' | head -n 1)
[ -n "$mirror" ] || mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
         sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\/debian\)\/*[[:space:]].*/\2/p' |
         head -n 1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
echo "check_fresh_root: Debian $suite from $mirror into $work"

if ! command -v debootstrap >/dev/null; then
  stage "installing debootstrap"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null; }
fi

root=$work/root
mounted=()
cleanup() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" 2>/dev/null || true
  done
  mounted=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mnt() { # fstype-or-bind, source, target
  mkdir -p "$3"
  if [ "$1" = bind ]; then mount --bind "$2" "$3"; else mount -t "$1" "$2" "$3"; fi
  mounted+=("$3")
}

mkdir -p "$work"
# never copy over a root that still has something mounted (an earlier run killed hard)
if grep -q " $root/" /proc/mounts; then
  echo "check_fresh_root: $root still has mounts (see /proc/mounts); unmount them first" >&2
  exit 1
fi
if [ ! -x "$work/base/bin/bash" ]; then
  stage "debootstrap $suite (minbase)"
  rm -rf "$work/base.partial"
  debootstrap --variant=minbase "$suite" "$work/base.partial" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log"; exit 1; }
  mv "$work/base.partial" "$work/base"
fi
stage "a fresh copy of the base root, package lists emptied"
rm -rf "$root"
cp -a "$work/base" "$root"
rm -rf "$root/var/lib/apt/lists" "$root/var/cache/apt/"*.bin
mkdir -p "$root/var/lib/apt/lists/partial"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true

stage "clean clone of $repo (HEAD $(git -C "$repo" rev-parse --short HEAD)) and shared/data"
mkdir -p "$root/work"
git clone -q --no-hardlinks "$repo" "$root/work/cltrain"
if [ -d "$repo/../shared/data" ]; then
  mkdir -p "$root/work/shared"
  cp -a "$repo/../shared/data" "$root/work/shared/data"
fi

mnt proc proc "$root/proc"
mnt sysfs sysfs "$root/sys"
mnt bind /dev "$root/dev"
mnt devpts devpts "$root/dev/pts"

in_root() { # runs "$1" in the root's repository as root with a clean environment
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 TERM=dumb /bin/bash -c "cd /work/cltrain && $1"
}
log=$work/log.txt
: >"$log"
stage "tools/quickstart.sh (installs packages, builds, trains)"
t0=$SECONDS
set +e
in_root "tools/quickstart.sh" 2>&1 | tee -a "$log" | grep -E "^(install_deps|Epoch [0-9]+/|Test:|Model written|History|Plot|cltrain )|error:|ERROR"
q_rc=${PIPESTATUS[0]}
set -e
echo "quickstart: rc=$q_rc in $((SECONDS - t0)) s"
t_rc=skipped
t_line=""
if [ "$only_quick" -eq 0 ]; then
  stage "tools/run_tests.sh (the whole suite)"
  t0=$SECONDS
  set +e
  in_root "tools/run_tests.sh" >>"$log" 2>&1
  t_rc=$?
  set -e
  grep -E "^ *[0-9]+/[0-9]+ .*(FAIL|TIMEOUT|ERROR)" "$log" | head -n 20 || true
  t_line=$(grep -E "^tests: " "$log" | tail -n 1)
  echo "run_tests: rc=$t_rc in $((SECONDS - t0)) s: $t_line"
fi
cleanup
echo "fresh root: quickstart rc=$q_rc, run_tests rc=$t_rc (${t_line:-no summary}), $((SECONDS - t_all)) s; log: $log"
[ "$q_rc" -eq 0 ] && { [ "$t_rc" = skipped ] || [ "$t_rc" -eq 0 ]; }
