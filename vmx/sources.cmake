# Intel VT-x backend, built into hv.elf (the top-level CMakeLists adds VMX_IMAGE_SOURCES).
# VMX_PORTABLE_SOURCES are pure and also build into tests/backend/vmx.
set(VMX_PORTABLE_SOURCES
  ${PROJECT_SOURCE_DIR}/vmx/bitmaps.cpp
  ${PROJECT_SOURCE_DIR}/vmx/exit_decode.cpp
  ${PROJECT_SOURCE_DIR}/vmx/guest_check.cpp
  ${PROJECT_SOURCE_DIR}/vmx/vmcs.cpp
)
set(VMX_IMAGE_SOURCES
  ${VMX_PORTABLE_SOURCES}
  ${PROJECT_SOURCE_DIR}/vmx/entry.S
  ${PROJECT_SOURCE_DIR}/vmx/vmx.cpp
  ${PROJECT_SOURCE_DIR}/vmx/vcpu.cpp
  ${PROJECT_SOURCE_DIR}/vmx/vcpu_setup.cpp
  ${PROJECT_SOURCE_DIR}/vmx/vcpu_state.cpp
  ${PROJECT_SOURCE_DIR}/vmx/smoke.cpp
  ${PROJECT_SOURCE_DIR}/vmx/smoke_env.cpp
  ${PROJECT_SOURCE_DIR}/vmx/smoke_guest.S
)
