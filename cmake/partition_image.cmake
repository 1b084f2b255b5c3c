# add_partition_image(): freestanding 64-bit kernels on the partition runtime (partitions/rt):
# the root kernel, guest test suites, and later child images. Included from the top level so
# every directory can use it.
set(PARTITION_RT_SOURCES
  ${PROJECT_SOURCE_DIR}/partitions/rt/entry.S
  ${PROJECT_SOURCE_DIR}/partitions/rt/isr.S
  ${PROJECT_SOURCE_DIR}/partitions/rt/trampoline.S
  ${PROJECT_SOURCE_DIR}/partitions/rt/rt.cpp
  ${PROJECT_SOURCE_DIR}/partitions/rt/smp.cpp
  ${PROJECT_SOURCE_DIR}/hv/lib/format.cpp
  ${PROJECT_SOURCE_DIR}/hv/lib/string.cpp
)

# add_partition_image(<target> <output path> <sources...>)
function(add_partition_image target output)
  add_executable(${target} ${ARGN} ${PARTITION_RT_SOURCES})
  target_include_directories(${target} PRIVATE ${PROJECT_SOURCE_DIR})
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:${HV_FREESTANDING_FLAGS} ${HV_WARNINGS} -fno-omit-frame-pointer>
    $<$<COMPILE_LANGUAGE:ASM>:-fno-pic>)
  target_link_options(${target} PRIVATE -nostdlib -static -no-pie -Wl,--build-id=none
    -Wl,--no-warn-rwx-segments -Wl,-z,max-page-size=0x1000
    -Wl,-T,${PROJECT_SOURCE_DIR}/partitions/rt/partition.ld)
  target_link_libraries(${target} PRIVATE gcc)
  get_filename_component(dir ${output} DIRECTORY)
  get_filename_component(name ${output} NAME)
  set_target_properties(${target} PROPERTIES OUTPUT_NAME ${name} RUNTIME_OUTPUT_DIRECTORY ${dir}
    LINK_DEPENDS ${PROJECT_SOURCE_DIR}/partitions/rt/partition.ld)
  add_dependencies(images ${target})
endfunction()

