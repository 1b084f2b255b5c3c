#include "partitions/root/loader.hpp"

#include "partitions/devices/acpi_builder.hpp"
#include "partitions/root/elf64_child.hpp"
#include "partitions/rt/page_alloc.hpp"
#include "partitions/rt/rt.hpp"

namespace root {
namespace {

// The child's memory as Multiboot's mmap types it (3.3): conventional memory, the BIOS-area
// gap that holds the ACPI tables, then everything from 1 MiB.
uint32_t memory_map(const Child& c, devices::GuestRange (&map)[3]) {
    map[0] = {0, child_low_end, devices::mmap_available};
    map[1] = {child_low_end, 0x100000 - child_low_end, devices::mmap_reserved};
    map[2] = {0x100000, c.ram_bytes() - 0x100000, devices::mmap_available};
    return 3;
}

bool perform(Child& c, const devices::LoadPlan& plan, const uint8_t* image, uint64_t image_size,
             const uint8_t* info) {
    for (size_t i = 0; i < plan.count; i++) {
        const devices::LoadCopy& k = plan.copies[i];
        if (k.dest + k.length + k.zero_length > c.ram_bytes())
            return false;
        const uint8_t* src = k.source == devices::CopySource::info ? info : image;
        if (k.source == devices::CopySource::kernel && k.offset + k.length > image_size)
            return false;
        if (k.source == devices::CopySource::module)
            return false;   // children get no modules (yet)
        __builtin_memcpy(c.at(k.dest), src + k.offset, k.length);
        __builtin_memset(c.at(k.dest + k.length), 0, k.zero_length);
    }
    return true;
}

devices::SegmentState flat_tr() { return {0, 0, 0x67, 0x8b}; }   // busy 32/64-bit TSS, present

} // namespace

bool load_image(Child& c, const uint8_t* image, uint64_t size, devices::EntryState& entry) {
    devices::GuestRange map[3];
    uint64_t info_buf = rt::pages::alloc_run(child_info_size / rt::pages::page_size);
    if (!info_buf)
        return false;
    devices::ChildRequest req;
    req.image.image = image;
    req.image.image_size = size;
    req.image.cmdline = c.config.args;
    req.image.memory = map;
    req.image.memory_count = memory_map(c, map);
    req.image.info_gpa = child_info_gpa;
    req.image.info = static_cast<uint8_t*>(rt::pages::ptr(info_buf));
    req.image.info_capacity = child_info_size;
    req.image.loader_name = "hv root partition";
    req.image.ignore_video_request = true;
    static devices::ChildPlan plan;   // large (two load plans): not on the stack; one loader at a time
    bool ok = false;
    if (devices::plan_child(req, plan) != devices::ChildError::ok) {
        rt::log("root: child %s: %s\n", c.config.name, devices::describe(plan));
    } else if (plan.kind == devices::ChildKind::multiboot1) {
        ok = perform(c, plan.multiboot1.load, image, size, req.image.info);
        entry = plan.multiboot1.entry;
    } else {
        ok = perform(c, plan.elf64.load, image, size, nullptr) && prepare_elf64(c, plan.elf64, entry);
    }
    rt::pages::free_run(info_buf, child_info_size / rt::pages::page_size);
    if (!ok)
        rt::log("root: child %s: the image does not fit its %u MiB\n", c.config.name, c.config.mem_mib);
    return ok;
}

bool build_firmware(Child& c) {
    uint32_t ids[max_child_vps];
    for (uint32_t i = 0; i < c.vp_count; i++)
        ids[i] = i;   // the hypervisor addresses a child's VPs by APIC id = VP index
    devices::AcpiConfig cfg;
    cfg.apic_ids = ids;
    cfg.cpu_count = c.vp_count;
    devices::AcpiLayout layout;
    auto err = devices::build_acpi(cfg, c.at(child_acpi_gpa), child_acpi_size, child_acpi_gpa, layout);
    if (err != devices::AcpiBuildError::ok) {
        rt::log("root: child %s: ACPI tables: %s\n", c.config.name, devices::describe(err));
        return false;
    }
    c.fw_cfg = devices::FwCfg(c.ram_bytes(), static_cast<uint16_t>(c.vp_count), static_cast<uint16_t>(c.vp_count));
    return true;
}

abi::InitialVpContext initial_context(const devices::EntryState& e) {
    auto seg = [](const devices::SegmentState& s) {
        auto ar = static_cast<uint16_t>((s.attributes & 0xff) | (s.attributes & 0xf00) << 4);
        return abi::SegmentRegister{s.base, s.limit, s.selector, ar};
    };
    abi::InitialVpContext x{};
    x.rip = e.rip;
    x.rsp = e.rsp;
    x.rflags = e.rflags | 2;
    x.cs = seg(e.cs);
    x.ds = x.es = x.fs = x.gs = x.ss = seg(e.data);
    x.tr = seg(flat_tr());
    x.ldtr = {0, 0xffff, 0, 0x82};   // an LDT, present: valid for VM entry (SDM 26.3.1.2)
    x.idtr.limit = 0x3ff;
    x.gdtr.limit = 0xffff;
    x.efer = e.efer;
    x.cr0 = e.cr0;
    x.cr3 = e.cr3;
    x.cr4 = e.cr4;
    x.msr_cr_pat = 0x0007040600070406ull;   // the power-on PAT (SDM vol 3 11.12.4)
    return x;
}

} // namespace root
