# Vendor-neutral virtualization layer, built into hv.elf.
set(VIRT_IMAGE_SOURCES
  ${PROJECT_SOURCE_DIR}/hv/virt/intercept.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/suites.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/vp_runtime.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/apic_virt.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/policy.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/synthetic_time.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/synic.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/vtimer.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/lapic.cpp
  # The children's xAPIC page is decoded with the root's instruction emulator (Zydis).
  ${PROJECT_SOURCE_DIR}/partitions/devices/x86_emulate.cpp
  ${PROJECT_SOURCE_DIR}/partitions/devices/decode_zydis.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/root_layout.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/root.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/guest_memory.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/children.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/child_vp.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/vendor_svm.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/vendor_vmx.cpp
  ${PROJECT_SOURCE_DIR}/hv/virt/bench.cpp
)
