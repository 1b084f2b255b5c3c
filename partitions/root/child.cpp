// A child's life from the root's side (docs/child-partitions.md, "Lifecycle"): CreatePartition,
// deposits, InitializePartition, its RAM mapped at GPA 0, the image, the firmware tables and
// devices, the intercepts, the VPs, StartVp of VP 0; and at the end DeletePartition.
#include "partitions/root/child.hpp"

#include "partitions/root/calls.hpp"
#include "partitions/root/echo.hpp"
#include "partitions/root/loader.hpp"
#include "partitions/root/vmbus_host.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

namespace pages = rt::pages;
constexpr uint32_t deposit_step = 64;   // pages per deposit: a VP takes 3, 32 MiB of RAM ~20 tables
constexpr int max_retries = max_deposits;

bool fail(const Child& c, const char* what, Status s) {
    rt::log("root: child %s: %s failed with status 0x%x\n", c.config.name, what, rt::hc::code(s));
    return false;
}

// Runs `f` until it stops asking for memory (TLFS: HV_STATUS_INSUFFICIENT_MEMORY means
// "deposit more and call again").
template <class F> Status with_memory(Child& c, F f) {
    Status s = f();
    for (int i = 0; s == Status::insufficient_memory && i < max_retries && deposit_more(c); i++)
        s = f();
    return s;
}

} // namespace

bool deposit_more(Child& c) {
    if (c.deposit_count == max_deposits)
        return false;
    uint64_t run = pages::alloc_run(deposit_step);
    if (!run)
        return false;
    uint64_t list[deposit_step];
    for (uint32_t i = 0; i < deposit_step; i++)
        list[i] = run + i * pages::page_size;
    if (Status s = deposit(c.id, list, deposit_step); !rt::hc::ok(s)) {
        pages::free_run(run, deposit_step);   // nothing of it was taken: the call failed as a whole
        return fail(c, "DepositMemory", s);
    }
    c.deposits[c.deposit_count++] = run;
    return true;
}

bool build_child(Child& c, const uint8_t* image, uint64_t image_size) {
    c.com1.set_name(c.config.name);
    c.vp_count = c.config.smp;
    c.ram_pages = uint64_t{c.config.mem_mib} << 8;
    c.ram = pages::alloc_run(c.ram_pages);
    if (!c.ram) {
        rt::log("root: child %s: no %u MiB run of free memory\n", c.config.name, c.config.mem_mib);
        return false;
    }
    if (Status s = create_partition(c.id); !rt::hc::ok(s))
        return fail(c, "CreatePartition", s);
    if (!deposit_more(c))
        return false;
    if (Status s = with_memory(c, [&] { return initialize_partition(c.id); }); !rt::hc::ok(s))
        return fail(c, "InitializePartition", s);
    constexpr uint32_t rwx = abi::map_flag::readable | abi::map_flag::writable | abi::map_flag::executable;
    for (uint64_t mapped = 0; mapped < c.ram_pages;) {
        uint64_t done = 0;
        Status s = map_gpa(c.id, mapped * pages::page_size, c.ram + mapped * pages::page_size, c.ram_pages - mapped,
                           rwx, done);
        mapped += done;
        if (s == Status::insufficient_memory && deposit_more(c))
            continue;
        if (!rt::hc::ok(s))
            return fail(c, "MapGpaPages", s);
    }
    devices::EntryState entry{};
    if (!load_image(c, image, image_size, entry) || !build_firmware(c))
        return false;
    const uint16_t ports[] = {0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff,
                              0xf4,  0xf5,  0xf6,  0xf7,  devices::FwCfg::selector_port, devices::FwCfg::data_port};
    for (uint16_t port : ports)
        if (Status s = with_memory(c, [&] { return install_io_intercept(c.id, port); }); !rt::hc::ok(s))
            return fail(c, "InstallIntercept", s);
    for (uint32_t i = 0; i < c.vp_count; i++) {
        c.vps[i] = ChildVp{&c, i, VpRun::waiting, false, true};
        if (Status s = with_memory(c, [&] { return create_vp(c.id, i); }); !rt::hc::ok(s))
            return fail(c, "CreateVp", s);
    }
    // Before the child runs, so its first post finds the connection (partitions/abi/echo.hpp).
    // A child runs without the echo service if the hypervisor refuses it (offer logs why).
    static_cast<void>(echo::offer(c, c.slot));
    static_cast<void>(vmbus_host::offer(c, c.slot));   // the same for VMBus (vmbus_host.hpp)
    if (Status s = with_memory(c, [&] { return start_vp(c.id, 0, initial_context(entry)); }); !rt::hc::ok(s))
        return fail(c, "StartVp", s);
    // After StartVp, which loads the context: the registers a loader hands over beyond it
    // (Multiboot 3.2: EAX magic, EBX information; our ELF64 handoff: RDI, RSI).
    const RegisterPair regs[] = {{abi::RegisterName::rax, entry.rax}, {abi::RegisterName::rbx, entry.rbx},
                                 {abi::RegisterName::rsi, entry.rsi}, {abi::RegisterName::rdi, entry.rdi}};
    if (Status s = set_registers(c.id, 0, regs, 4); !rt::hc::ok(s))
        return fail(c, "SetVpRegisters", s);
    c.vps[0].run = VpRun::runnable;
    rt::log("root: child %s started: partition %lu, %u VPs, %u MiB, %u deposit pages\n", c.config.name, c.id,
            c.vp_count, c.config.mem_mib, c.deposit_count * deposit_step);
    return true;
}

void tear_down(Child& c) {
    echo::forget(c.slot);
    vmbus_host::forget(c.slot);   // before the child's RAM, which its channels' rings are in, is freed
    if (c.id) {
        if (Status s = delete_partition(c.id); !rt::hc::ok(s)) {
            // The hypervisor still holds the pages: leak them rather than reuse them.
            fail(c, "DeletePartition", s);
            return;
        }
    }
    // No page carries this child's data to the next user: the hypervisor scrubbed what it held
    // for the child, and pages::alloc_run clears every run it hands out.
    for (uint32_t i = 0; i < c.deposit_count; i++)
        pages::free_run(c.deposits[i], deposit_step);
    if (c.ram)
        pages::free_run(c.ram, c.ram_pages);
    c.deposit_count = 0;
    c.ram = 0;
    c.id = 0;
}

} // namespace root
