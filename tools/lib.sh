# Shared by tools/*: where things are, and building the images.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${HV_BUILD_DIR:-$root/build}

configure() {
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >"${TMPDIR:-/tmp}/hv-configure.log" 2>&1 ||
      { cat "${TMPDIR:-/tmp}/hv-configure.log" >&2; return 1; }
  fi
}

# Build what booting needs (the hypervisor, partition and guest-suite images), quietly unless it fails.
build_images() {
  configure || return 1
  local log
  log=$(mktemp)
  if ! cmake --build "$build" -j"$(nproc)" --target images >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# Does this machine's KVM offer nested VT-x or AMD-V? (HARNESS: /dev/kvm may exist but be unusable.)
kvm_usable() {
  [ -w /dev/kvm ] || return 1
  local f
  for f in /sys/module/kvm_intel/parameters/nested /sys/module/kvm_amd/parameters/nested; do
    if [ -r "$f" ] && grep -qE '^(Y|1)$' "$f"; then
      grep -qE '\b(vmx|svm)\b' /proc/cpuinfo && return 0
    fi
  done
  return 1
}
