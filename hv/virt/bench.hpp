// The bare round trip that tools/bench divides every exit figure by (docs/performance.md): on the
// calling processor, a tiny guest `1: vmcall/vmmcall; jmp 1b` is entered and left over and over
// through the backend's Vcpu, and the handler only steps over the call: no dispatch, no policy,
// no event preparation. Run with the `bench` command-line option, in the same boot as the root's
// measurements, so both are taken on the same emulator under the same load.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace hv::virt {

inline constexpr uint32_t bench_batches = 15, bench_per_batch = 2000;

// Median of n samples (n >= 1); sorts them in place. Pure, unit-tested on the host.
inline uint64_t median_of(uint64_t* v, size_t n) {
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Measures and prints `bench: bare-loop backend=<name> cycles=<median> batches=<n> per=<m>` (or
// one `bench: bare-loop failed: ...` line). Call after Vendor::enable_this_cpu() on this
// processor. It leaves a few pages allocated: the option is for benchmark runs only.
template <class Vendor> void bench_bare_loop();

} // namespace hv::virt
