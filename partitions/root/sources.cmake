# The root partition's kernel: the partition manager (partitions/root), the runtime's hypercall
# client and page allocator, the device models and loaders (cmake/devices_sources.cmake) and the
# freestanding Zydis decoder they use for MMIO emulation.
set(ROOT_KERNEL_SOURCES
  ${PROJECT_SOURCE_DIR}/partitions/root/main.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/calls.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/child.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/config.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/loader.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/elf64_child.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/intercepts.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/scheduler.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/serial.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/signals.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/echo.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/vmbus_host.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/vmbus_console.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/vmbus_testdev.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/vmbus_ic.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/vmbus_storage.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/irq.cpp
  ${PROJECT_SOURCE_DIR}/partitions/root/irq.S
  ${PROJECT_SOURCE_DIR}/partitions/rt/hypercall.cpp
  ${PROJECT_SOURCE_DIR}/partitions/rt/page_alloc.cpp
)
list(TRANSFORM DEVICES_PORTABLE_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/ OUTPUT_VARIABLE ROOT_DEVICE_SOURCES)
# The VMBus server (vmbus_host.cpp) runs on the portable core.
include(${PROJECT_SOURCE_DIR}/vmbus/sources.cmake)
list(TRANSFORM VMBUS_PORTABLE_SOURCES PREPEND ${PROJECT_SOURCE_DIR}/ OUTPUT_VARIABLE ROOT_VMBUS_SOURCES)
add_partition_image(root_kernel ${CMAKE_BINARY_DIR}/partitions/root/root.elf
  ${ROOT_KERNEL_SOURCES} ${ROOT_DEVICE_SOURCES} ${ROOT_VMBUS_SOURCES})
target_link_libraries(root_kernel PRIVATE zydis_freestanding)
