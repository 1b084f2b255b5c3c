# build/hv.iso: a GRUB 2 rescue image that boots hv.elf with Multiboot2. tools/mkiso is the one
# place that knows the grub.cfg layout; tools/run uses it too, to add root and child modules.
add_dependencies(images hv.elf)
find_program(GRUB_MKRESCUE grub-mkrescue)
if(GRUB_MKRESCUE)
  add_custom_command(
    OUTPUT ${CMAKE_BINARY_DIR}/hv.iso
    COMMAND ${PROJECT_SOURCE_DIR}/tools/mkiso --out ${CMAKE_BINARY_DIR}/hv.iso
            --hv $<TARGET_FILE:hv.elf> --args "on_stop=exit"
    DEPENDS hv.elf ${PROJECT_SOURCE_DIR}/tools/mkiso
    COMMENT "GRUB rescue image hv.iso")
  add_custom_target(hv_iso ALL DEPENDS ${CMAKE_BINARY_DIR}/hv.iso)
  add_dependencies(images hv_iso)
else()
  message(WARNING "grub-mkrescue not found: run tools/setup; hv.iso will not be built")
endif()
