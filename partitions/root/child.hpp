// A child partition as the root's partition manager keeps it: its configuration (from the module
// command line), its memory, its devices, and the state of each of its VPs as the root's
// scheduler sees it. docs/root-partition.md, "Partition manager", describes the whole.
#pragma once
#include <stdint.h>

#include "hv/lib/spinlock.hpp"
#include "partitions/devices/debug_exit.hpp"
#include "partitions/devices/fw_cfg.hpp"
#include "partitions/root/serial.hpp"

namespace root {

inline constexpr uint32_t max_children = 8;
inline constexpr uint32_t max_child_vps = 16;
inline constexpr uint32_t max_deposits = 64;   // runs of deposit pages, each deposit_step long

// The module command line: `child name=NAME smp=N mem=MiB timeout=S args="..."`
// (docs/root-partition.md).
struct ChildConfig {
    char name[24] = "child";
    uint32_t smp = 1;
    uint32_t mem_mib = 32;
    uint32_t timeout_s = 0;   // the child is killed this long after it starts; 0: never
    char args[96] = "";
    bool testdev = false;     // offer the VMBus test device (partitions/abi/vmbus_testdev.hpp)
    uint32_t shutdown_s = 0;  // ask the child to shut down (VMBus shutdown channel) this long after it starts; 0: never
};
// False with `error` set when the line is not a child's or does not parse.
[[nodiscard]] bool parse_child_config(const char* cmdline, ChildConfig& out, const char*& error);

enum class VpRun : uint8_t {
    waiting,    // created, not started (an AP before its SIPI), or halted: waits for an interrupt
    runnable,   // the scheduler may dispatch it
    running,    // a root processor is dispatching it now
    done,       // its child ended
};

struct ChildVp {
    struct Child* child;
    uint32_t index;
    VpRun run;
    bool wake;      // signalled while it was running: do not let it block
    // It waits with nothing that could wake it but another VP: halted with interrupts off, or
    // never started (an AP before its SIPI). A child whose VPs all wait so has shut down.
    bool asleep_for_good;
};

enum class EndReason : uint8_t { none, debug_exit, shutdown, triple_fault, killed };

struct Child {
    ChildConfig config;
    uint64_t id = 0;                 // the hypervisor's partition id
    uint32_t slot = 0;               // its index among the root's children (echo service ids)
    uint64_t ram = 0;                // root address of the child's RAM (one contiguous run)
    uint64_t ram_pages = 0;
    uint64_t deposits[max_deposits] = {};   // root addresses of deposited runs
    uint32_t deposit_count = 0;
    uint32_t vp_count = 0;
    ChildVp vps[max_child_vps];
    devices::DebugExit debug_exit;
    devices::FwCfg fw_cfg{0, 1, 1};
    Com1 com1;
    EndReason end = EndReason::none;
    uint32_t end_code = 0;
    uint64_t deadline = 0;           // root TSC value at which the scheduler kills it; 0: none
    bool torn_down = false;
    uint8_t* disk = nullptr;         // root address of its disk module (`disk child=NAME`), if any
    uint64_t disk_bytes = 0;

    // Child guest-physical address to the root's pointer (the RAM is one run, mapped at GPA 0).
    [[nodiscard]] uint8_t* at(uint64_t gpa) const { return reinterpret_cast<uint8_t*>(ram + gpa); }
    [[nodiscard]] uint64_t ram_bytes() const { return ram_pages * 4096; }
};

// Creates and starts a child from a module; false (with a log line) when it cannot.
[[nodiscard]] bool build_child(Child& c, const uint8_t* image, uint64_t image_size);
// Deposits more pages after the hypervisor answered HV_STATUS_INSUFFICIENT_MEMORY.
[[nodiscard]] bool deposit_more(Child& c);
// Deletes the partition (the hypervisor gives its deposits back) and frees its pages.
void tear_down(Child& c);

} // namespace root
