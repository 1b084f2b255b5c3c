# Sources of pure logic that build both into hv.elf (freestanding) and into the host unit tests.
# Paths relative to the project root.
set(HV_PORTABLE_SOURCES
  boot/multiboot2.cpp
  boot/pvh.cpp
  hv/acpi/acpi.cpp
  hv/memory/frame_allocator.cpp
  hv/memory/heap.cpp
  hv/memory/memory_map.cpp
  hv/cmdline.cpp
  hv/lib/format.cpp
  hv/virt/cpuid_policy.cpp
  hv/virt/uart.cpp
  hypercalls/control.cpp
  partitions/elf.cpp
  partitions/region_list.cpp
  partitions/page_ledger.cpp
  hv/virt/guest_walk.cpp
  hv/virt/lapic_regs.cpp
)
