# Portable device and loader models used by the root partition (partitions/devices), compiled
# into partition images and into the host tests in tests/devices. Paths relative to the root.
set(DEVICES_PORTABLE_SOURCES
  partitions/devices/acpi_builder.cpp
  partitions/devices/child_image.cpp
  partitions/devices/debug_exit.cpp
  partitions/devices/fw_cfg.cpp
  partitions/devices/multiboot1.cpp
  partitions/elf.cpp   # multiboot1 and child_image parse ELF; also in HV_PORTABLE_SOURCES (hv.elf)
  partitions/devices/decode_zydis.cpp
  partitions/devices/x86_emulate.cpp
)
