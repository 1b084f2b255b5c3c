// The root partition's kernel: for now it brings up its processors the way an operating system
// does (INIT-SIPI-SIPI, which the hypervisor turns into root VP starts) and reports. It will host
// the virtualization stack: partition management, device emulation and VMBus services.
#include "partitions/rt/rt.hpp"

int rt::partition_main(const root_abi::RootHandoff& h) {
    rt::log("root: started, %u processors offered, %u memory regions, %u modules, tsc %lu kHz\n",
            h.processor_count, h.region_count, h.module_count, h.tsc_khz);
    uint32_t n = rt::start_aps(h);
    rt::log("root: online processors=%u\n", n);
    rt::log("root: no child partitions to run; stopping\n");
    return 0;
}

void rt::ap_main(uint32_t) {}
