// The root partition's kernel: it brings up its processors the way an operating system does
// (INIT-SIPI-SIPI, which the hypervisor turns into root VP starts) and then acts as the partition
// manager: every module whose command line starts with `child` becomes a child partition,
// whose VPs every root processor dispatches until all children have ended
// (docs/root-partition.md, "Partition manager").
#include "partitions/root/child.hpp"
#include "partitions/root/irq.hpp"
#include "partitions/root/scheduler.hpp"
#include "partitions/root/signals.hpp"
#include "partitions/root/vmbus_host.hpp"
#include "partitions/rt/hypercall.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace {

root::Child children[root::max_children];
volatile bool manager_ready;

bool starts(const char* s, const char* prefix) {
    for (; *prefix; s++, prefix++)
        if (*s != *prefix)
            return false;
    return true;
}

// The disk module for child `name`: command line `disk child=NAME` (docs/root-partition.md); its
// bytes become the child's synthetic disk (vmbus_storage.hpp), written in place.
const root_abi::Module* disk_for(const root_abi::RootHandoff& h, const char* name) {
    for (uint32_t i = 0; i < h.module_count && i < root_abi::kMaxModules; i++) {
        const char* p = h.modules[i].cmdline;
        if (!starts(p, "disk child="))
            continue;
        p += 11;
        const char* q = name;
        while (*q && *p == *q)
            p++, q++;
        if (!*q && (!*p || *p == ' '))
            return &h.modules[i];
    }
    return nullptr;
}

// Builds a child from each `child ...` module; returns how many were started.
uint32_t start_children(const root_abi::RootHandoff& h) {
    uint32_t n = 0;
    bool broken = false;
    for (uint32_t i = 0; i < h.module_count && i < root_abi::kMaxModules; i++) {
        const root_abi::Module& m = h.modules[i];
        if (starts(m.cmdline, "disk "))
            continue;   // a child's disk, attached below
        if (n == root::max_children) {
            rt::log("root: more than %u children: module %u (\"%s\") left out\n", root::max_children, i, m.cmdline);
            broken = true;
            continue;
        }
        root::Child& c = children[n];
        c.slot = n;
        const char* error;
        if (!root::parse_child_config(m.cmdline, c.config, error)) {
            rt::log("root: module %u (\"%s\"): %s\n", i, m.cmdline, error);
            broken = true;
            continue;
        }
        if (const root_abi::Module* d = disk_for(h, c.config.name)) {
            c.disk = reinterpret_cast<uint8_t*>(d->base);
            c.disk_bytes = d->length;
        }
        if (!root::build_child(c, reinterpret_cast<const uint8_t*>(m.base), m.length)) {
            rt::log("root: child %s ended killed code=0\n", c.config.name);
            root::tear_down(c);
            broken = true;
            continue;
        }
        root::sched_add(c);
        n++;
    }
    return broken ? n | 0x80000000u : n;
}

} // namespace

int rt::partition_main(const root_abi::RootHandoff& h) {
    rt::log("root: started, %u processors offered, %u memory regions, %u modules, tsc %lu kHz\n",
            h.processor_count, h.region_count, h.module_count, h.tsc_khz);
    rt::pages::init(h);
    bool interface = rt::hc::init(h);
    rt::hc::init_cpu(0);
    root::irq::init_bsp();
    uint32_t online = rt::start_aps(h);
    rt::log("root: online processors=%u\n", online);
    root::vmbus_host::allow_poll_mode(online > 1);
    if (h.module_count == 0) {
        rt::log("root: no child partitions to run; stopping\n");
        return 0;
    }
    if (!interface) {
        rt::log("root: the hypercall interface did not enable; cannot manage partitions\n");
        return 1;
    }
    if (!root::signals::init()) {
        rt::log("root: the SynIC refused the scheduler's message page; cannot wake child VPs\n");
        return 1;
    }
    rt::log("root: partition manager: %lu MiB free for children\n", rt::pages::free_count() >> 8);
    uint32_t started = start_children(h);
    bool broken = started & 0x80000000u;
    if ((started & 0x7fffffffu) == 0)
        return 1;
    __atomic_store_n(&manager_ready, true, __ATOMIC_RELEASE);
    root::irq::start_this_cpu();
    int code = root::run_processor(0);
    asm volatile("cli");
    rt::log("root: all children ended; exit %d\n", broken ? 1 : code);
    return broken ? 1 : code;
}

void rt::ap_main(uint32_t index) {
    rt::hc::init_cpu(index);
    while (!__atomic_load_n(&manager_ready, __ATOMIC_ACQUIRE))
        asm volatile("pause");
    root::irq::start_this_cpu();
    root::run_processor(index);
}
