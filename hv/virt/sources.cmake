# Vendor-neutral virtualization layer, built into hv.elf.
set(VIRT_IMAGE_SOURCES
  ${PROJECT_SOURCE_DIR}/hv/virt/intercept.cpp
)
